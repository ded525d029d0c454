"""What the prediction layer needs from a run store: the points the laws are fitted to.

:class:`LawPoints` is the law table of one target domain (``run, recipe, params, tokens,
loss`` [+ ``branch``]) as :func:`scaling.fit.load_law_table` builds it, reduced to the points
a law fit uses (:func:`scaling.fit.select_points`, ``points="final"``: the end point of every
run and of every WSD decay branch; ``points="all"``: every checkpoint), with the recipe names
and sizes and a cache of the laws fitted to them; :func:`load_points` builds it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store
from ..defaults import BASELINE, TARGET_FACTOR
from ..errors import ScalingError
from ..fit import cache as fit_cache
from ..fit import data as fit_data
from ..fit import load_law_table, optim, select_points
from ..fit.data import val_loss_table
from ..fit.law_table import POINTS
from ..paths import cache_root
from ..recipe import parse_recipe
from ..store import Runs, load_runs
from ..tables import resolve

#: The baseline used when none is given.
DEFAULT_BASELINE = BASELINE


class PredictError(ScalingError, ValueError):
    """A prediction request that cannot be answered as asked (the message says what to fix)."""


#: Largest difference of normalised base weights at which a ``--mix`` is read as a grid recipe.
WEIGHT_TOL = 1e-4


@functools.lru_cache(maxsize=4096)
def canonical(name: str) -> str:
    """Canonical recipe name (``parse_recipe(name).name``); names that are not ``--mix``
    strings (imported tables: ``A``, ``imported``) stay as they are. Cached: tables map it
    over every row (70k rows of a 585-run store, a handful of distinct names)."""
    try:
        return parse_recipe(str(name)).name
    except ScalingError:
        return str(name)


@dataclass
class LawPoints:
    """The points the laws are fitted to — the end points, or every checkpoint, of a store's
    runs (or of a law-table frame) for one target domain — with their recipes and sizes and a
    cache of the laws fitted to them (:attr:`fits`).

    Attributes
    ----------
    points : DataFrame
        ``run, recipe, params, tokens, loss, unit``: one row per run end point (and WSD
        branch end point); ``recipe`` holds canonical names; ``unit`` is the bootstrap unit.
    domain : str or None
        The target domain (None for a CSV/frame without domains).
    source : str or None
        Where the points came from (a path), for messages.
    path : Path or None
        The store, when the grid came from one (the skill view reads its probes).
    store : Runs or None
        The store as :func:`scaling.store.load_runs` reads it (the run table of every
        status, the metrics of completed runs), for the report; None without a store.
    """

    points: pd.DataFrame
    domain: str | None = None
    source: str | None = None
    path: Path | None = None
    notes: list[str] = field(default_factory=list)
    skill_records: pd.DataFrame | None = field(default=None, repr=False)
    """The store's ``kind == "skill"`` records (for the per-skill view), when loaded."""
    fits: dict = field(default_factory=dict, repr=False)
    """Cache of laws fitted to these points (see :func:`scaling.predict.independent.fit_recipe`)."""
    loaded: Runs | None = field(default=None, repr=False)
    """The store's :class:`~scaling.store.Runs` when :func:`load_points` read them (not when its
    tables came from the cache): :attr:`store` reads them on first use otherwise."""

    @property
    def store(self) -> Runs | None:
        if self.loaded is None and self.path is not None:
            self.loaded = load_runs(self.path)
        return self.loaded

    @property
    def recipes(self) -> list[str]:
        return sorted(self.points["recipe"].unique())

    def of(self, recipe: str) -> pd.DataFrame:
        return self.points[self.points["recipe"] == recipe]

    def sizes(self, recipe: str | None = None) -> np.ndarray:
        p = self.points if recipe is None else self.of(recipe)
        return np.sort(p["params"].unique())

    def without_size(self, size: float) -> LawPoints:
        keep = ~np.isclose(self.points["params"], size, rtol=1e-9)
        return LawPoints(self.points[keep].reset_index(drop=True), self.domain, self.source,
                         self.path, list(self.notes))

    def below(self, size: float) -> LawPoints:
        """The points of models smaller than ``size`` (cached, so are the fits to them)."""
        key = ("below", float(size))
        if key not in self.fits:
            pts = self.points[self.points["params"] < size * (1 - 1e-9)]
            self.fits[key] = LawPoints(pts.reset_index(drop=True), self.domain, self.source,
                                       self.path, list(self.notes))
        return self.fits[key]

    def with_points(self, extra: pd.DataFrame) -> LawPoints:
        pts = pd.concat([self.points, extra[self.points.columns]], ignore_index=True)
        return LawPoints(pts, self.domain, self.source, self.path, list(self.notes))

    def resolve(self, spec: str, what: str = "--mix") -> str | None:
        """The grid's name for recipe ``spec`` (canonicalised), or None when not in the grid.

        A spec that is neither in the grid nor a valid recipe raises an error: the recipe
        parser's (which names the offending part) when it looks like a ``--mix`` string
        (has a ``=``), else one listing the names the grid has (imported grids name their
        recipes freely)."""
        spec = str(spec).strip()
        if spec in self.recipes:
            return spec
        name = canonical(spec)
        if name in self.recipes:
            return name
        if "=" not in spec:
            raise PredictError(f"{what} {spec!r} is not a recipe of the grid; recipes: "
                               f"{', '.join(self.recipes)}")
        r = parse_recipe(spec)  # raises RecipeError for a malformed --mix
        near = [g for g in self.recipes if _same_recipe(r, g)]
        return near[0] if len(near) == 1 else None

    def default_size(self) -> float:
        """The target size when none is asked for: :data:`~scaling.defaults.TARGET_FACTOR` ×
        the largest size, or the one size of a one-size grid (no extrapolation in N is
        possible there)."""
        sizes = self.sizes()
        return TARGET_FACTOR * float(sizes.max()) if len(sizes) > 1 else float(sizes[0])

    def default_baseline(self) -> str:
        if DEFAULT_BASELINE in self.recipes:
            return DEFAULT_BASELINE
        raise PredictError(f"the grid has no {DEFAULT_BASELINE!r} runs to use as the baseline; "
                           f"choose one with --baseline (recipes: {', '.join(self.recipes)})")


