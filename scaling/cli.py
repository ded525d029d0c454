"""The ``scaling`` command line: thin wrappers that parse, call the library, and print.

Every command takes ``--json`` (one JSON object on stdout, stable keys). Errors a user can fix
end with a non-zero exit and one line on stderr saying what to fix.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from .defaults import BOOTSTRAP
from .errors import ScalingError
from .jsonsafe import jsonable

app = typer.Typer(
    name="scaling",
    help="Predict what a change of training data buys a language model: skill grokking "
         "curves, loss laws, data savings with intervals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object (stable keys).")]
GridPrecisionOpt = Annotated[str | None, typer.Option(
    help="auto, fp32, bf16 or fp16 for every run (default: the spec's [train] precision, "
    "else auto: the fastest this hardware supports; see `scaling env`).")]
DropOpt = Annotated[bool, typer.Option(
    "--drop-bad-rows", help="Leave out CSV rows with empty, NaN or infinite values and repeated "
    "rows, and say how many (default: refuse them, naming the rows).")]
KeepOpt = Annotated[int | None, typer.Option(
    "--keep-checkpoints", help="Keep only the newest K checkpoints of a run (default: all; "
    "they are resume points and cost disk, not results: metrics hold every evaluation).")]


def emit_json(obj: dict) -> None:
    typer.echo(json.dumps(jsonable(obj), indent=2))


def show(result: Any, as_json: bool, warnings: Iterable[str] = ()) -> None:
    """Print a result object: ``.summary()`` as JSON, or its ``.report()`` text followed by
    ``warnings`` on stderr, one ``warning: …`` line each (the JSON carries them)."""
    if as_json:
        emit_json(result.summary())
        return
    typer.echo(result.report())
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)


def runs_or_reference(runs: Path | None) -> Path:
    """``--runs``, defaulting to the shipped reference grid (with a clear error if absent)."""
    from .paths import reference_runs

    return runs if runs is not None else reference_runs()


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(fn):
    """Turn errors a user can fix into one line on stderr and exit code 1.

    Any other exception is a bug: one line too, with a hint to report it, unless
    ``SCALING_DEBUG=1`` asks for the traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except (ScalingError, FileNotFoundError) as e:
            fail(str(e).strip('"'))
        except Exception as e:
            fail(unexpected_error(e))

    return wrapper


def single_blas_thread_process() -> None:
    """Start numpy's BLAS with one thread, unless the user set its thread count: a law fit runs
    every solve under one BLAS thread anyway (:func:`scaling.fit.optim.one_blas_thread`), and
    OpenBLAS's thread pool, started when numpy loads, costs ~0.05–0.1 s of CPU (most of it in
    the kernel) on a command of ~0.7 s. Only before numpy is imported does this take effect."""
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def unexpected_error(e: BaseException) -> str:
    """One line for an exception no check foresaw (re-raised under ``SCALING_DEBUG=1``)."""
    if os.environ.get("SCALING_DEBUG", "") not in ("", "0"):
        raise e
    if isinstance(e, OSError) and e.strerror:  # a file that cannot be read or written
        return f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    first = (str(e).strip().splitlines() or [""])[0]
    return (f"unexpected {type(e).__name__}: {first} (please report this with the command; "
            "SCALING_DEBUG=1 shows the traceback)")


# --------------------------------------------------------------------------- runs / import


@app.command("runs")
@user_errors
def runs_cmd(
    directory: Annotated[Path, typer.Argument(help="A run, a grid, or a folder of grids.")],
    as_json: JsonOpt = False,
) -> None:
    """Table of runs and their status (done / failed / incomplete)."""
    if directory.exists() and not directory.is_dir():
        fail(f"{directory} is a file; give a run directory, a grid or a folder of grids")
    from .store import load_runs

    loaded = load_runs(directory)
    if loaded.runs.empty:
        fail(f"no runs under {directory} (no directory there holds a config.json); give a run "
             "directory, a grid or a folder of grids")
    show(loaded, as_json, warnings=loaded.warnings)


