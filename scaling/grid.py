"""Grids: size × recipe × seed sweeps from a TOML spec, run locally or on a SLURM cluster.

A spec (``runs/grids/*.toml``)::

    name = "cpu-tiny"                      # the grid's name (default: the file's stem)
    description = "…"
    sizes = ["50k", "100k", "200k"]        # non-embedding parameter counts
    tokens = "20x"                         # budget: a count ("2M") or tokens per parameter ("20x");
                                           # a list (one run per budget), or a table per size
                                           # {"50k" = "1M", "100k" = ["1M", "2M"]}
    seeds = [0]                            # default seeds of every recipe
    recipes = ["prose=1", "prose=1;front=dyck:0.01"]   # --mix strings, or tables:
    # [[recipes]]
    # mix = "prose=1;mid=code:0.3@0.4"
    # seeds = [0, 1]
    # tokens = ["250k", "500k", "1M"]     # this recipe's own budgets (one run each)
    # train = { branches = [] }            # and options overriding [train]
    [train]                                # options of every run (RunConfig.from_args overrides)
    precision = "auto"                     # runtime-only, grid-wide: auto, fp32, bf16, fp16
    schedule = "wsd"
    branches = [0.25, 0.5]
    batch_size = 16
    [cluster]                              # submitit/SLURM parameters (executor "submitit")
    timeout_min = 60
    slurm_partition = "gpu"

Every run lives in ``<out>/<run_id>`` (run_id = hash of its resolved config), so rerunning a grid
skips finished runs, resumes incomplete ones from their last checkpoint, and never mixes two configs.
A per-run :class:`~scaling.lock.RunLock` keeps two grid processes (or a requeued cluster job) from
training the same run at once.
"""

from __future__ import annotations

import functools
import os
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ScalingError
from .hardware import PRECISIONS, resolve_device, resolve_precision, threads_per_job
from .jsonsafe import jsonable
from .lock import RunLock, RunLocked
from .store import ConfigMismatch, RunDir, StoreError
from .units import format_count
from .workers import die_with_parent

TOP_KEYS = {"name", "description", "sizes", "tokens", "seeds", "recipes", "train", "cluster"}
RECIPE_KEYS = {"mix", "seeds", "tokens", "train"}
EXECUTORS = ("local", "submitit")


class GridError(ScalingError, ValueError):
    """A grid spec or grid option that cannot be used as given."""


Budget = str | tuple[str, ...] | dict[str, tuple[str, ...]]


def _budget(value: Any, sizes: Sequence[str], where: str) -> Budget:
    """A budget as written (``"2M"``, ``["1M", "2M"]``, ``{"100k" = "2M"}``), normalised."""
    def as_tuple(v: Any) -> tuple[str, ...]:
        vals = v if isinstance(v, list) else [v]
        if not vals or not all(isinstance(x, str | int | float) for x in vals):
            raise GridError(f"'tokens' in {where} must be a count like \"2M\", \"20x\", or a "
                            "list of them")
        return tuple(str(x) for x in vals)

    if isinstance(value, dict):
        missing = [s for s in sizes if s not in {str(k) for k in value}]
        if missing:
            raise GridError(f"'tokens' in {where} has no budget for size(s) {missing}")
        return {str(k): as_tuple(v) for k, v in value.items()}
    return as_tuple(value)


@dataclass(frozen=True)
class RecipeEntry:
    """One recipe of a grid: its seeds, and optionally its own budgets and run options."""

    mix: str
    """The ``--mix`` spec."""
    seeds: tuple[int, ...]
    """Seeds to run."""
    tokens: Budget | None = None
    """Budgets overriding the grid's (several budgets = one run each)."""
    train: dict[str, Any] = field(default_factory=dict)
    """Run options overriding the grid's ``[train]`` table."""


