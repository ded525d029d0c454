"""The run store: one directory per run, and the one reader of such directories.

Layout (DESIGN.md, "Run directory")::

    <root>/<grid>/<run_id>/
      config.json      resolved run configuration, written before step 0 (run_id = hash of it)
      runtime.json     how it ran (device, precision, versions): not part of the run's identity
      metrics.jsonl    one JSON object per line: {"step","tokens","kind","name","value", ...};
                       append-only, every append fsync'd
      ckpt/step_<n>.pt model + optimizer + RNG + data position, written atomically (tmp + rename)
      ckpt/step_<n>.pt.sha256
                       its SHA-256 (``sha256sum`` format), written before it; a checkpoint
                       whose bytes do not match is refused on load like a truncated one
      DONE | FAILED    marker file holding the reason; a run with neither is "incomplete"

This module is the only code that knows these names. The trainer and the grid go through
:class:`RunDir` (status, markers, metrics records, verified checkpoints) and :class:`RunWriter`
(a RunDir that creates the directory and appends metrics); everything that reads a store goes
through :func:`load_runs`, which returns a tidy long frame (one row per logged value) and a run
table. Failed, incomplete and corrupt runs are reported in the run table and left out of the
frame unless asked for; a truncated last line of ``metrics.jsonl`` (a crash mid-write) is
dropped with a warning (:attr:`Runs.warnings`) and is not fatal.

Identity: a run's ``config.json`` hashes to its ``run_id`` (:func:`scaling.hashing.config_hash`)
and a directory named like a run id holds that run. :func:`load_runs` refuses, naming them, a
``config.json`` edited or copied from another run, and a second directory holding a run already
found (a backup copy inside the store): their metrics are never merged.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .atomic import atomic_write_bytes, atomic_write_text
from .errors import ScalingError
from .hashing import canonical_json, config_hash, diff_configs, json_default
from .jsonsafe import jsonable

__all__ = [
    "CONFIG", "RUNTIME", "METRICS", "CKPT_DIR", "DONE", "FAILED", "KINDS", "FRAME_COLUMNS", "RUN_COLUMNS",
    "STATUSES", "StoreError", "ConfigMismatch", "CheckpointError", "RunDir", "RunWriter", "Runs",
    "atomic_torch_save", "atomic_write_bytes", "atomic_write_text", "canonical_json",
    "config_hash", "diff_configs", "find_run_dirs", "is_run_dir", "load_runs", "metrics_line",
]

CONFIG = "config.json"
RUNTIME = "runtime.json"
METRICS = "metrics.jsonl"
CKPT_DIR = "ckpt"
CHECKSUM = ".sha256"
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
#: The trainer's run ids (:func:`config_hash`, 10 hex digits): a directory named like one must
#: hold that run (the grid names every run directory by its id).
_HASH_ID = re.compile(r"[0-9a-f]{10}")
#: Configs written by ``scaling import``: their ids hash the imported data too.
_IMPORTED = "import:"


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


class CheckpointError(StoreError):
    """A checkpoint file that cannot be trusted (no checksum, wrong checksum, unloadable)."""


# --------------------------------------------------------------------------- checkpoints


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKSUM)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through a temporary file and a rename, fsync'd, with its SHA-256 beside.

    The checksum file is renamed into place *before* the checkpoint, so a checkpoint is never
    seen without its checksum; a crash between the two leaves a checksum without a file, which
    nothing reads.
    """
    import torch

    path = Path(path)
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    atomic_write_text(_checksum_path(path), f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    atomic_write_bytes(path, data)


def verify_checkpoint(path: str | os.PathLike) -> None:
    """Raise :class:`CheckpointError` unless ``path`` matches the SHA-256 written beside it."""
    path = Path(path)
    try:
        expected = _checksum_path(path).read_text().split()[0]
    except FileNotFoundError:
        raise CheckpointError(f"no checksum file {_checksum_path(path).name}") from None
    except (OSError, UnicodeDecodeError, IndexError) as e:
        raise CheckpointError(f"unreadable checksum file {_checksum_path(path).name} "
                              f"({type(e).__name__})") from None
    with open(path, "rb") as f:
        actual = hashlib.file_digest(f, "sha256").hexdigest()
    if actual != expected:
        raise CheckpointError(f"checksum mismatch (sha256 {actual[:12]}…, written "
                              f"{expected[:12]}…): the file was damaged after it was written")


def load_checkpoint_file(path: str | os.PathLike, **load_kwargs: Any) -> dict:
    """A verified checkpoint's state (``weights_only=True``: tensors and plain data, no code).

    Raises :class:`CheckpointError` naming what is wrong (checksum, truncation, a pickle that
    would run code, ...).
    """
    import torch

    verify_checkpoint(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, **load_kwargs)
    except Exception as e:  # truncated zip, tampered pickle, ...
        raise CheckpointError(f"{type(e).__name__}: {e}") from None


# --------------------------------------------------------------------------- metrics format


def _clean_value(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else (float("inf") if v > 0 else float("-inf"))
    return v


def metrics_line(record: Mapping[str, Any]) -> str:
    """One ``metrics.jsonl`` line (compact JSON, non-finite values cleaned)."""
    return json.dumps({k: _clean_value(v) for k, v in record.items()},
                      separators=(",", ":"), default=json_default)


_RECORD_KEYS = frozenset(("step", "kind", "name", "value"))


def _parse_metrics(data: bytes, strict: bool = True) -> tuple[list[dict], list[str], str | None]:
    """Records, tolerated warnings, and a corruption reason (None when readable).

    A file ending without ``"\\n"`` was cut mid-write: its last piece is dropped with a warning,
    not fatal; so is a cut-off record followed by good ones (a crash, then a resume). With
    ``strict``, any other bad line makes the whole file corrupt (no records); without, bad lines
    are skipped (the trainer rebuilding its own summary).
    """
    lines = data.split(b"\n")
    records, warnings = [], []
    complete, tail = lines[:-1], lines[-1]
    records_tail = None
    if tail.strip():
        try:
            records_tail = json.loads(tail)
        except (json.JSONDecodeError, UnicodeDecodeError):
            warnings.append(f"truncated last line of {METRICS} dropped")
    try:  # the common case, every line a whole record: one parse of the whole file
        whole = json.loads(b"[" + b",".join(raw for raw in complete if raw.strip()) + b"]")
    except (json.JSONDecodeError, UnicodeDecodeError):
        whole = None
    if whole is not None and all(isinstance(rec, dict) and _RECORD_KEYS <= rec.keys()
                                 for rec in whole):
        complete, records = [], whole
    for i, raw in enumerate(complete, 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if raw.lstrip().startswith(b"{") and not raw.rstrip().endswith(b"}"):
                warnings.append(f"partial line {i} of {METRICS} dropped")
                continue
            if strict:
                return [], warnings, f"{METRICS} line {i} is not JSON"
            continue
        if not isinstance(rec, dict) or not _RECORD_KEYS <= rec.keys():
            if strict:
                return [], warnings, f"{METRICS} line {i} lacks step/kind/name/value"
            continue
        records.append(rec)
    if isinstance(records_tail, dict):
        records.append(records_tail)
    return records, warnings, None


# --------------------------------------------------------------------------- one run


class RunDir:
    """One run directory as laid out above: its config, markers, metrics and checkpoints.

    Reading and marking need no config (any process can ask a run's status or mark it
    failed); :class:`RunWriter` also creates the directory and writes the config and metrics.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.refused_checkpoints: list[tuple[Path, str]] = []

    # -- config -----------------------------------------------------------------------
    def read_config(self) -> dict | None:
        """The stored ``config.json`` (None when there is none)."""
        p = self.path / CONFIG
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise StoreError(f"{p} is unparsable ({e}); delete the run directory "
                             "to start it over") from e

    def config_mismatch(self, config: Mapping[str, Any]) -> ConfigMismatch | None:
        """The error to raise if this directory holds a config other than ``config``
        (``config`` with its ``run_id``), else None."""
        stored = self.read_config()
        if stored is None:
            return None
        differing = diff_configs(stored, config)
        return ConfigMismatch(self.path, differing) if differing else None

    # -- status -----------------------------------------------------------------------
    @property
    def status(self) -> str:
        """``done``, ``failed``, ``incomplete``, or ``pending`` (no directory yet)."""
        if (self.path / DONE).exists():
            return "done"
        if (self.path / FAILED).exists():
            return "failed"
        return "incomplete" if self.path.exists() else "pending"

    @property
    def reason(self) -> str:
        """The text of the DONE or FAILED marker ("" when there is neither)."""
        for marker in (DONE, FAILED):
            try:
                return (self.path / marker).read_text().strip()
            except FileNotFoundError:
                continue
        return ""

    def mark_done(self, reason: str = "finished") -> None:
        (self.path / FAILED).unlink(missing_ok=True)
        atomic_write_text(self.path / DONE, reason.rstrip() + "\n")

    def mark_failed(self, reason: str) -> None:
        atomic_write_text(self.path / FAILED, reason.rstrip() + "\n")

    def clear_failed(self) -> None:
        """Forget a FAILED marker (when a run is retried)."""
        (self.path / FAILED).unlink(missing_ok=True)

    # -- metrics ----------------------------------------------------------------------
    def records(self) -> list[dict]:
        """Every readable metrics record, in file order (unreadable lines skipped)."""
        p = self.path / METRICS
        return _parse_metrics(p.read_bytes(), strict=False)[0] if p.exists() else []

    # -- checkpoints ------------------------------------------------------------------
    def checkpoint_path(self, step: int) -> Path:
        return self.path / CKPT_DIR / f"step_{step}.pt"

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

    def load_checkpoint(self, step: int, **load_kwargs: Any) -> dict:
        """The state saved at ``step``, verified (:class:`CheckpointError` when it is not good)."""
        return load_checkpoint_file(self.checkpoint_path(step), **load_kwargs)

    def load_latest_checkpoint(self, **load_kwargs: Any) -> tuple[int, dict] | None:
        """Newest checkpoint that verifies and loads; damaged ones are skipped.

        Returns ``(step, state)`` or None. Each refused file (no or wrong checksum,
        truncated, a pickle that would run code) is recorded in :attr:`refused_checkpoints`
        with the reason.
        """
        self.refused_checkpoints = []
        for step, p in self.checkpoints():
            try:
                return step, load_checkpoint_file(p, **load_kwargs)
            except CheckpointError as e:
                self.refused_checkpoints.append((p, str(e)))
        return None


class RunWriter(RunDir):
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
        super().__init__(path)
        self.config = dict(config)
        self.run_id = run_id or self.config.get("run_id") or config_hash(self.config)
        self.config["run_id"] = self.run_id
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create run directory {self.path}: {e.strerror}") from e
        if not os.access(self.path, os.W_OK):
            raise StoreError(f"run directory {self.path} is not writable")
        if (self.path / CONFIG).exists():
            mismatch = self.config_mismatch(self.config)
            if mismatch:
                raise mismatch
        else:
            atomic_write_text(self.path / CONFIG, json.dumps(
                self.config, indent=2, sort_keys=True, default=json_default) + "\n")

    def write_runtime(self, info: Mapping[str, Any]) -> None:
        """Record how the run is being run (device, precision, …) in ``runtime.json``."""
        atomic_write_text(self.path / RUNTIME, json.dumps(dict(info), indent=2,
                                                          default=json_default) + "\n")

    @classmethod
    def in_grid(cls, root: str | os.PathLike, config: Mapping[str, Any],
                run_id: str | None = None) -> RunWriter:
        """The run ``<root>/<run_id>`` (run_id defaults to the config hash)."""
        run_id = run_id or config.get("run_id") or config_hash(config)
        return cls(Path(root) / run_id, config, run_id=run_id)

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
    def save_checkpoint(self, state: Mapping[str, Any], step: int) -> Path:
        """Write ``state`` atomically to ``ckpt/step_<step>.pt``, its checksum beside it."""
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
            _checksum_path(p).unlink(missing_ok=True)
        return old


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

    @property
    def warnings(self) -> list[str]:
        """What loading tolerated or refused, one line per problem naming the directory:
        dropped metrics lines, and run directories refused as copies or relabelled."""
        out = []
        for r in self.runs.itertuples():
            out += [f"{r.path}: {w}" for w in r.warnings]
            if r.reason.startswith(("duplicate:", "mismatch:")):
                out.append(f"{r.path}: refused, {r.reason}")
        return out

    def summary(self) -> dict[str, Any]:
        """JSON contract of ``scaling runs --json``: one object per run, and the warnings."""
        keys = ("run_id", "recipe", "n_params", "seed", "status", "tokens", "reason", "grid")
        return jsonable({"runs": [{k: r[k] for k in keys} for r in self.runs.to_dict("records")],
                         "warnings": self.warnings})

    def report(self) -> str:
        """The table ``scaling runs`` prints, and the count of runs per status (the warnings
        are not in it: the CLI prints them on stderr)."""
        t = self.runs
        table = t[["run_id", "grid", "recipe", "n_params", "seed", "status", "tokens", "reason"]]
        counts = t["status"].value_counts().to_dict()
        return (table.to_string(index=False) + "\n\n"
                + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


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


def _identity_problem(path: Path, config: dict) -> str | None:
    """Why ``config.json`` cannot be this directory's (None when it can).

    The trainer's configs hash to their ``run_id``; imported ones hash their data too, so only
    their directory name is checked. A directory named like a run id must be that run's.
    """
    claimed = config.get("run_id")
    if claimed is None:
        return None
    imported = str(config.get("source", "")).startswith(_IMPORTED)
    if not imported and config_hash(config) != claimed:
        return (f"mismatch: config.json does not hash to its run_id {claimed} (it hashes to "
                f"{config_hash(config)}): edited after the run was written")
    if path.name != claimed and (imported or _HASH_ID.fullmatch(path.name)):
        return (f"mismatch: directory {path.name} holds the config.json of run {claimed} "
                "(a copy of that run, or its config.json copied here?)")
    return None


def _read_run(path: Path) -> tuple[dict, list[dict]]:
    row: dict[str, Any] = dict(
        run_id=path.name, grid=path.parent.name, recipe=None, n_params=None,
        n_params_total=None, seed=None, status="incomplete", reason="", tokens=None,
        n_records=0, warnings=[], path=str(path),
    )
    corrupt = refused = None
    cfg_path = path / CONFIG
    config: dict = {}
    if not cfg_path.exists():
        corrupt = f"{CONFIG} missing"
    else:
        try:
            config = json.loads(cfg_path.read_text())
            if not isinstance(config, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            corrupt, config = f"{CONFIG} unparsable ({e})", {}
    if config:
        refused = _identity_problem(path, config)
    row["run_id"] = config.get("run_id", path.name)
    for key in ("recipe", "n_params", "n_params_total", "seed"):
        row[key] = config.get(key)
    p = path / METRICS
    records, warnings, bad = _parse_metrics(p.read_bytes()) if p.exists() else ([], [], None)
    row["warnings"] = warnings
    data = config.get("data")
    items = data.get("probe_n") if isinstance(data, dict) else None
    if items:  # an accuracy over k probe items moves in steps of 1/k (the grok fits use it)
        for r in records:
            if r.get("kind") == "skill":
                r.setdefault("items", items)
    corrupt = corrupt or bad
    row["status"], row["reason"] = RunDir(path).status, RunDir(path).reason
    if corrupt or refused:
        # Corrupt and refused runs are never merged: they show as failed with the reason.
        row["status"] = "failed"
        why = refused or f"corrupt: {corrupt}"
        row["reason"] = why + (f"; {row['reason']}" if row["reason"] else "")
        records = []
    row["n_records"] = len(records)
    toks = [r.get("tokens") for r in records if r.get("tokens") is not None]
    row["tokens"] = max(toks) if toks else None
    return row, records


def _refuse_duplicates(rows: list[dict], records: list[list[dict]]) -> None:
    """Keep one directory per run id: the one named by the id (else the first by path); the
    others (backup copies, the same run in two grids) are refused, naming the kept one."""
    by_id: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if not row["reason"].startswith(("mismatch:", "corrupt:")):
            by_id.setdefault(row["run_id"], []).append(i)
    for run_id, idx in by_id.items():
        if len(idx) < 2:
            continue
        named = [i for i in idx if Path(rows[i]["path"]).name == run_id]
        keep = (named or idx)[0]
        for i in idx:
            if i == keep:
                continue
            row = rows[i]
            row["status"] = "failed"
            row["reason"] = (f"duplicate: run {run_id} is also at {rows[keep]['path']} "
                             "(a copy?); move one out of the store"
                             + (f"; {row['reason']}" if row["reason"] else ""))
            row["n_records"], row["tokens"] = 0, None
            records[i] = []


def load_runs(path: str | os.PathLike, include: Iterable[str] = ("done",)) -> Runs:
    """Read every run at or below ``path``.

    Parameters
    ----------
    path : path
        A run directory, a grid directory, or a folder of grids.
    include : iterable of str
        Statuses whose metrics enter the frame (``done``, ``failed``, ``incomplete``).
        Corrupt runs (missing or unparsable config, garbage metrics) have status
        ``failed`` and a ``corrupt: ...`` reason; a config.json that is not its directory's
        run (edited, or copied from another run) a ``mismatch: ...`` one; a second directory
        holding a run already found a ``duplicate: ...`` one naming the first. Their
        metrics never enter the frame. All runs appear in the run table.

    Returns
    -------
    Runs
        ``metrics`` (tidy long frame), ``runs`` (run table), ``excluded`` (runs left out),
        ``warnings`` (what was tolerated or refused, by directory).
    """
    include = set(include)
    unknown = include - set(STATUSES)
    if unknown:
        raise ValueError(f"unknown status {sorted(unknown)} in include; known: {STATUSES}")
    rows, per_run = [], []
    for d in find_run_dirs(path):
        row, recs = _read_run(d)
        rows.append(row)
        per_run.append(recs)
    _refuse_duplicates(rows, per_run)
    records = []
    for row, recs in zip(rows, per_run, strict=True):
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
