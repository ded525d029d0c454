"""Checks of command-line arguments that run before any heavy import or any write.

Every check raises a :class:`~scaling.errors.ScalingError` whose message is one line naming
the argument and what to fix. Nothing here imports torch, pandas, scipy or matplotlib at module
level (torch only inside :func:`check_device`, and only where a CUDA driver exists), so a bad
argument is refused in about the time ``scaling --help`` takes, before a run directory, a store or
an output file is created.

The training-memory estimate (:func:`training_memory`) is a lower bound, so a model that would
fit is never refused:

- parameter state: 16 bytes per parameter (fp32 weights and gradients, AdamW's two moments);
- activations kept for the backward pass: ``32 · T · B · d`` bytes per layer with 16-bit
  activations, twice that in fp32 (Korthikanti et al., 2022, "Reducing Activation Recomputation
  in Large Transformer Models", eq. 1, ``34 sbh + 5 as²b``, less the dropout masks this model
  does not have and the attention scores that fused attention does not keep);
- logits and their gradient: ``2 · B · T · V`` fp32 values.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

from .errors import ScalingError
from .shape import Shape, non_embedding_params, shape_for
from .units import UnitError, parse_count, parse_tokens

#: Largest token budget accepted (train, grid, data stats, predict): 1e15 tokens is more text
#: than any training corpus holds, and years of training even for the smallest model.
MAX_TOKENS = 10**15

#: Device names ``--device`` accepts.
_DEVICE = re.compile(r"^(cpu|mps|cuda(:[0-9]+)?)$")


class ConfigError(ScalingError, ValueError):
    """A run option that cannot be used as given."""


# --------------------------------------------------------------------------- numbers


def at_least(value: int | float | None, name: str, minimum: int | float,
             why: str = "") -> None:
    """``value >= minimum`` (None passes: the option was not given)."""
    if value is not None and not value >= minimum:
        raise ConfigError(f"{name} must be ≥ {minimum}{why}, got {value}")


def positive_finite(value: float | None, name: str) -> None:
    """A finite number > 0 (None passes)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a finite number > 0, got {value}")


def check_seed(seed: int | None, option: str = "--seed") -> None:
    """A seed in [0, 2^63): numpy and torch take no negative seeds, and stages add offsets."""
    if seed is not None and not 0 <= seed < 2**63:
        raise ConfigError(f"{option} must be an integer in [0, 2^63), got {seed}")


def parse_size(size: str | int | float, what: str = "size") -> int:
    """``--size`` as a non-embedding parameter count."""
    try:
        return parse_count(size, what=what)
    except UnitError as e:
        raise ConfigError(f"{e} (--size is a non-embedding parameter count)") from None


def check_budget(tokens: int, batch_size: int, seq_len: int, one_batch: bool = True) -> None:
    """A training budget of at most :data:`MAX_TOKENS` and (``one_batch``) at least one batch."""
    if tokens > MAX_TOKENS:
        raise ConfigError(f"--tokens {tokens:.3g} is more than {MAX_TOKENS:.0e}, the largest "
                          "budget accepted (more text than any corpus holds); lower --tokens")
    per_step = batch_size * seq_len
    if one_batch and tokens < per_step:
        raise ConfigError(
            f"--tokens {tokens} is smaller than one batch ({per_step} = {batch_size} sequences × "
            f"{seq_len} tokens); raise --tokens or lower --batch-size/--seq-len")


def check_optim(lr: float | None = None, warmup_steps: int | None = None,
                schedule: str | None = None) -> None:
    """Optimizer options: a finite LR > 0, warm-up steps ≥ 0, a known schedule."""
    positive_finite(lr, "--lr")
    at_least(warmup_steps, "--warmup-steps", 0)
    if schedule is not None and schedule not in ("cosine", "wsd"):
        raise ConfigError(f"unknown schedule {schedule!r}; use cosine or wsd")