@dataclass(frozen=True)
class GridSpec:
    """A parsed grid spec (see the module docstring for the TOML form)."""

    name: str
    """Grid name (the output folder's name by convention)."""
    sizes: tuple[str, ...]
    """Model sizes as given (``100k``)."""
    recipes: tuple[RecipeEntry, ...]
    """The recipes with their seeds and overrides."""
    tokens: Budget
    """Budget(s) of every run, or per size."""
    train: dict[str, Any] = field(default_factory=dict)
    """Options passed to every run's config."""
    cluster: dict[str, Any] = field(default_factory=dict)
    """submitit executor parameters."""
    description: str = ""
    """Free text."""
    precision: str = "auto"
    """Runtime-only (not in the run ids): ``[train] precision``; ``--precision`` overrides."""

    @classmethod
    def load(cls, path: str | os.PathLike) -> GridSpec:
        path = Path(path)
        if not path.exists():
            raise GridError(f"no such grid spec: {path}")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise GridError(f"{path} is not valid TOML: {e}") from e
        return cls.from_dict(raw, default_name=path.stem, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], default_name: str = "grid",
                  source: str = "grid spec") -> GridSpec:
        unknown = sorted(set(raw) - TOP_KEYS)
        if unknown:
            raise GridError(f"unknown key(s) {', '.join(map(repr, unknown))} in {source}; "
                            f"known: {', '.join(sorted(TOP_KEYS))}")
        for key in ("sizes", "tokens", "recipes"):
            if key not in raw:
                raise GridError(f"{source} lacks {key!r}")
        sizes = raw["sizes"]
        if not isinstance(sizes, list) or not sizes:
            raise GridError(f"'sizes' in {source} must be a non-empty list, e.g. [\"100k\", \"1M\"]")
        sizes = tuple(map(str, sizes))
        default_seeds = raw.get("seeds", [0])
        if not isinstance(raw["recipes"], list) or not raw["recipes"]:
            raise GridError(f"'recipes' in {source} must be a non-empty list, e.g. "
                            "[\"prose=1\", \"prose=1;front=dyck:0.01\"]")
        recipes = []
        for i, entry in enumerate(raw["recipes"]):
            if isinstance(entry, str):
                entry = {"mix": entry}
            if not isinstance(entry, dict):
                raise GridError(f"recipe #{i + 1} of {source} must be a --mix string or a table")
            bad = sorted(set(entry) - RECIPE_KEYS)
            if bad:
                raise GridError(f"unknown key(s) {', '.join(map(repr, bad))} in recipe "
                                f"#{i + 1} of {source}; known: {', '.join(sorted(RECIPE_KEYS))}")
            if "mix" not in entry:
                raise GridError(f"recipe #{i + 1} of {source} lacks 'mix'")
            mix, seeds = entry["mix"], entry.get("seeds", default_seeds)
            if not seeds or not all(isinstance(s, int) for s in seeds):
                raise GridError(f"seeds of recipe {mix!r} in {source} must be a list of ints")
            tokens = entry.get("tokens")
            if "precision" in entry.get("train", {}):
                raise GridError(f"recipe {mix!r} in {source} sets 'precision'; it is a "
                                "grid-wide runtime option: set it in [train]")
            recipes.append(RecipeEntry(
                mix=mix, seeds=tuple(seeds),
                tokens=None if tokens is None else _budget(tokens, sizes, f"recipe {mix!r}"),
                train=dict(entry.get("train", {}))))
        train = dict(raw.get("train", {}))
        precision = str(train.pop("precision", "auto"))
        if precision not in ("auto", *PRECISIONS):
            raise GridError(f"'precision' in [train] of {source} is {precision!r}; use auto, "
                            f"{', '.join(PRECISIONS)}")
        return cls(name=str(raw.get("name", default_name)), sizes=sizes,
                   recipes=tuple(recipes), tokens=_budget(raw["tokens"], sizes, source),
                   train=train, cluster=dict(raw.get("cluster", {})),
                   description=str(raw.get("description", "")), precision=precision)

    def budgets(self, entry: RecipeEntry, size: str) -> tuple[str, ...]:
        b = self.tokens if entry.tokens is None else entry.tokens
        return b[size] if isinstance(b, dict) else b

    def configs(self) -> list:
        """Every run's resolved :class:`~scaling.train.RunConfig`, validated before anything runs."""
        from .train import RunConfig

        out, seen, shapes = [], set(), {}
        for e in self.recipes:
            for size in self.sizes:
                for tokens in self.budgets(e, size):
                    for seed in e.seeds:
                        where = (f"grid {self.name!r}, recipe {e.mix!r}, size {size}, "
                                 f"tokens {tokens}, seed {seed}")
                        try:
                            cfg = RunConfig.from_args(size=size, mix=e.mix, tokens=tokens,
                                                      seed=seed, **{**self.train, **e.train})
                        except ScalingError as err:
                            raise GridError(f"{where}: {err}") from err
                        other = shapes.setdefault(cfg.shape, size)
                        if other != size:
                            raise GridError(f"sizes {other} and {size} of grid {self.name!r} "
                                            f"both give the model {cfg.shape}; choose sizes "
                                            "further apart")
                        if cfg.run_id in seen:
                            raise GridError(f"{where}: the same run is listed twice")
                        seen.add(cfg.run_id)
                        out.append(cfg)
        return out