@app.command("import")
@user_errors
def import_cmd(
    csv: Annotated[Path, typer.Argument(help="CSV with params/N, tokens/D, loss or name+value "
                                              "(optional: run, step, recipe, seed, kind).")],
    out: Annotated[Path, typer.Option("--out", help="Run store to write (created if needed).")],
    tokens_per_step: Annotated[str | None, typer.Option(
        "--tokens-per-step", help="Tokens per optimizer step (batch × sequence length), for a "
        "CSV of steps without a tokens column, e.g. 2M.")] = None,
    drop_bad_rows: DropOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Build a run store from a plain CSV (other trainers, published curves)."""
    from .validate import check_count, check_run_dir, check_text_file

    check_text_file(csv, "CSV file", "CSV")
    check_run_dir(out)
    per_step = check_count(tokens_per_step, "--tokens-per-step")
    from .importer import import_csv

    res = import_csv(csv, out, drop_bad_rows=drop_bad_rows, tokens_per_step=per_step)
    show(res, as_json, warnings=res.notes)


@app.command("train")
@user_errors
def train_cmd(
    size: Annotated[str, typer.Option("--size", help="Non-embedding parameters: 100k, 3M, "
                                      "1.3B (shape rule: d = 32·layers).")],
    mix: Annotated[str, typer.Option("--mix", help="Recipe, e.g. 'prose=0.5,code=0.5' or "
                                     "'prose=1;front=dyck:0.01:reset'.")],
    tokens: Annotated[str, typer.Option("--tokens", help="Budget: 3e5, 300k, 2M, or 20x "
                                        "(tokens per parameter).")],
    out: Annotated[Path, typer.Option("--out", help="The run directory (rerun to resume).")],
    seed: Annotated[int, typer.Option(help="Initialisation and data seed.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 (default: cuda when "
                                               "available).")] = None,
    schedule: Annotated[str, typer.Option(help="cosine or wsd.")] = "cosine",
    branches: Annotated[str | None, typer.Option(help="WSD decay branches, e.g. 0.25,0.5.")]
    = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Global batch (sequences).")]
    = 32,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Tokens per sequence.")] = 128,
    layers: Annotated[int | None, typer.Option(help="Fix the depth; the shape rule picks the "
                                               "width.")] = None,
    warmup_steps: Annotated[int | None, typer.Option(
        "--warmup-steps", help="Warm-up steps of every stage (default: 5% of its steps); give "
        "runs of several budgets that are compared the same warm-up.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak LR (default: min(3e-3, 0.75/width)).")]
    = None,
    precision: Annotated[str, typer.Option(help="auto (the fastest this hardware supports: bf16 "
                                           "only where native; see `scaling env`), fp32, "
                                           "bf16 or fp16.")] = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model.")] = False,
    keep_checkpoints: KeepOpt = None,
    width: Annotated[int | None, typer.Option(help="Fix the width (with --layers; past the "
                                              "shape rule, e.g. the diagnostic 2 × 16).")] = None,
    heads: Annotated[int | None, typer.Option(help="Attention heads (with --width; default "
                                              "width/32).")] = None,
    front_tokens: Annotated[str | None, typer.Option(
        "--front-tokens", help="Length of the recipe's front= phase in tokens (the warm-up "
        "budget; --tokens minus it is trained after).")] = None,
    evals: Annotated[int | None, typer.Option(help="Evenly spaced evaluations on top of the "
                                              "log-spaced ones.")] = None,
    task_items: Annotated[int | None, typer.Option(
        "--task-items", help="Held-out items per skill task per evaluation (default 256).")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Train one run (torchrun --nproc_per_node K -m scaling train … for DDP)."""
    from .validate import check_train_args

    # every argument, the device and the memory the model needs, before torch is imported
    # and before anything is written
    check_train_args(size, mix, tokens, batch_size=batch_size, seq_len=seq_len, layers=layers,
                     lr=lr, warmup_steps=warmup_steps, schedule=schedule, branches=branches,
                     device=device, precision=precision, keep_checkpoints=keep_checkpoints,
                     out=out, seed=seed, width=width, heads=heads)
    from .train import RunConfig, train

    cfg = RunConfig.from_args(size=size, mix=mix, tokens=tokens, seed=seed, schedule=schedule,
                              branches=branches, batch_size=batch_size, seq_len=seq_len, lr=lr,
                              layers=layers, warmup_steps=warmup_steps, width=width,
                              heads=heads, front_tokens=front_tokens, evals=evals,
                              task_items=task_items)
    from .hardware import resolve_device, resolve_precision

    choice = resolve_precision(precision, resolve_device(device))
    typer.echo(f"{cfg.run_id}: {cfg.describe()}; precision {choice}", err=True)
    res = train(cfg, out, device=device, progress=not as_json, precision=choice,
                compile=compile, keep_checkpoints=keep_checkpoints)
    if res is None:  # a DDP rank other than 0
        return
    show(res, as_json)
    if res.status == "failed":  # the result is printed, and the exit code still says so
        if as_json:
            fail(f"run {res.run_id} failed: {res.reason}")
        raise typer.Exit(1)


@app.command("grid")
@user_errors
def grid_cmd(
    spec: Annotated[Path, typer.Argument(help="Grid spec (TOML), e.g. runs/grids/cpu-tiny.toml.")],
    out: Annotated[Path | None, typer.Option("--out", help="Grid directory: one run per "
                                             "sub-directory. Required unless --dry-run.")] = None,
    executor: Annotated[str, typer.Option(help="local or submitit (SLURM arrays).")] = "local",
    jobs: Annotated[int, typer.Option(help="Local worker processes.")] = 1,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 … (default: cuda "
                                               "when available)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (runs, FLOPs, "
                                          "estimated wall time here) and stop.")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed",
                                               help="Retry failed runs.")] = False,
    keep_checkpoints: KeepOpt = None,
    precision: GridPrecisionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a size × recipe × seed grid; rerunning skips finished runs and resumes partial ones."""
    from .validate import check_grid_args, check_run_dir, check_text_file

    check_text_file(spec, "grid spec", "TOML")
    if out is not None:
        check_run_dir(out)
    from .grid import GridSpec, dry_run_plan, run_grid

    gs = GridSpec.load(spec)
    check_grid_args(gs, device=device, jobs=jobs, executor=executor,
                    keep_checkpoints=keep_checkpoints, precision=precision)
    if dry_run:
        res = dry_run_plan(gs, out, device=device, precision=precision, jobs=jobs)
        show(res, as_json, warnings=res.warnings)
        return
    if out is None:
        fail("--out DIR is required (or use --dry-run)")
    res = run_grid(gs, out, executor=executor, jobs=jobs, device=device,
                   retry_failed=retry_failed, progress=not as_json,
                   keep_checkpoints=keep_checkpoints, precision=precision)
    show(res, as_json)
    unfinished = res.unfinished()
    if unfinished:  # in every output mode: a grid with failed or locked runs is not complete
        fail(unfinished)


# --------------------------------------------------------------------------- fit

fit_app = typer.Typer(help="Fit loss laws, grokking curves and mixture laws.",
                      no_args_is_help=True)
app.add_typer(fit_app, name="fit")

PredictOpt = Annotated[Path | None, typer.Option(
    "--predict", help="CSV of rows to apply the fit to (same key columns, no target).")]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", help="Where --predict writes X plus predicted, lower, upper (90% interval).")]


@fit_app.command("law")
@user_errors
def fit_law_cmd(
    source: Annotated[Path, typer.Argument(help="CSV with params,tokens,loss (aliases N, D; "
                                                "optional run, recipe) or a run store.")],
    form: Annotated[str, typer.Option(help="chinchilla: L(N,D)=E+A/N^alpha+B/D^beta; "
                                           "power: L(D)=E+B/D^beta.")] = "chinchilla",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over runs for the "
                                                "intervals (0: curvature-based).")] = 200,
    points: Annotated[str, typer.Option(help="final: end point of every run (and WSD "
                                             "branch); all: every checkpoint.")] = "final",
    min_tokens: Annotated[str | None, typer.Option(help="Drop points below this many tokens "
                                                        "(e.g. 1e7, 10M).")] = None,
    domain: Annotated[str | None, typer.Option(help="Run store: val_loss domain (default: "
                                                    "the only one, else prose).")] = None,
    recipe: Annotated[str | None, typer.Option(help="Fit only this recipe (default: every "
                                                    "recipe separately).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    predict: PredictOpt = None,
    out: OutOpt = None,
    drop_bad_rows: DropOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a loss law (Huber in log space, 4,500-start grid, bootstrap intervals)."""
    from .validate import check_fit_args

    single_blas_thread_process()

    check_fit_args(source, predict, out, form=form, points=points, bootstrap=bootstrap,
                   min_tokens=min_tokens, drop_bad_rows=drop_bad_rows, seed=seed)
    from .fit.output import fit_law_source
    from .units import parse_count

    show(fit_law_source(source, form, domain=domain, recipe=recipe, drop_bad_rows=drop_bad_rows,
                        predict=predict, out=out, bootstrap=bootstrap, seed=seed, points=points,
                        min_tokens=None if min_tokens is None else parse_count(min_tokens)),
         as_json)