def parse_branches(value: str | tuple | list) -> tuple[float, ...]:
    """``'0.25,0.5'`` → (0.25, 0.5), sorted, each in (0, 1)."""
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ConfigError(f"cannot read --branches {value!r}; use e.g. 0.25,0.5") from None
    else:
        vals = [float(v) for v in value]
    for v in vals:
        if not 0 < v < 1:
            raise ConfigError(f"--branches fraction {v} must lie strictly between 0 and 1")
    if len(set(vals)) != len(vals):
        raise ConfigError(f"--branches {value!r} repeats a fraction")
    return tuple(sorted(vals))


# --------------------------------------------------------------------------- devices, memory


def _no_cuda_driver() -> bool:
    """True when this Linux machine certainly has no CUDA device (no NVIDIA driver loaded)."""
    return sys.platform == "linux" and not Path("/proc/driver/nvidia").exists()


def host_memory() -> int:
    """Bytes of memory of this machine (the smaller of RAM and a cgroup limit)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def check_device(device: str | None, option: str = "--device") -> tuple[str, int]:
    """Resolve ``--device`` (default: CUDA when available) and return it with its memory.

    Refuses unknown names, CUDA where there is none, and a CUDA index beyond the devices.
    """
    if device in (None, "", "auto"):
        if _no_cuda_driver():
            return "cpu", host_memory()
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not _DEVICE.match(device):
        raise ConfigError(f"unknown {option} {device!r}; use cpu, cuda, cuda:N or mps")
    if device == "cpu":
        return device, host_memory()
    if device.startswith("cuda"):
        if _no_cuda_driver():
            raise ConfigError(f"{option} {device}: this machine has no CUDA device (no NVIDIA "
                              "driver); use --device cpu")
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"{option} {device}: CUDA is not available here "
                              f"(torch {torch.__version__}); use --device cpu")
        index = int(device.partition(":")[2] or torch.cuda.current_device())
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(f"{option} {device}: this machine has {count} CUDA device(s) "
                              f"(cuda:0–cuda:{count - 1})")
        return device, int(torch.cuda.get_device_properties(index).total_memory)
    import torch

    if not torch.backends.mps.is_available():
        raise ConfigError(f"{option} mps: no Apple GPU (MPS) is available here; use --device cpu")
    return device, host_memory()  # unified memory


def training_memory(shape: Shape, vocab_size: int, batch_size: int, seq_len: int,
                    precision: str = "auto") -> dict[str, int]:
    """Lower bound of the bytes one training process needs (module docstring).

    Returns ``{"params", "state", "activations", "total"}`` (``params``: parameter count).
    """
    d, L = shape.d_model, shape.n_layer
    params = non_embedding_params(L, d) + vocab_size * d  # tied head: the embedding once
    act_bytes = 2 if precision != "fp32" else 4
    activations = (16 * act_bytes * L * batch_size * seq_len * d
                   + 2 * 4 * batch_size * seq_len * vocab_size)
    state = 16 * params
    return {"params": params, "state": state, "activations": activations,
            "total": state + activations}


def _bytes(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 2**10:.3g} KiB"


def check_fits(shape: Shape, vocab_size: int, batch_size: int, seq_len: int, device: str,
               memory: int, precision: str = "auto", what: str = "") -> None:
    """Refuse a model whose training cannot fit in ``memory`` bytes of ``device``."""
    world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
    m = training_memory(shape, vocab_size, max(1, batch_size // world), seq_len, precision)
    if m["total"] > memory:
        raise ConfigError(
            f"{what or 'the model'} ({shape}, {m['params']:,} parameters) needs at least "
            f"{_bytes(m['total'])} to train ({_bytes(m['state'])} of weights, gradients and "
            f"AdamW state, {_bytes(m['activations'])} of activations at --batch-size "
            f"{batch_size} × --seq-len {seq_len}), more than the {_bytes(memory)} of memory of "
            f"{device} here; lower --size or --batch-size")


# --------------------------------------------------------------------------- commands


def model_shape(n_params: int, layers: int | None = None, width: int | None = None,
                heads: int | None = None) -> Shape:
    """The shape a run gets: ``width`` (with ``layers``, ``heads``) fixes it outright, as in
    :class:`~scaling.train.RunConfig` (which checks such a shape further); else the shape rule."""
    if width is not None and layers is not None and int(width) >= 1 and int(layers) >= 1:
        heads = max(1, int(width) // 32) if heads is None else max(1, int(heads))
        return Shape(n_layer=int(layers), d_model=int(width), n_head=heads)
    return shape_for(n_params, None if layers is None else int(layers))


def check_run_dir(out: Path, option: str = "--out") -> None:
    """A run (or grid) directory to create or resume: not a file, nor below one."""
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{option} {out} is a file; give a directory (new, or one to "
                              "resume)")
        return
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"cannot create run directory {out} ({option}): {parent} is a file")


def check_precision(precision: str | None, option: str = "--precision") -> None:
    """A precision name (``auto`` or one of :data:`scaling.hardware.PRECISIONS`)."""
    from .hardware import PRECISIONS

    if precision not in (None, "", "auto") and precision not in PRECISIONS:
        raise ConfigError(f"unknown {option} {precision!r}; use auto, {', '.join(PRECISIONS)}")


def check_train_args(size: str, mix: str, tokens: str, *, batch_size: int = 32,
                     seq_len: int = 128, layers: int | None = None, lr: float | None = None,
                     warmup_steps: int | None = None, schedule: str = "cosine",
                     branches: str | None = None, device: str | None = None,
                     precision: str = "auto", keep_checkpoints: int | None = None,
                     out: Path | None = None, seed: int = 0, width: int | None = None,
                     heads: int | None = None) -> None:
    """Every ``scaling train`` argument that can be checked without torch (and the device).

    The order is the one :class:`~scaling.train.RunConfig` checks in; the first problem found
    is raised.
    """
    from .data.corpora import check_user_paths
    from .data.tokenizer import get_tokenizer
    from .recipe import parse_recipe

    n = parse_size(size)
    shape = model_shape(n, layers, width, heads)
    recipe = parse_recipe(mix)
    check_user_paths(recipe)
    check_seed(seed)
    check_optim(lr, warmup_steps, schedule)
    if branches is not None:
        parse_branches(branches)
        if schedule != "wsd":
            raise ConfigError("--branches needs --schedule wsd (cooldowns fork from the "
                              "stable phase)")
    at_least(batch_size, "--batch-size", 1)
    at_least(seq_len, "--seq-len", 1)
    budget = parse_tokens(tokens, non_embedding_params(shape.n_layer, shape.d_model))
    check_budget(budget, batch_size, seq_len)
    at_least(keep_checkpoints, "--keep-checkpoints", 1, " (the newest is needed to resume)")
    check_precision(precision)
    if out is not None:
        check_run_dir(out)
    dev, memory = check_device(device)
    check_fits(shape, get_tokenizer("byte").vocab_size, batch_size, seq_len, dev, memory,
               precision, what=f"--size {size}")


def check_output_file(path: Path | None, option: str = "--out") -> None:
    """A file to be written: not a directory, its parent not a file."""
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a directory; give a file name, e.g. "
                          f"{path / 'predictions.csv'}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is a file, not a directory")


def check_text_file(path: Path, what: str, kind: str = "text") -> None:
    """An input file that exists, is a file, and is text (not binary)."""
    if not path.exists():
        raise ConfigError(f"no such {what}: {path}")
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a directory; give a {kind} file")
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # not just a character cut at the 8 KiB boundary
            raise ConfigError(f"{what} {path} is not a {kind} file (not UTF-8 text at byte "
                              f"{e.start})") from None
        text = ""
    if "\x00" in text:
        raise ConfigError(f"{what} {path} is not a {kind} file (it holds NUL bytes)")


def check_table_source(path: Path) -> None:
    """A CSV file or a run-store directory given to ``fit``: it exists; a file is text; a
    directory holds runs."""
    if path.is_dir():
        check_holds_runs(path)
        return
    if not path.exists():
        raise ConfigError(f"no such file or run directory: {path}")
    check_text_file(path, "CSV file", "CSV")


def check_count(text: str | None, option: str, maximum: float | None = None,
                why: str = "the largest accepted", what: str | None = None) -> float | None:
    """A count option (``--size``, ``--tokens``, ``--min-tokens``) read and bounded; ``what``
    names it in a message about its spelling (default: ``option``)."""
    if text is None:
        return None
    value = parse_count(text, what or option)
    if maximum is not None and value > maximum:
        raise ConfigError(f"{option} {value:.3g} is larger than {maximum:.3g}, {why}; lower it")
    return float(value)


def check_predict_args(size: str | None, tokens: str | None, bootstrap: int,
                       seed: int = 0, points: str = "final") -> None:
    """``predict`` targets: a size the shape rule can build, a budget below :data:`MAX_TOKENS`;
    the bootstrap, seed and ``--points`` options (also ``backtest``'s)."""
    check_points(points)
    from .shape import MAX_PARAMS

    n = check_count(size, "--size", MAX_PARAMS, "the largest model of the shape rule", "size")
    if tokens is not None and not str(tokens).strip().lower().endswith("x"):
        check_count(tokens, "--tokens", MAX_TOKENS, "more text than any corpus holds", "tokens")
    elif tokens is not None:  # tokens per parameter: bounded once the size is known
        parse_tokens(tokens, 1)  # a readable ratio > 0
        budget = float(str(tokens).strip()[:-1]) * (n or 0)
        if budget > MAX_TOKENS:
            raise ConfigError(f"--tokens {tokens} at --size {size} is {budget:.3g} tokens, more "
                              f"than {MAX_TOKENS:.0e} (more text than any corpus holds); lower it")
    at_least(bootstrap, "--bootstrap", 0)
    check_seed(seed)


#: ``fit law --form`` and ``--points`` choices (kept equal to scaling.fit's by a test).
FIT_FORMS = ("chinchilla", "power")
FIT_POINTS = ("final", "all")


def parse_hold_out(hold_out) -> tuple[str, float]:
    """``backtest --hold-out``: ``("count", K)`` for a whole number below 1,000 (the largest
    K sizes: ``2``), else ``("size", N)`` (every size from N up: ``394k``, ``394e3``). Which
    sizes that leaves is checked against the grid (:func:`scaling.predict.backtest.held_out_sizes`)."""
    text = str(hold_out).strip()
    try:
        value = float(text) if not text[-1:].isalpha() else float(parse_count(text))
    except (ValueError, ScalingError):
        raise ConfigError(f"--hold-out must be a number of sizes (2) or a model size (394k), "
                          f"got {hold_out!r}") from None
    if not (value >= 1 and math.isfinite(value)):
        raise ConfigError(f"--hold-out must be ≥ 1, got {hold_out!r}")
    return ("count", value) if value < 1000 and value.is_integer() else ("size", value)


def check_hold_out(hold_out: str | None) -> None:
    """``--hold-out`` read before the store is (:func:`parse_hold_out`)."""
    if hold_out is not None:
        parse_hold_out(hold_out)


def check_points(points: str) -> None:
    """``--points`` (``fit law``, ``predict``, ``backtest``)."""
    if points not in FIT_POINTS:
        raise ConfigError(f"unknown --points {points!r}; use {' or '.join(FIT_POINTS)}")


def check_csv_rows(path: Path, columns: list[str], drop: bool = False,
                   bounds: dict | None = None) -> None:
    """A CSV's columns and rows (:func:`scaling.tables.check_rows`) checked with pandas alone,
    before the fitting layer (scipy) is imported; the fit reads the file again the same way."""
    from .tables import check_rows, read_csv, require_numeric, resolve

    source = str(path)
    df = resolve(read_csv(path), columns, source=source)
    numeric = [c for c in columns if c != "curve"]
    df = require_numeric(df, numeric, source=source)
    check_rows(df, numeric, source, drop=drop, bounds=bounds)


def check_fit_args(source: Path, predict: Path | None = None, out: Path | None = None, *,
                   form: str | None = None, points: str | None = None,
                   bootstrap: int | None = None, min_tokens: str | None = None,
                   grok: bool = False, drop_bad_rows: bool = False, seed: int = 0) -> None:
    """``scaling fit …`` arguments: the input, ``--predict``/``--out`` and the law options.

    A CSV given to ``fit grok`` (``grok``) has its rows checked too (:func:`check_csv_rows`);
    one given to ``fit law`` is checked the same way as the fit reads it, before anything else
    (:meth:`scaling.fit.law_table.LawTable.read_csv`, which needs no pandas).
    """
    check_table_source(source)
    if form is not None and form not in FIT_FORMS:
        raise ConfigError(f"unknown --form {form!r}; use {' or '.join(FIT_FORMS)}")
    if points is not None:
        check_points(points)
    at_least(bootstrap, "--bootstrap", 0)
    check_seed(seed)
    check_count(min_tokens, "--min-tokens")
    if (predict is None) != (out is None):
        raise ConfigError("--predict X.csv and --out P.csv go together")
    if predict is not None:
        check_text_file(predict, "--predict file", "CSV")
        check_output_file(out)
        if out.resolve() in (predict.resolve(), source.resolve()):
            raise ConfigError(f"--out {out} would overwrite an input; give another file name")
    if source.is_dir():
        return
    if grok:
        check_csv_rows(source, ["curve", "tokens", "value"], drop_bad_rows,
                       bounds={"value": (0.0, 1.0, "an accuracy")})


def check_grid_args(spec, *, device: str | None = None, jobs: int = 1,
                    executor: str = "local", keep_checkpoints: int | None = None,
                    precision: str | None = None) -> None:
    """``scaling grid`` options, and every size of the spec against this machine's memory.

    ``spec`` is a loaded :class:`scaling.grid.GridSpec`; a recipe's own ``train`` options
    (batch size, sequence length, depth) override the spec's, as in its runs.
    """
    from .data.tokenizer import get_tokenizer

    if executor not in ("local", "submitit"):
        raise ConfigError(f"unknown --executor {executor!r}; use local or submitit")
    at_least(jobs, "--jobs", 1)
    at_least(keep_checkpoints, "--keep-checkpoints", 1, " (the newest is needed to resume)")
    check_precision(precision)
    if executor == "submitit":
        return  # the runs train on the cluster's machines, not this one
    dev, memory = check_device(device)
    vocab = get_tokenizer("byte").vocab_size
    for entry in spec.recipes:
        for seed in entry.seeds:
            check_seed(seed, f"seed of recipe {entry.mix!r}")
        opts = {**spec.train, **entry.train}
        batch, seq = int(opts.get("batch_size", 32)), int(opts.get("seq_len", 128))
        at_least(batch, f"batch_size of recipe {entry.mix!r}", 1)
        at_least(seq, f"seq_len of recipe {entry.mix!r}", 1)
        for size in spec.sizes:
            shape = model_shape(parse_size(size), opts.get("layers"), opts.get("width"),
                                opts.get("heads"))
            check_fits(shape, vocab, batch, seq, dev, memory,
                       str(opts.get("precision", precision or "auto")),
                       what=f"size {size} of grid {spec.name!r}")


def check_runs_source(runs: Path | None) -> None:
    """``--runs``: a run store (directory) or a CSV of points, when given."""
    if runs is None:
        return
    if not runs.exists():
        raise ConfigError(f"no such run store or CSV: {runs} (--runs)")
    if runs.is_dir():
        check_holds_runs(runs, "--runs")
    else:
        check_text_file(runs, "--runs file", "CSV")


def check_holds_runs(path: Path, option: str = "") -> None:
    """A run store (a run, a grid or a folder of grids) with at least one run in it."""
    from .store import find_run_dirs

    if not find_run_dirs(path):
        raise ConfigError(f"no runs under {path}{f' ({option})' if option else ''}: no directory "
                          "there holds a config.json; give a run store (or a CSV)")