# --------------------------------------------------------------------------- planning


def measure_throughput(configs: Sequence, device: str = "cpu", steps: int = 3,
                       precision: str = "auto", threads: int | None = None) -> dict[int, float]:
    """Training tokens/s of each distinct model shape, timed on ``device`` with random tokens.

    Used by the dry run to turn FLOPs into wall time on *this* machine: each shape runs the
    trainer's own step (:func:`scaling.train.loop.train_step`, in the precision the runs will
    use, fused AdamW) on a fixed batch, timed over ``steps`` steps after one warm-up step,
    with ``threads`` torch threads (a ``--jobs K`` worker's share) when given.
    """
    import torch

    precision = resolve_precision(precision, device).precision
    before = torch.get_num_threads()
    if threads and device == "cpu":
        torch.set_num_threads(threads)
    try:
        return _time_shapes(configs, device, steps, precision)
    finally:
        torch.set_num_threads(before)


def _time_shapes(configs: Sequence, device: str, steps: int, precision: str) -> dict[int, float]:
    import torch

    from .train import build_model
    from .train.loop import make_optimizer, make_scaler, train_step

    rates: dict[int, float] = {}
    for cfg in configs:
        key = hash((cfg.model, cfg.data.batch_size, cfg.data.seq_len))
        if key in rates:
            continue
        model = build_model(cfg.model, seed=0, device=device)
        opt = make_optimizer(model, cfg, device)
        gen = torch.Generator().manual_seed(0)
        x = torch.randint(0, cfg.model.vocab_size, (cfg.data.batch_size, cfg.data.seq_len),
                          generator=gen)
        mask = torch.ones_like(x, dtype=torch.bool)
        step = functools.partial(train_step, model, model, opt, x, x, mask, cfg.optim.lr,
                                 dev=device, precision=precision,
                                 scaler=make_scaler(precision, device))
        step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates[key] = x.numel() * steps / (time.perf_counter() - t0)
    return rates


def busy_note(device: str) -> str | None:
    """A warning when other work already loads the CPU that the dry run is about to time on
    (its estimate then runs high, several-fold beside other trainings), else None."""
    if device != "cpu" or not hasattr(os, "getloadavg"):
        return None
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load < 0.75 * cores:
        return None
    return (f"the CPU is busy (1-minute load {load:.1f} on {cores} cores): the steps were "
            "timed beside other work and the estimate runs high; repeat on an idle machine")


def plan(spec: GridSpec, out: str | os.PathLike | None = None, device: str = "cpu",
         timing: bool = True, precision: Any = None, jobs: int = 1) -> pd.DataFrame:
    """One row per run: id, size, shape, recipe, seed, tokens, FLOPs, estimated seconds, status.

    The timing runs in ``precision`` (default: the spec's), resolved as the runs will be, and
    with the threads each of ``jobs`` local workers gets (:func:`scaling.hardware.threads_per_job`).
    """
    from .train import flops_per_token

    configs = spec.configs()
    threads = threads_per_job(jobs) if jobs > 1 else None
    rates = (measure_throughput(configs, device, precision=precision or spec.precision,
                                threads=threads) if timing else {})
    rows = []
    for cfg in configs:
        flops = flops_per_token(cfg.model, cfg.data.seq_len) * cfg.data.tokens
        rate = rates.get(hash((cfg.model, cfg.data.batch_size, cfg.data.seq_len)))
        # WSD branches re-train their cooldowns: count those tokens too.
        extra = sum(f * cfg.optim.decay_frac for f in cfg.optim.branches) * cfg.data.tokens
        rows.append(dict(
            run_id=cfg.run_id, size=format_count(cfg.n_params), n_params=cfg.n_params,
            shape=str(cfg.shape), recipe=cfg.recipe, seed=cfg.seed, tokens=cfg.data.tokens,
            flops=flops * (1 + extra / cfg.data.tokens),
            est_seconds=(cfg.data.tokens + extra) / rate if rate else float("nan"),
            status=RunDir(Path(out) / cfg.run_id).status if out else "pending",
        ))
    return pd.DataFrame(rows)