def _same_recipe(r, name: str, tol: float = WEIGHT_TOL) -> bool:
    """Whether grid recipe ``name`` is ``r`` up to rounding of the base weights (a table's
    weights written to 5 digits sum to 0.99998, not 1)."""
    try:
        g = parse_recipe(name)
    except ScalingError:
        return False
    if [d for d, _ in g.base] != [d for d, _ in r.base]:
        return False
    if max(abs(a - b) for (_, a), (_, b) in zip(g.base, r.base, strict=True)) > tol:
        return False
    return replace(g, base=r.base).name == r.name


def load_points(runs, target_domain: str | None = None, min_tokens: float | None = None,
                points: str = "final") -> LawPoints:
    """A :class:`LawPoints` from a run store / CSV path or a law-table frame.

    Parameters
    ----------
    runs : path or DataFrame
        A run store (``load_runs`` layout), a CSV (``params, tokens, loss[, run, recipe,
        branch]``), or a frame with those columns.
    target_domain : str, optional
        Which validation domain is the target (store only; default: its only domain, else
        ``prose``). Unknown domains raise an error listing the ones present.
    min_tokens : float, optional
        Leave out end points of budgets below this many tokens (as ``fit law --min-tokens``):
        runs so short that warm-up and the first fast drop dominate them follow no law that
        also describes the longer runs. The grid's ``notes`` say what was left out.
    points : {"final", "all"}
        Which checkpoints are points (:func:`scaling.fit.select_points`): the end of every run
        and decay branch (default), or every checkpoint — for grids of learning curves with
        few runs, e.g. another trainer's checkpoints of a constant or WSD schedule. The
        bootstrap resamples whole runs either way.
    """
    if points not in POINTS:
        raise PredictError(f"unknown --points {points!r}; use {' or '.join(POINTS)}")
    path, skills, loaded = None, None, None
    if isinstance(runs, pd.DataFrame):
        df = resolve(runs, ["params", "tokens", "loss"], ["run", "recipe", "branch", "step"],
                     source="the runs frame")
        if "run" not in df.columns:
            df = df.assign(run=[f"row{i}" for i in range(len(df))])
        if "recipe" not in df.columns:
            df = df.assign(recipe="all")
        info = {"domain": target_domain, "source": None}
    else:
        path = Path(os.fspath(runs))
        if not path.exists():
            raise PredictError(f"no run store or CSV at {path}; pass --runs DIR")
        if path.is_dir():
            df, info, skills, loaded = _store_tables(path, target_domain)
        else:
            df, info = load_law_table(path, domain=target_domain)
    df = df.dropna(subset=["params", "tokens", "loss"])
    df = df[(df["params"] > 0) & (df["tokens"] > 0) & (df["loss"] > 0)]
    if df.empty:
        where = info["source"] or "the runs frame"
        raise PredictError(f"no usable (params, tokens, loss) points in {where}")
    df = df.assign(run=df["run"].astype(str), recipe=df["recipe"].astype(str).map(canonical))
    sel = select_points(df, points)
    n_all = len(sel)
    what = "end point" if points == "final" else "point"
    if min_tokens is not None:
        sel = sel[sel["tokens"] >= float(min_tokens)]
        if sel.empty:
            raise PredictError(f"no {what} has tokens >= {min_tokens:g} (the largest budget "
                               f"is {df['tokens'].max():g}); lower --min-tokens")
    keys = ["run"] + (["branch"] if "branch" in sel.columns and sel["branch"].notna().any()
                      else [])
    unit = sel[keys].astype(str).agg("#".join, axis=1) if len(keys) > 1 else sel["run"]
    pts = pd.DataFrame({"run": sel["run"].to_numpy(), "recipe": sel["recipe"].to_numpy(),
                        "params": sel["params"].to_numpy(float),
                        "tokens": sel["tokens"].to_numpy(float),
                        "loss": sel["loss"].to_numpy(float), "unit": unit.to_numpy()})
    grid = LawPoints(pts, info.get("domain"), info.get("source"),
                     path if path and path.is_dir() else None)
    if min_tokens is not None:
        grid.notes.append(f"--min-tokens {min_tokens:g}: {n_all - len(pts)} of {n_all} {what}s "
                          "(budgets below it) left out")
    if points == "all":
        grid.notes.append(f"--points all: {len(pts)} checkpoints of {pts['run'].nunique()} runs "
                          "are the points (the bootstrap resamples whole runs)")
    grid.skill_records, grid.loaded = skills, loaded
    return grid


