"""A disk cache of loss-law fits: the same points, options and fitting code give the same
:class:`~scaling.fit.laws.LawResult`, so it is read back instead of refitted.

``predict``, ``--suggest`` and ``backtest`` fit the same recipes of the same store on every call (a 4,500-start search and a 200-resample bootstrap per law); with the cache only
the first call pays. The key hashes the points (N, D, L and the run of each point), every
option of :func:`~scaling.fit.laws.fit_law`, and the source of the modules that compute the
fit, so a change of data, option or code is a miss. Entries are ``.npz`` files (no pickles)
under ``$SCALING_CACHE/fits``; a damaged or unreadable entry is a miss, a cache that cannot be
written only makes the next call slower. Below the law fits, the batched Levenberg–Marquardt
solves themselves are cached the same way (:func:`memo_lm`, ``$SCALING_CACHE/lm``), which also
serves fits that have no result cache of their own (the joint multi-recipe law).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import forms, laws, optim
from .solve_cache import enable, enabled, memo_lm, prune

__all__ = ["enable", "enabled", "fit_law_cached", "load", "memo_lm", "save"]

#: Entries kept: past this many, the older half is removed.
MAX_ENTRIES = 4000

def _code_fingerprint() -> bytes:
    h = hashlib.sha256()
    for mod in (forms, laws, optim):
        h.update(Path(mod.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.digest()


def fit_key(N, D, L, runs, form: str, bootstrap: int, seed: int, level: float,
            delta: float, starts=None) -> str:
    """Hash of everything :func:`~scaling.fit.laws.fit_law` depends on."""
    h = hashlib.sha256(_code_fingerprint())
    D = np.asarray(D, float).ravel()
    N = np.ones_like(D) if N is None else np.asarray(N, float).ravel()
    for a in (N, D, np.asarray(L, float).ravel()):
        h.update(a.tobytes() + b"|")
    h.update("\0".join(map(str, np.asarray(runs).ravel())).encode() if runs is not None
             else b"<none>")
    h.update(repr((form, int(bootstrap or 0), int(seed), float(level), float(delta))).encode())
    if starts is not None:
        h.update(b"starts|" + np.ascontiguousarray(starts, float).tobytes())
    return h.hexdigest()[:40]


def _root() -> Path:
    from ..paths import cache_root

    return cache_root() / "fits"


def fit_law_cached(N, D, L, runs=None, form: str = "chinchilla", bootstrap: int = 0,
                   seed: int = 0, level: float = 0.9, delta: float = optim.HUBER_DELTA,
                   starts=None) -> laws.LawResult:
    """:func:`~scaling.fit.laws.fit_law`, read from the cache when the same fit was done."""
    key = fit_key(N, D, L, runs, form, bootstrap, seed, level, delta, starts)
    path = _root() / f"{key}.npz"
    hit = load(path)
    if hit is not None:
        return hit
    res = laws.fit_law(N, D, L, runs=runs, form=form, bootstrap=bootstrap, seed=seed,
                       level=level, delta=delta, starts=starts)
    save(res, path)
    return res


def save(res: laws.LawResult, path: Path) -> None:
    """Write ``res`` to ``path`` (atomically; errors are swallowed: the cache is optional)."""
    names = list(res.names)
    meta = {"form": res.form, "n_points": int(res.n_points), "n_runs": int(res.n_runs),
            "level": float(res.level), "objective": float(res.objective),
            "warnings": list(res.warnings), "meta": res.meta,
            "has_boot": res.samples_natural is not None, "has_cov": res.cov is not None}
    pts = res.points
    arrays = {
        "meta": np.array(json.dumps(meta)),
        "theta": np.asarray(res.theta, float),
        "params": np.asarray(res.estimates, float),
        "correlation": np.asarray(res.corr, float),
        "bootstrap": (res.samples_natural if res.samples_natural is not None
                      else np.zeros((0, len(names)))),
        "cov": res.cov if res.cov is not None else np.zeros((0, 0)),
        "data_run": np.asarray(pts["run"]).astype(str),
        "data_num": np.stack([pts[k] for k in ("params", "tokens", "loss")], axis=1),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
        prune(path.parent, MAX_ENTRIES)
    except (OSError, TypeError, ValueError):
        return


def load(path: Path) -> laws.LawResult | None:
    """The fit stored at ``path`` (None when there is none or it cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        meta = json.loads(str(a["meta"]))
        num = a["data_num"]
        points = {"run": a["data_run"], "params": num[:, 0], "tokens": num[:, 1],
                  "loss": num[:, 2]}
        return laws.LawResult(
            form=meta["form"], theta=a["theta"], estimates=a["params"],
            objective=meta["objective"], n_points=meta["n_points"], n_runs=meta["n_runs"],
            level=meta["level"], corr=a["correlation"], warnings=list(meta["warnings"]),
            samples_natural=a["bootstrap"] if meta["has_boot"] else None,
            cov=a["cov"] if meta["has_cov"] else None, points=points, meta=dict(meta["meta"]))
    except FileNotFoundError:
        return None
    except Exception:  # a damaged entry is a miss, never an error
        return None