@dataclass
class DryRun:
    """The plan of a grid on this machine: what ``scaling grid --dry-run`` prints."""

    grid: str
    table: pd.DataFrame
    """One row per run (:func:`plan`)."""
    device: str
    precision: Any
    """The :class:`~scaling.hardware.PrecisionChoice` the runs will use (and were timed in)."""
    warnings: list[str] = field(default_factory=list)
    jobs: int = 1
    """Local worker processes; each was timed with its share of the cores."""

    def summary(self) -> dict:
        t = self.table
        todo = t[t["status"] != "done"]
        out = {"grid": self.grid, "runs": len(t), "flops": float(t["flops"].sum()),
               "est_seconds": float(t["est_seconds"].sum()), "device": self.device,
               "precision": self.precision.precision,
               "precision_reason": self.precision.reason,
               "to_run": len(todo), "to_run_seconds": float(todo["est_seconds"].sum()),
               "jobs": self.jobs, "threads_per_job": threads_per_job(self.jobs),
               "to_run_wall_seconds": float(todo["est_seconds"].sum()) / self.jobs}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return {**out, "plan": jsonable(t.to_dict("records"))}

    def report(self) -> str:
        s, t = self.summary(), self.table
        shown = t.assign(tokens=t["tokens"].map(format_count),
                         flops=t["flops"].map(lambda f: f"{f:.2e}"),
                         est=t["est_seconds"].map(lambda x: f"{x:.0f}s"))
        lines = [shown[["run_id", "size", "shape", "recipe", "seed", "tokens", "flops", "est",
                        "status"]].to_string(index=False), "",
                 f"{s['runs']} runs, {s['flops']:.2e} FLOPs, about {s['est_seconds'] / 60:.1f} "
                 f"min of training on {self.device}, precision {self.precision} "
                 "(timed training steps; evaluation adds to it)"]
        if self.jobs > 1:
            lines.append(f"with --jobs {self.jobs} ({s['threads_per_job']} threads each, as "
                         f"timed): about {s['to_run_wall_seconds'] / 60:.1f} min of wall time")
        if s["to_run"] < s["runs"]:
            lines.append(f"{s['to_run']} of them still to run: about "
                         f"{s['to_run_seconds'] / 60:.1f} min")
        return "\n".join(lines)


def dry_run_plan(spec: GridSpec, out: str | os.PathLike | None = None,
                 device: str | None = None, precision: str | None = None,
                 jobs: int = 1) -> DryRun:
    """Plan ``spec`` on this machine, its steps timed as the runs will train: in their
    precision, and with each of ``jobs`` workers' share of the cores."""
    dev = resolve_device(device)
    busy = busy_note(dev)  # read before the timing below loads the CPU itself
    choice = resolve_precision(precision or spec.precision, dev)
    table = plan(spec, out, device=dev, precision=choice, jobs=jobs)
    return DryRun(spec.name, table, dev, choice, [busy] if busy else [], jobs)


# --------------------------------------------------------------------------- execution


