"""The run store: one directory per run, and the one reader of such directories.

Layout (DESIGN.md, "Run directory")::

    <root>/<grid>/<run_id>/
      config.json      resolved run configuration, written before step 0 (run_id = hash of it)
      metrics.jsonl    one JSON object per line: {"step","tokens","kind","name","value", ...};
                       append-only, every append fsync'd
      ckpt/step_<n>.pt model + optimizer + RNG + data position, written atomically (tmp + rename)
      DONE | FAILED    marker file holding the reason; a run with neither is "incomplete"

Writers use :class:`RunWriter`; everything that reads runs goes through :func:`load_runs`,
which returns a tidy long frame (one row per logged value) and a run table. Failed,
incomplete and corrupt runs are reported in the run table and left out of the frame unless
asked for; a truncated last line of ``metrics.jsonl`` (a crash mid-write) is dropped with a
warning and is not fatal.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ScalingError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CKPT_DIR = "ckpt"
DONE = "DONE"
FAILED = "FAILED"

#: ``kind`` values a metrics record may carry.
KINDS = ("train_loss", "val_loss", "skill", "throughput")
#: Columns of the tidy frame, in order (extra record keys follow as further columns).
FRAME_COLUMNS = [
    "run_id", "grid", "recipe", "n_params", "n_params_total", "seed",
    "step", "tokens", "kind", "name", "value",
]
#: Columns of the run table.
RUN_COLUMNS = [
    "run_id", "grid", "recipe", "n_params", "n_params_total", "seed",
    "status", "reason", "tokens", "n_records", "warnings", "path",
]
STATUSES = ("done", "failed", "incomplete")


class StoreError(ScalingError):
    """A run directory cannot be used as asked (bad config, mismatching config, ...)."""


class ConfigMismatch(StoreError):
    """A run directory already holds a different configuration."""

    def __init__(self, path: Path, differing: dict[str, tuple[Any, Any]]):
        self.path = path
        self.differing = differing
        keys = ", ".join(
            f"{k} (stored {a!r}, requested {b!r})" for k, a, b in
            ((k, *v) for k, v in sorted(differing.items()))
        )
        super().__init__(
            f"{path} already holds a run with a different config; differing keys: {keys}. "
            "Use another --out, or delete the directory to start over."
        )


# --------------------------------------------------------------------------- hashing


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def config_hash(config: Mapping[str, Any], length: int = 10) -> str:
    """Short, stable hash of a configuration (keys ``run_id`` and ``out`` are ignored)."""
    body = {k: v for k, v in config.items() if k not in ("run_id", "out")}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()[:length]


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def diff_configs(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys (dotted for nested mappings) whose values differ between two configs."""
    fa, fb = _flatten(json.loads(canonical_json(a))), _flatten(json.loads(canonical_json(b)))
    return {k: (fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys())
            if fa.get(k) != fb.get(k)}


# --------------------------------------------------------------------------- atomic I/O


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through a temporary file and a rename, fsync'd."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------- writer


