"""The switch of the prediction layer's disk caches, and the cache of batched LM solves.

Inside :func:`enable` (the ``predict``, ``--suggest``, ``backtest`` and ``report`` commands) the
batched Levenberg–Marquardt solves of :func:`scaling.fit.optim.batch_lm_chunked` are read back
from ``$SCALING_CACHE/lm`` when the same solve was done before, and law fits from
``$SCALING_CACHE/fits`` (:mod:`scaling.fit.cache`). This module sits below both the solver and
the law fits, so neither imports the other through it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from ..paths import cache_root

_ENABLED = contextvars.ContextVar("scaling_fit_cache", default=False)


def enabled() -> bool:
    """Whether fits read and write the disk caches by default (inside :func:`enable`: the
    prediction layer's commands)."""
    return _ENABLED.get()


@contextlib.contextmanager
def enable():
    """Within this block, law fits and LM solves go through the caches."""
    token = _ENABLED.set(True)
    try:
        yield
    finally:
        _ENABLED.reset(token)


#: Entries of the LM-solve cache kept (a 4,500-start screen's result is ~200 kB).
MAX_LM_ENTRIES = 1000


def _hash_value(h, v) -> None:
    if isinstance(v, np.ndarray):
        h.update(repr((v.dtype.str, v.shape)).encode() + np.ascontiguousarray(v).tobytes())
    elif isinstance(v, list | tuple):
        h.update(f"<{type(v).__name__} {len(v)}>".encode())
        for x in v:
            _hash_value(h, x)
    else:
        h.update(repr(v).encode())
    h.update(b"|")


def _structure_fingerprint(h, form) -> None:
    """A form name, or a structure object by its class, its module's source and every
    attribute (arrays by content): what decides its residuals and normal equations."""
    if isinstance(form, str):
        h.update(form.encode() + b"|")
        return
    import inspect

    cls = type(form)
    h.update(f"{cls.__module__}.{cls.__qualname__}|".encode())
    h.update(Path(inspect.getsourcefile(cls)).read_bytes())
    for k, v in sorted(vars(form).items()):
        h.update(k.encode() + b"=")
        _hash_value(h, v)


def memo_lm(solve, form, theta0, X, logL, bounds, weights, kw, *, source: bytes, salt=None):
    """``solve(form, theta0, X, logL, bounds, weights, kw)`` (the batched LM of
    :func:`scaling.fit.optim.batch_lm_chunked`), read back from ``$SCALING_CACHE/lm`` when
    the same solve was done: the key hashes the solver's ``source``, the structure, every
    input array, the options and ``salt`` (what else the solver's result depends on)."""
    h = hashlib.sha256(source)
    _structure_fingerprint(h, form)
    for a in (theta0, X, logL, bounds, weights):
        _hash_value(h, None if a is None else np.asarray(a))
    _hash_value(h, sorted(kw.items()))
    _hash_value(h, salt)
    path = cache_root() / "lm" / f"{h.hexdigest()[:40]}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["theta"], z["f"], z["converged"]
    except Exception:  # no entry, or a damaged one: solve
        pass
    out = solve(form, theta0, X, logL, bounds, weights, kw)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, theta=out[0], f=out[1], converged=out[2])
        os.replace(tmp, path)
        prune(path.parent, MAX_LM_ENTRIES)
    except (OSError, ValueError):
        pass
    return out


def prune(root: Path, keep: int) -> None:
    """Past ``keep`` entries in ``root``, remove the older half."""
    entries = [e for e in os.scandir(root) if e.name.endswith(".npz")
               and not e.name.startswith(".")]
    if len(entries) <= keep:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for e in entries[:len(entries) // 2]:
        Path(e.path).unlink(missing_ok=True)