def run_one(config: dict, run_dir: str, device: str | None = None,
            progress: bool = False, threads: int | None = None,
            keep_checkpoints: int | None = None, precision: Any = "auto") -> dict:
    """Train one run under its lock; the unit of work of every executor (picklable)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from .train import RunConfig, train

    cfg = RunConfig.from_dict(config)
    run_dir_p = Path(run_dir)
    rd = RunDir(run_dir_p)
    if rd.status == "done":
        return {"run_id": cfg.run_id, "status": "done", "reason": "already done", "skipped": True}
    try:
        with RunLock(run_dir_p):
            res = train(cfg, run_dir_p, device=device, progress=progress,
                        keep_checkpoints=keep_checkpoints, precision=precision)
    except RunLocked as e:
        return {"run_id": cfg.run_id, "status": "locked", "reason": str(e), "skipped": True}
    except ConfigMismatch as e:  # another run's directory: reported, never marked
        return {"run_id": cfg.run_id, "status": "failed", "reason": str(e), "skipped": True}
    except Exception as e:  # a crash of one run must not stop the grid
        reason = f"{type(e).__name__}: {e}"
        if rd.status == "incomplete":
            rd.mark_failed(f"crashed: {reason}")
        return {"run_id": cfg.run_id, "status": "failed", "reason": reason, "skipped": False}
    return {"run_id": cfg.run_id, "status": res.status, "reason": getattr(res, "reason", ""),
            "skipped": False}


@dataclass
class GridResult:
    """What :func:`run_grid` returns: every run's outcome (``run_one``'s dicts)."""

    out: Path
    results: list[dict]
    seconds: float
    grid: str = ""
    """The spec's name."""

    @property
    def counts(self) -> dict[str, int]:
        return _count(self.results)

    def summary(self) -> dict:
        """JSON contract of ``scaling grid --json``."""
        return {"grid": self.grid, "out": str(self.out), "seconds": round(self.seconds, 2),
                "counts": self.counts, "runs": self.results}

    def report(self) -> str:
        """What ``scaling grid`` prints: runs per status, the time, and each failed run's
        reason."""
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))
        lines = [f"grid {self.grid}: {counts} in {self.seconds:.0f}s → {self.out}"]
        lines += [f"  failed {r['run_id']}: {r['reason']}" for r in self.results
                  if r["status"] == "failed"]
        return "\n".join(lines)

    def unfinished(self) -> str | None:
        """Why the grid is not complete (failed or locked runs), or None when every run is
        done: the CLI exits non-zero with it."""
        c = self.counts
        parts = []
        if c.get("failed"):
            parts.append(f"{c['failed']} run(s) failed (see their reasons; --retry-failed "
                         "tries them again)")
        if c.get("locked"):
            parts.append(f"{c['locked']} run(s) locked by another live process (rerun when "
                         "it ends)")
        return f"grid {self.out} is incomplete: " + "; ".join(parts) if parts else None


def run_grid(spec: GridSpec, out: str | os.PathLike, executor: str = "local", jobs: int = 1,
             device: str | None = None, retry_failed: bool = False, progress: bool = True,
             on_result: Callable[[dict], None] | None = None,
             keep_checkpoints: int | None = None, precision: str | None = None) -> GridResult:
    """Run every run of ``spec`` that is not finished into ``out/<run_id>``.

    Parameters
    ----------
    executor : {"local", "submitit"}
        ``local`` trains in this process (``jobs=1``) or in ``jobs`` worker processes;
        ``submitit`` submits a job array (SLURM when available, submitit's local executor
        otherwise) with the spec's ``[cluster]`` parameters and waits for it.
    retry_failed : bool
        Forget failed runs' markers and try them again (by default they are reported and
        left). A run directory holding another run's config is reported as failed and left
        untouched.
    keep_checkpoints : int, optional
        Keep only each run's newest K checkpoints (default: all; see
        :func:`scaling.train.train`).
    precision : str, optional
        ``auto``, ``fp32``, ``bf16``, ``fp16``; default: the spec's ``[train] precision``.
        Local runs share one resolution (made here); cluster jobs resolve it on their node.
    """
    _check_options(executor, jobs, keep_checkpoints)
    configs = spec.configs()  # every recipe and option validated before anything runs
    precision = precision or spec.precision
    if precision not in ("auto", *PRECISIONS):
        raise GridError(f"unknown precision {precision!r}; use auto, {', '.join(PRECISIONS)}")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GridError(f"cannot create grid directory {out}: {e.strerror}") from e
    t0 = time.perf_counter()
    results, todo = _sort_runs(configs, out, retry_failed)

    from tqdm.auto import tqdm

    bar = tqdm(total=len(configs), initial=len(results), desc=f"grid {spec.name}", unit="run",
               disable=not progress or None)

    def record(r: dict) -> None:
        results.append(r)
        bar.update(1)
        bar.set_postfix_str(", ".join(f"{k} {v}" for k, v in sorted(_count(results).items())))
        if on_result:
            on_result(r)

    if executor == "submitit":  # each job resolves the precision on its own node
        _run_submitit(spec, todo, out, device, record, keep_checkpoints, precision)
    elif todo:
        _run_local(spec, todo, out, device, record, bar, jobs=jobs, progress=progress,
                   keep_checkpoints=keep_checkpoints, precision=precision)
    bar.close()
    return GridResult(out=out, results=results, seconds=time.perf_counter() - t0,
                      grid=spec.name)