@fit_app.command("grok")
@user_errors
def fit_grok_cmd(
    source: Annotated[Path, typer.Argument(help="CSV with curve,tokens,value or a run store "
                                                "(curves = run x skill).")],
    skill: Annotated[str | None, typer.Option(help="Run store: only this skill.")] = None,
    predict: PredictOpt = None,
    out: OutOpt = None,
    drop_bad_rows: DropOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a sigmoid in log-tokens per curve; grokked / not_yet / never by BIC."""
    from .validate import check_fit_args

    check_fit_args(source, predict, out, grok=True, drop_bad_rows=drop_bad_rows)
    from .fit.output import fit_grok_source

    show(fit_grok_source(source, skill=skill, drop_bad_rows=drop_bad_rows, predict=predict,
                         out=out), as_json)


@fit_app.command("mixture")
@user_errors
def fit_mixture_cmd(
    train: Annotated[Path, typer.Argument(help="CSV of mixtures: mix_<domain> weight "
                                               "columns and the target column.")],
    target: Annotated[str, typer.Option("--target", help="Column to predict.")],
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    predict: PredictOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mixture law (data mixing law / quadratic / kernel), chosen by cross-validation."""
    from .validate import at_least, check_fit_args

    check_fit_args(train, predict, out, seed=seed)
    at_least(folds, "--folds", 2)
    from .fit.output import fit_mixture_source

    show(fit_mixture_source(train, target, folds=folds, seed=seed, predict=predict, out=out),
         as_json)


# --------------------------------------------------------------------------- data

data_app = typer.Typer(help="Inspect data domains, probes and recipes.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("show")
@user_errors
def data_show_cmd(
    domain: Annotated[str, typer.Argument(help="A domain (dyck, prose, math, NAME@PATH[:FIELD] "
                                               "…) or a probe (needle, add_plain, …; probe:sort "
                                               "for the probe named like a domain).")],
    n: Annotated[int, typer.Option("-n", help="How many samples.")] = 3,
    difficulty: Annotated[int, typer.Option(help="Probe difficulty (probes only).")] = 1,
    tokenizer: Annotated[str, typer.Option(help="byte or bpe[:VOCAB].")] = "byte",
    as_json: JsonOpt = False,
) -> None:
    """Decoded samples of a domain (train split) or of a skill probe."""
    from .validate import at_least

    at_least(n, "-n", 1)
    at_least(difficulty, "--difficulty", 1)
    from .data.inspect import samples

    show(samples(domain, n, difficulty, tokenizer), as_json)


@data_app.command("stats")
@user_errors
def data_stats_cmd(
    mix: Annotated[str, typer.Option("--mix", help="Recipe, e.g. 'prose=1;front=dyck:0.01'.")],
    tokens: Annotated[str, typer.Option("--tokens", help="Run length D: 300k, 2M, 3e6.")],
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = 32,
    seq_len: Annotated[int, typer.Option(help="Tokens per row.")] = 128,
    seed: Annotated[int, typer.Option(help="Data seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Realised token fractions per domain and per phase of a recipe."""
    from .recipe import parse_recipe
    from .units import parse_tokens
    from .validate import at_least, check_budget, check_seed

    parse_recipe(mix)
    check_seed(seed)
    at_least(batch_size, "--batch-size", 1)
    at_least(seq_len, "--seq-len", 1)
    budget = parse_tokens(tokens)
    check_budget(budget, batch_size, seq_len, one_batch=False)  # a part-batch is one step
    from .data.stats import recipe_stats

    show(recipe_stats(mix, budget, batch_size, seq_len, seed), as_json)

# --------------------------------------------------------------------------- predict / backtest

RunsOpt = Annotated[Path | None, typer.Option(
    "--runs", help="Run store (default: the shipped reference grid runs/reference/).")]
DomainOpt = Annotated[str | None, typer.Option(
    "--domain", help="Target validation domain (default: the store's only one, else prose).")]
MinTokensOpt = Annotated[str | None, typer.Option(
    "--min-tokens", help="Leave out runs and branches with budgets below this many tokens "
    "(e.g. 200k): too short to follow the law of the longer ones.")]


def _min_tokens(value: str | None) -> float | None:
    from .units import parse_count

    return None if value is None else float(parse_count(value, "--min-tokens"))


PointsOpt = Annotated[str, typer.Option(
    "--points", help="final (each run's and decay branch's end point) or all (every "
    "checkpoint: for grids of learning curves with few runs).")]

MethodOpt = Annotated[str | None, typer.Option(
    "--method", help="joint (one law for the recipes, each an effective-data multiplier; "
    "default when the recipe and baseline have runs at >= 2 sizes) or independent (one law "
    "per recipe).")]


@app.command("predict")
@user_errors
def predict_cmd(
    mix: Annotated[str, typer.Option("--mix", help="Recipe to evaluate, e.g. "
                                     "'prose=1;front=dyck:0.001'.")],
    baseline: Annotated[str | None, typer.Option("--baseline", help="Baseline recipe "
                                                 "(default: the grid's prose=1).")] = None,
    runs: RunsOpt = None,
    size: Annotated[str | None, typer.Option("--size", help="Target size, non-embedding "
                                             "params: 1M, 1.3B (default: 10× the grid's "
                                             "largest).")] = None,
    tokens: Annotated[str | None, typer.Option("--tokens", help="Baseline budget D_b: 20M or "
                                               "20x (default: 20 tokens per parameter).")]
    = None,
    domain: DomainOpt = None,
    min_tokens: MinTokensOpt = None,
    points: PointsOpt = "final",
    no_procedural: Annotated[bool, typer.Option("--no-procedural", help="Do not count "
                                                "procedural tokens in D_r.")] = False,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per recipe.")] = \
        BOOTSTRAP,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    suggest: Annotated[bool, typer.Option("--suggest", help="Also name the extra small run "
                                          "that most shrinks the interval (slower).")] = False,
    crossover: Annotated[bool, typer.Option("--crossover", help="Also give the model size at "
                                            "which s crosses 1 along the fitted trend.")]
    = False,
    method: MethodOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Data savings of a recipe vs the baseline at a target size, with a 90% interval."""
    from .recipe import parse_recipe
    from .validate import check_predict_args, check_runs_source

    for recipe in (mix, baseline):
        if recipe is not None and "=" in recipe:  # else a grid's name (imported), found later
            parse_recipe(recipe)
    check_predict_args(size, tokens, bootstrap, seed, points)
    check_runs_source(runs)
    cut = _min_tokens(min_tokens)
    from .predict import ask, load_points

    grid = load_points(runs_or_reference(runs), domain, cut, points)
    show(ask(grid, mix, baseline=baseline, size=size, tokens=tokens,
             count_procedural=not no_procedural, bootstrap=bootstrap, seed=seed, method=method,
             suggest=suggest, crossover=crossover), as_json)


@app.command("backtest")
@user_errors
def backtest_cmd(
    runs: RunsOpt = None,
    domain: DomainOpt = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Baseline recipe "
                                                 "(default: the grid's prose=1).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per recipe.")] = \
        BOOTSTRAP,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    min_tokens: MinTokensOpt = None,
    points: PointsOpt = "final",
    hold_out: Annotated[str | None, typer.Option(
        "--hold-out", help="Sizes to hold out: the largest K (2) or every size from SIZE up "
        "(394k); default the largest. Errors are also given per size against its "
        "extrapolation factor.")] = None,
    method: MethodOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hold out the largest size(s), predict their losses and savings from the rest, score
    them."""
    from .validate import check_hold_out, check_predict_args, check_runs_source

    check_predict_args(None, None, bootstrap, seed, points)
    check_hold_out(hold_out)
    check_runs_source(runs)
    cut = _min_tokens(min_tokens)
    from .predict import backtest

    res = backtest(runs_or_reference(runs), target_domain=domain,
                   baseline=baseline, bootstrap=bootstrap, seed=seed, min_tokens=cut,
                   method=method, points=points, hold_out=hold_out)
    show(res, as_json)


@app.command("report")
@user_errors
def report_cmd(
    out: Annotated[Path, typer.Option("--out", help="The PDF to write, e.g. report.pdf.")],
    runs: RunsOpt = None,
    domain: DomainOpt = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="Baseline recipe "
                                                 "(default: the grid's prose=1).")] = None,
    size: Annotated[str | None, typer.Option("--size", help="Headline target size, e.g. 2M "
                                             "(default: 10× the grid's largest).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per law (the same "
                                           "default as `predict`).")] = BOOTSTRAP,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """The PDF report: grid, laws, savings, skill emergence, backtest, provenance."""
    from .validate import check_output_file, check_predict_args, check_runs_source

    check_predict_args(size, None, bootstrap, seed)
    check_runs_source(runs)
    check_output_file(out)
    from .report import build_report

    res = build_report(runs_or_reference(runs), out,
                       target_domain=domain, baseline=baseline, size=size,
                       bootstrap=bootstrap, seed=seed)
    show(res, as_json)


@app.command("demo")
@user_errors
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Where the grid and the report go.")] =
    Path("demo-out"),
    jobs: Annotated[int, typer.Option(help="Local worker processes for the grid.")] = 1,
    precision: GridPrecisionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The embedded default end to end: cpu-tiny grid → fits → savings → PDF report."""
    from .validate import at_least, check_run_dir

    at_least(jobs, "--jobs", 1)
    check_run_dir(out)
    from .demo import run_demo

    show(run_demo(out, jobs=jobs, precision=precision, progress=not as_json,
                  echo=(lambda s: typer.echo(s, err=True)) if as_json else typer.echo),
         as_json)


@app.command("env")
@user_errors
def env_cmd(
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 (default: cuda when "
                                               "available).")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Re-time the cached matmul "
                                          "calibration.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """This machine as the trainer sees it: CPU capability, native bf16, measured matmul rates,
    threads, torch, GPUs, and what --precision auto picks and why. Run it first when training
    is slow."""
    from .hardware import env_report

    show(env_report(device, refresh=refresh), as_json)


def main() -> None:
    """Console-script entry point. A usage error (unknown option, missing or unreadable value)
    and an exception that escapes a command are one line on stderr too."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except typer.TyperException as e:  # typer's usage errors
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ != "NoArgsIsHelpError":  # (that one has printed the help)
            message = " ".join(e.format_message().split())
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            typer.echo(f"error: {message}{hint}", err=True)
        sys.exit(getattr(e, "exit_code", 2))
    except Exception as e:  # commands catch their own (user_errors); this is the last guard
        typer.echo(f"error: {unexpected_error(e)}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