def _store_tables(path: Path, domain: str | None):
    """The law table (as :func:`scaling.fit.load_law_table` builds it) and the skill records
    of a store from ONE :func:`~scaling.store.load_runs` pass (reading a store of a few hundred
    runs takes seconds; the prediction needs both tables), and that pass's
    :class:`~scaling.store.Runs` (None on a cache hit).

    Both are cached under ``$SCALING_CACHE/store-tables`` (:func:`_tables_key`: the size and
    modification time of every file of every run directory, the domain asked for, and the
    code that builds the tables), so the next command on an unchanged store reads two small
    Parquet files instead of every run's metrics."""
    key = _tables_key(path, domain)
    hit = _read_tables(key)
    if hit is not None:
        df, domain, skills = hit
        return df, {"domain": domain, "source": str(path)}, skills, None
    loaded = load_runs(path)
    metrics = loaded.metrics
    df, domain = val_loss_table(metrics, domain, str(path))
    skills = metrics[metrics["kind"] == "skill"]
    _write_tables(key, df, domain, skills)
    return df, {"domain": domain, "source": str(path)}, skills, loaded


#: Store-table cache entries kept (the most recently written).
TABLE_CACHE_ENTRIES = 8


def _tables_key(path: Path, domain: str | None) -> str:
    """Hash of what :func:`_store_tables` reads: each run directory's files (name, size,
    mtime), the domain, and the source of the modules that read and shape them."""
    h = hashlib.sha256(repr((str(path.resolve()), domain)).encode())
    for mod in (store, fit_data):
        h.update(Path(mod.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    for d in store.find_run_dirs(path):
        h.update(str(d.relative_to(path)).encode() + b"\0")
        with os.scandir(d) as it:
            for e in sorted((e for e in it if e.is_file()), key=lambda e: e.name):
                st = e.stat()
                h.update(f"{e.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _tables_dir() -> Path:
    return cache_root() / "store-tables"


def _read_tables(key: str):
    d = _tables_dir() / key
    try:
        meta = json.loads((d / "meta.json").read_text())
        return (pd.read_parquet(d / "law.parquet"), meta["domain"],
                pd.read_parquet(d / "skills.parquet"))
    except FileNotFoundError:
        return None
    except Exception:  # a damaged cache entry is a miss, never an error
        return None


def _write_tables(key: str, df: pd.DataFrame, domain: str | None, skills: pd.DataFrame):
    import shutil
    import tempfile

    root = _tables_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
        df.to_parquet(tmp / "law.parquet")
        skills.to_parquet(tmp / "skills.parquet")
        (tmp / "meta.json").write_text(json.dumps({"domain": domain}))
        try:
            os.replace(tmp, root / key)
        except OSError:  # another process wrote the same entry first
            shutil.rmtree(tmp, ignore_errors=True)
        entries = sorted((p for p in root.iterdir() if not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[TABLE_CACHE_ENTRIES:]:
            shutil.rmtree(old, ignore_errors=True)
    except Exception:  # a cache that cannot be written is only slower
        return


def one_blas_thread(fn):
    """Run ``fn`` (an entry point of the prediction layer) with the disk cache of law fits on
    (:mod:`scaling.fit.cache`: every command refits the same recipes of the same store) and
    one BLAS thread (:func:`scaling.fit.optim.one_blas_thread`: the fits are many tiny matrix
    problems, and OpenBLAS worker threads spinning on shared cores made a Chinchilla fit
    4–15× slower on the project's 2-core machines)."""
    limited = optim.one_blas_thread(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with fit_cache.enable():
            return limited(*args, **kwargs)

    return wrapper