def _check_options(executor: str, jobs: int, keep_checkpoints: int | None) -> None:
    """The executor (and submitit, when asked for), ``--jobs`` and ``--keep-checkpoints``."""
    if executor not in EXECUTORS:
        raise GridError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if executor == "submitit":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise GridError("the submitit executor needs the 'cluster' extra: "
                            "pip install 'scaling[cluster]' (or pip install submitit)") from None
    if jobs < 1:
        raise GridError("--jobs must be ≥ 1")
    if keep_checkpoints is not None and keep_checkpoints < 1:
        raise GridError(f"--keep-checkpoints must be ≥ 1 (the newest is needed to resume), "
                        f"got {keep_checkpoints}")


def _sort_runs(configs: list, out: Path, retry_failed: bool) -> tuple[list[dict], list]:
    """The outcomes of the runs that will not train (done, failed, another run's directory)
    and the configs still to train; ``retry_failed`` clears the failed runs' markers."""
    results: list[dict] = []
    todo = []
    for cfg in configs:
        rd = RunDir(out / cfg.run_id)
        try:
            mismatch = rd.config_mismatch({**cfg.to_dict(), "run_id": cfg.run_id})
        except StoreError as e:  # an unparsable config.json
            mismatch = e
        if mismatch:  # e.g. a config.json copied from another run: never counted done
            results.append({"run_id": cfg.run_id, "status": "failed", "skipped": True,
                            "reason": str(mismatch)})
            continue
        status = rd.status
        if status == "failed" and retry_failed:
            rd.clear_failed()
            status = "incomplete"
        if status in ("done", "failed"):
            results.append({"run_id": cfg.run_id, "status": status, "skipped": True,
                            "reason": rd.reason})
        else:
            todo.append(cfg)
    return results, todo


def _run_local(spec: GridSpec, todo: list, out: Path, device: str | None,
               record: Callable[[dict], None], bar, *, jobs: int, progress: bool,
               keep_checkpoints: int | None, precision: str) -> None:
    """Train ``todo`` in this process (``jobs=1``) or in ``jobs`` worker processes."""
    # one resolution for all local runs: the calibration is timed once, on idle cores
    choice = resolve_precision(precision, resolve_device(device))
    if jobs == 1:
        for cfg in todo:
            bar.set_description_str(f"grid {spec.name}: {cfg.recipe} "
                                    f"{format_count(cfg.n_params)}")
            record(run_one(cfg.to_dict(), str(out / cfg.run_id), device, progress=progress,
                           keep_checkpoints=keep_checkpoints, precision=choice))
        return
    threads = threads_per_job(jobs)  # each worker its share of the cores, never all
    # workers end with this process, even under kill -9 (scaling.workers)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        futs = [pool.submit(run_one, cfg.to_dict(), str(out / cfg.run_id), device,
                            False, threads, keep_checkpoints, choice) for cfg in todo]
        for f in as_completed(futs):
            record(f.result())


def _count(results: list[dict]) -> dict[str, int]:
    c: dict[str, int] = {}
    for r in results:
        c[r["status"]] = c.get(r["status"], 0) + 1
    return c


def _run_submitit(spec: GridSpec, todo: list, out: Path, device: str | None,
                  record: Callable[[dict], None], keep_checkpoints: int | None = None,
                  precision: str = "auto") -> None:
    import submitit

    if not todo:
        return
    folder = out / ".submitit"
    params = dict(spec.cluster)
    cluster = params.pop("cluster", None)
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params.setdefault("timeout_min", 60)
    ex.update_parameters(name=f"scaling-{spec.name}", **params)
    jobs = ex.map_array(run_one, [c.to_dict() for c in todo],
                        [str(out / c.run_id) for c in todo], [device] * len(todo),
                        [False] * len(todo), [None] * len(todo),
                        [keep_checkpoints] * len(todo), [precision] * len(todo))
    for job, cfg in zip(jobs, todo, strict=True):
        try:
            record(job.result())
        except Exception as e:  # the job itself died (node failure, timeout, …)
            record({"run_id": cfg.run_id, "status": "failed", "skipped": False,
                    "reason": f"job {job.job_id}: {type(e).__name__}: {e}"})