def _clean_value(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else (float("inf") if v > 0 else float("-inf"))
    return v


def metrics_line(record: Mapping[str, Any]) -> str:
    """One ``metrics.jsonl`` line (compact JSON, non-finite values cleaned)."""
    return json.dumps({k: _clean_value(v) for k, v in record.items()},
                      separators=(",", ":"), default=_json_default)


class RunWriter:
    """Writes one run directory.

    Parameters
    ----------
    path : path
        The run directory (created if needed). Use :meth:`in_grid` to place a run at
        ``<grid>/<run_id>``.
    config : mapping
        The resolved, JSON-serialisable run configuration. ``run_id`` defaults to
        :func:`config_hash` of it. It is written to ``config.json`` at construction, i.e.
        before step 0. If the directory already holds a config, it must be the same one
        (resuming); otherwise :class:`ConfigMismatch` names the differing keys.
    run_id : str, optional
        Override the hash (used when importing runs that already have names).
    """

    def __init__(self, path: str | os.PathLike, config: Mapping[str, Any],
                 run_id: str | None = None):
        self.config = dict(config)
        self.run_id = run_id or self.config.get("run_id") or config_hash(self.config)
        self.config["run_id"] = self.run_id
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create run directory {self.path}: {e.strerror}") from e
        if not os.access(self.path, os.W_OK):
            raise StoreError(f"run directory {self.path} is not writable")
        cfg_path = self.path / CONFIG
        if cfg_path.exists():
            try:
                stored = json.loads(cfg_path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise StoreError(f"{cfg_path} is unparsable ({e}); delete the run directory "
                                 "to start it over") from e
            differing = diff_configs(stored, self.config)
            if differing:
                raise ConfigMismatch(self.path, differing)
        else:
            atomic_write_text(cfg_path, json.dumps(self.config, indent=2, sort_keys=True,
                                                   default=_json_default) + "\n")

    @classmethod
    def in_grid(cls, root: str | os.PathLike, config: Mapping[str, Any],
                run_id: str | None = None) -> RunWriter:
        """The run ``<root>/<run_id>`` (run_id defaults to the config hash)."""
        run_id = run_id or config.get("run_id") or config_hash(config)
        return cls(Path(root) / run_id, config, run_id=run_id)

    # -- status -----------------------------------------------------------------------
    @property
    def status(self) -> str:
        if (self.path / DONE).exists():
            return "done"
        if (self.path / FAILED).exists():
            return "failed"
        return "incomplete"

    def mark_done(self, reason: str = "finished") -> None:
        (self.path / FAILED).unlink(missing_ok=True)
        atomic_write_text(self.path / DONE, reason.rstrip() + "\n")

    def mark_failed(self, reason: str) -> None:
        atomic_write_text(self.path / FAILED, reason.rstrip() + "\n")

    def clear_failed(self) -> None:
        """Forget a FAILED marker (when a run is retried)."""
        (self.path / FAILED).unlink(missing_ok=True)

    # -- metrics ----------------------------------------------------------------------
    def log(self, step: int, tokens: int, kind: str, name: str, value: float,
            **extra: Any) -> None:
        """Append one record (fsync'd)."""
        self.log_many([dict(step=step, tokens=tokens, kind=kind, name=name, value=value,
                            **extra)])

    def log_many(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records in one write + fsync. Each needs step, tokens, kind, name, value."""
        lines = []
        for r in records:
            missing = [k for k in ("step", "tokens", "kind", "name", "value") if k not in r]
            if missing:
                raise ValueError(f"metrics record lacks {missing}: {dict(r)}")
            if r["kind"] not in KINDS:
                raise ValueError(f"unknown metrics kind {r['kind']!r}; known: {', '.join(KINDS)}")
            lines.append(metrics_line(r))
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode()
        fd = os.open(self.path / METRICS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            self._repair_tail(fd)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _repair_tail(self, fd: int) -> None:
        """If a crash left a partial last line, end it so new records start on a fresh line."""
        size = os.fstat(fd).st_size
        if size == 0:
            return
        with open(self.path / METRICS, "rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                os.write(fd, b"\n")

    def truncate_metrics_after(self, step: int) -> None:
        """Drop records logged after ``step`` (a resumed run re-logs them from its checkpoint)."""
        p = self.path / METRICS
        if not p.exists():
            return
        keep = []
        for line in p.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("step", 0) <= step:
                keep.append(line)
        atomic_write_text(p, "".join(line + "\n" for line in keep))

    # -- checkpoints ------------------------------------------------------------------
    def checkpoint_path(self, step: int) -> Path:
        return self.path / CKPT_DIR / f"step_{step}.pt"

    def save_checkpoint(self, state: Mapping[str, Any], step: int) -> Path:
        """Write ``state`` atomically to ``ckpt/step_<step>.pt``."""
        p = self.checkpoint_path(step)
        atomic_torch_save(dict(state), p)
        return p

    def prune_checkpoints(self, keep: int) -> list[Path]:
        """Delete all but the newest ``keep`` checkpoints (``keep`` ≥ 1); returns the deleted
        paths. With ``keep`` ≥ 2 a damaged newest file still leaves one to resume from."""
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        old = [p for _, p in self.checkpoints()[keep:]]
        for p in old:
            p.unlink(missing_ok=True)
        return old

    def checkpoints(self) -> list[tuple[int, Path]]:
        """(step, path) of the checkpoints present, newest first."""
        d = self.path / CKPT_DIR
        out = []
        for p in d.glob("step_*.pt") if d.exists() else []:
            try:
                out.append((int(p.stem.split("_", 1)[1]), p))
            except ValueError:
                continue
        return sorted(out, reverse=True)

    def load_latest_checkpoint(self, **load_kwargs: Any) -> tuple[int, dict] | None:
        """Newest checkpoint that loads (``weights_only=True``); damaged ones are skipped.

        Returns ``(step, state)`` or None. Each refused file is recorded in
        :attr:`refused_checkpoints` with the reason.
        """
        import torch

        self.refused_checkpoints: list[tuple[Path, str]] = []
        for step, p in self.checkpoints():
            try:
                state = torch.load(p, map_location="cpu", weights_only=True, **load_kwargs)
            except Exception as e:  # truncated zip, tampered pickle, ...
                self.refused_checkpoints.append((p, f"{type(e).__name__}: {e}"))
                continue
            return step, state
        return None


# --------------------------------------------------------------------------- reader


@dataclass
class Runs:
    """What :func:`load_runs` returns. Unpacks as ``metrics, runs = load_runs(path)``.

    Attributes
    ----------
    metrics : DataFrame
        Tidy long frame, columns :data:`FRAME_COLUMNS` (+ any extra record keys).
    runs : DataFrame
        One row per run directory found, columns :data:`RUN_COLUMNS`; ``status`` is
        ``done``, ``failed`` or ``incomplete``, ``reason`` says why (marker text, or what
        is corrupt), ``warnings`` lists tolerated problems (e.g. a dropped truncated line).
    excluded : DataFrame
        The rows of ``runs`` whose metrics were left out of ``metrics``.
    """

    metrics: pd.DataFrame
    runs: pd.DataFrame
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        yield self.metrics
        yield self.runs


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in (CONFIG, METRICS, DONE, FAILED))


def find_run_dirs(path: str | os.PathLike) -> list[Path]:
    """Run directories at or below ``path`` (a run, a grid, or a folder of grids)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run directory: {path}")
    if is_run_dir(path):
        return [path]
    found = []
    for dirpath, dirnames, _ in os.walk(path):
        d = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            if name.startswith(".") or name == CKPT_DIR:
                continue
            sub = d / name
            if is_run_dir(sub):
                found.append(sub)
            else:
                keep.append(name)
        dirnames[:] = keep  # never descend into run directories
    return sorted(found)


def _read_metrics(path: Path) -> tuple[list[dict], list[str], str | None]:
    """Records, tolerated warnings, and a corruption reason (None when readable)."""
    p = path / METRICS
    if not p.exists():
        return [], [], None
    data = p.read_bytes()
    lines = data.split(b"\n")
    records, warnings = [], []
    # A file ending without "\n" was cut mid-write: its last piece is dropped, not fatal.
    complete, tail = lines[:-1], lines[-1]
    if tail.strip():
        try:
            records_tail = json.loads(tail)
        except (json.JSONDecodeError, UnicodeDecodeError):
            records_tail = None
            warnings.append("truncated last line of metrics.jsonl dropped")
    else:
        records_tail = None
    for i, raw in enumerate(complete, 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            # A partial line followed by good ones (a crash, then a resume) is also tolerated
            # when it is a cut-off prefix of a record; anything else is corruption.
            if raw.lstrip().startswith(b"{") and not raw.rstrip().endswith(b"}"):
                warnings.append(f"partial line {i} of metrics.jsonl dropped")
                continue
            return [], warnings, f"metrics.jsonl line {i} is not JSON"
        if not isinstance(rec, dict) or not {"step", "kind", "name", "value"} <= rec.keys():
            return [], warnings, f"metrics.jsonl line {i} lacks step/kind/name/value"
        records.append(rec)
    if isinstance(records_tail, dict):
        records.append(records_tail)
    return records, warnings, None


def _read_run(path: Path) -> tuple[dict, list[dict]]:
    row: dict[str, Any] = dict(
        run_id=path.name, grid=path.parent.name, recipe=None, n_params=None,
        n_params_total=None, seed=None, status="incomplete", reason="", tokens=None,
        n_records=0, warnings=[], path=str(path),
    )
    corrupt = None
    cfg_path = path / CONFIG
    config: dict = {}
    if not cfg_path.exists():
        corrupt = "config.json missing"
    else:
        try:
            config = json.loads(cfg_path.read_text())
            if not isinstance(config, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            corrupt, config = f"config.json unparsable ({e})", {}
    row["run_id"] = config.get("run_id", path.name)
    for key in ("recipe", "n_params", "n_params_total", "seed"):
        row[key] = config.get(key)
    records, warnings, bad = _read_metrics(path)
    row["warnings"] = warnings
    data = config.get("data")
    items = data.get("probe_n") if isinstance(data, dict) else None
    if items:  # an accuracy over k probe items moves in steps of 1/k (the grok fits use it)
        for r in records:
            if r.get("kind") == "skill":
                r.setdefault("items", items)
    corrupt = corrupt or bad
    if (path / DONE).exists():
        row["status"], row["reason"] = "done", (path / DONE).read_text().strip()
    elif (path / FAILED).exists():
        row["status"], row["reason"] = "failed", (path / FAILED).read_text().strip()
    if corrupt:
        # Corrupt runs are never merged: they show as failed with the reason.
        row["status"] = "failed"
        row["reason"] = f"corrupt: {corrupt}" + (f"; {row['reason']}" if row["reason"] else "")
        records = []
    row["n_records"] = len(records)
    toks = [r.get("tokens") for r in records if r.get("tokens") is not None]
    row["tokens"] = max(toks) if toks else None
    return row, records


def load_runs(path: str | os.PathLike, include: Iterable[str] = ("done",)) -> Runs:
    """Read every run at or below ``path``.

    Parameters
    ----------
    path : path
        A run directory, a grid directory, or a folder of grids.
    include : iterable of str
        Statuses whose metrics enter the frame (``done``, ``failed``, ``incomplete``).
        Corrupt runs (missing or unparsable config, garbage metrics) have status
        ``failed`` and a ``corrupt: ...`` reason. All runs appear in the run table.

    Returns
    -------
    Runs
        ``metrics`` (tidy long frame), ``runs`` (run table), ``excluded`` (runs left out).
    """
    include = set(include)
    unknown = include - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown status {sorted(unknown)} in include; known: {STATUSES}")
    rows, records = [], []
    for d in find_run_dirs(path):
        row, recs = _read_run(d)
        rows.append(row)
        if row["status"] in include and recs:
            run_fields = {k: row[k] for k in
                          ("run_id", "grid", "recipe", "n_params", "n_params_total", "seed")}
            for r in recs:  # one frame built once at the end: far cheaper than a frame per run
                r.update(run_fields)
            records.extend(recs)
    runs = pd.DataFrame(rows, columns=RUN_COLUMNS)
    metrics = pd.DataFrame.from_records(records) if records else pd.DataFrame(
        columns=FRAME_COLUMNS)
    extra = [c for c in metrics.columns if c not in FRAME_COLUMNS]
    for c in FRAME_COLUMNS:
        if c not in metrics.columns:
            metrics[c] = None
    metrics = metrics[FRAME_COLUMNS + extra]
    for c in ("step", "tokens"):
        metrics[c] = pd.to_numeric(metrics[c], errors="coerce")
    metrics["value"] = pd.to_numeric(metrics["value"], errors="coerce").astype(float)
    excluded = runs[~runs["status"].isin(include)].reset_index(drop=True)
    return Runs(metrics=metrics, runs=runs, excluded=excluded)
