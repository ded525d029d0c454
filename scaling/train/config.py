"""The run configuration: one frozen :class:`RunConfig`, nested model / data / optim configs.

``RunConfig.to_dict()`` is what goes to ``config.json`` before step 0 and what ``run_id`` hashes.
Runtime-only choices (device, precision, ``--compile``, progress bars) are *not* part of it, so
a run can be resumed on another machine; they are written to ``runtime.json`` next to it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..hashing import config_hash
from ..units import format_count, parse_tokens
from ..validate import (
    ConfigError,
    check_budget,
    check_optim,
    check_seed,
    parse_branches,
    parse_size,
)
from .model import Shape, count_params, shape_for

__all__ = ["ConfigError", "DataConfig", "ModelConfig", "OptimConfig", "RunConfig",
           "default_lr", "parse_branches"]

#: Longest skill-probe example (prompt + answer, byte tokens) at the default difficulties.
PROBE_CONTEXT = 256


@dataclass(frozen=True)
class ModelConfig:
    n_layer: int
    """Transformer blocks."""
    d_model: int
    """Residual stream width."""
    n_head: int
    """Attention heads (head size = d_model / n_head)."""
    vocab_size: int
    """Tokenizer vocabulary size (rows of the embedding)."""
    seq_len: int
    """Context length in tokens (RoPE tables are built for it)."""
    tie_embeddings: bool = True
    """Share the token embedding with the output head."""
    mlp_ratio: int = 4
    """MLP hidden width / d_model."""


@dataclass(frozen=True)
class DataConfig:
    recipe: str
    """Canonical recipe name (``scaling.recipe.parse_recipe(spec).name``)."""
    tokens: int
    """Training token budget, all domains, procedural tokens included."""
    batch_size: int = 32
    """Global batch in sequences (split evenly across DDP ranks)."""
    seq_len: int = 128
    """Tokens per training sequence."""
    tokenizer: str = "byte"
    """Tokenizer name for ``scaling.data.tokenizer.get_tokenizer``."""
    val_batches: int = 2
    """Fixed held-out batches per validation domain (seed 0, the same for every run)."""
    val_batch_size: int = 16
    """Sequences per validation batch."""
    probe_n: int = 32
    """Examples per skill probe at each evaluation (0: no zero-shot probes)."""
    probe_difficulty: int = 1
    """Difficulty knob passed to every skill probe."""
    task_items: int = 256
    """Held-out items per skill task of the recipe (``needle(k=8)`` …) at each evaluation,
    scored by exact match and per-token teacher-forced accuracy (fewer when the task's
    held-out item space is smaller; the count is recorded with every skill record)."""
    evals: int = 0
    """Evaluations spread evenly over the run, on top of the log-spaced ones (0: only those).
    Checkpoints stay at the log-spaced steps."""


@dataclass(frozen=True)
class OptimConfig:
    lr: float
    """Peak learning rate (AdamW)."""
    schedule: str = "cosine"
    """``cosine`` (warm-up, cosine to min_lr_ratio·lr at the end) or ``wsd``
    (warm-up, stable, linear decay over the last ``decay_frac`` of steps)."""
    warmup_frac: float = 0.05
    """Warm-up length as a fraction of the steps of its stage (at least one step); a
    two-stage run's procedural stage takes the whole run's warm-up (see ``schedule``)."""
    warmup_steps: int = 0
    """When > 0: the warm-up length in steps for every stage (capped one step short of a
    run's main stage, never of a procedural stage), instead of ``warmup_frac``. Runs of
    several budgets that are compared with each other (one run per budget, or a run and its
    WSD branches) need the same warm-up: a 5% warm-up of a 122-step run is 6 steps, and such
    runs of a 615k model ended 0.33 nats above the same budget with the 24 steps of a
    1M-token run's warm-up."""
    min_lr_ratio: float = 0.1
    """Final LR / peak LR (cosine end, WSD decay end)."""
    decay_frac: float = 0.2
    """WSD: fraction of a (branch) run spent in the final decay."""
    branches: tuple[float, ...] = ()
    """WSD decay branches: budget fractions f < 1; each forks from the stable phase at
    ``f·(1-decay_frac)`` of the steps and decays to ``f`` of the steps."""
    weight_decay: float = 0.1
    """AdamW decoupled weight decay (matrices only; no decay on norms and embeddings)."""
    beta1: float = 0.9
    """AdamW β1."""
    beta2: float = 0.95
    """AdamW β2."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables)."""


#: OptimConfig fields written to ``config.json`` only when they differ from these defaults.
OPTIONAL_DEFAULTS = {"warmup_steps": 0}
#: The same for DataConfig fields (added with the skill tasks).
OPTIONAL_DATA_DEFAULTS = {"task_items": 256, "evals": 0}


@dataclass(frozen=True)
class RunConfig:
    size: int
    """Requested non-embedding parameter count (``--size``)."""
    seed: int
    """Seed of initialisation and data order."""
    model: ModelConfig
    """Derived model shape."""
    data: DataConfig
    """What is trained on."""
    optim: OptimConfig
    """How it is optimised."""
    n_params: int = 0
    """Exact non-embedding parameters of the built model (filled in by ``__post_init__``)."""
    n_params_total: int = 0
    """Exact total parameters (tied head counted once)."""
    recipe_spec: dict = field(default_factory=dict, hash=False, compare=False)
    """``Recipe.to_dict()`` of the recipe (information; the name identifies it)."""

    def __post_init__(self):
        n, total = count_params(self.model)
        object.__setattr__(self, "n_params", n)
        object.__setattr__(self, "n_params_total", total)
        check_seed(self.seed)
        check_optim(self.optim.lr, self.optim.warmup_steps, self.optim.schedule)
        if self.optim.branches and self.optim.schedule != "wsd":
            raise ConfigError("--branches needs --schedule wsd (cooldowns fork from the "
                              "stable phase)")
        for f in self.optim.branches:
            if not 0 < f < 1:
                raise ConfigError(f"branch fraction {f} must lie strictly between 0 and 1")
        if self.data.batch_size < 1 or self.data.seq_len < 1:
            raise ConfigError("--batch-size and --seq-len must be ≥ 1")
        if self.data.seq_len > self.model.seq_len:
            raise ConfigError("data seq_len exceeds the model context")
        if not (int(self.data.task_items) == self.data.task_items and self.data.task_items >= 1):
            raise ConfigError(f"task_items must be an integer ≥ 1, got {self.data.task_items!r}")
        if not (int(self.data.evals) == self.data.evals and self.data.evals >= 0):
            raise ConfigError(f"evals must be an integer ≥ 0, got {self.data.evals!r}")
        if self.model.d_model % self.model.n_head:
            raise ConfigError(f"heads={self.model.n_head} does not divide the width "
                              f"{self.model.d_model}")
        check_budget(self.data.tokens, self.data.batch_size, self.data.seq_len)

    # -- identity -----------------------------------------------------------------------
    @property
    def recipe(self) -> str:
        return self.data.recipe

    @property
    def shape(self) -> Shape:
        return Shape(self.model.n_layer, self.model.d_model, self.model.n_head)

    @property
    def run_id(self) -> str:
        return config_hash(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """JSON form written to ``config.json``; top-level ``recipe, n_params,
        n_params_total, seed`` are what the run table reads."""
        d = dataclasses.asdict(self)
        d["optim"]["branches"] = list(self.optim.branches)
        # options added after the first stores were written appear only when set, so the
        # configs (and run ids) of runs that do not use them stay what they were
        for key, default in OPTIONAL_DEFAULTS.items():
            if d["optim"].get(key) == default:
                del d["optim"][key]
        for key, default in OPTIONAL_DATA_DEFAULTS.items():
            if d["data"].get(key) == default:
                del d["data"][key]
        d["recipe"] = self.recipe
        d["shape"] = {"n_layer": self.model.n_layer, "d_model": self.model.d_model,
                      "n_head": self.model.n_head}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict` (e.g. from a stored ``config.json``)."""
        optim = dict(d["optim"])
        optim["branches"] = tuple(optim.get("branches", ()))
        return cls(size=d["size"], seed=d["seed"], model=ModelConfig(**d["model"]),
                   data=DataConfig(**d["data"]), optim=OptimConfig(**optim),
                   recipe_spec=d.get("recipe_spec", {}))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_args(cls, size: str | int, mix: str, tokens: str | int, seed: int = 0,
                  **overrides: Any) -> RunConfig:
        """Resolve CLI-style arguments into a config.

        Parameters
        ----------
        size : str or int
            Non-embedding parameter count (``100k``, ``3M``); shape by :func:`shape_for`.
        mix : str
            Recipe spec (``prose=0.5,code=0.5``, ``prose=1;front=dyck:0.01:reset``).
        tokens : str or int
            Budget: ``3e5``, ``300k``, ``2M``, or ``20x`` (tokens per non-embedding parameter).
        seed : int
        **overrides
            Any field of DataConfig / OptimConfig / ``tie_embeddings``, ``mlp_ratio`` of
            ModelConfig, or ``layers`` (fix the depth; see :func:`shape_for`); e.g.
            ``batch_size=16, lr=1e-3, schedule="wsd", branches=(0.25, 0.5), layers=2``.
            ``width`` (with ``layers``) and ``heads`` fix the shape outright, past the shape
            rule (the procedural-pretraining paper's diagnostic model: ``layers=2, width=16,
            heads=4``; default heads: width / 32, at least 1); ``size`` is then only recorded.
            ``front_tokens`` sets the recipe's front phase to the first that many tokens (its
            fraction becomes front_tokens / tokens): the warm-up budget, with
            ``tokens - front_tokens`` the budget after it.
            ``None`` values are ignored; unknown keys are refused.
        """
        from ..data.tokenizer import get_tokenizer
        from ..recipe import parse_recipe

        overrides = {k: v for k, v in overrides.items() if v is not None}
        known = ({f.name for f in dataclasses.fields(DataConfig)}
                 | {f.name for f in dataclasses.fields(OptimConfig)}
                 | {"tie_embeddings", "mlp_ratio", "layers", "width", "heads", "front_tokens"}
                 ) - {"recipe", "tokens"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(known))}")
        n = parse_size(size)
        layers = overrides.get("layers")
        shape = _explicit_shape(overrides) or shape_for(n, None if layers is None
                                                         else int(layers))
        recipe = parse_recipe(mix)
        tok = get_tokenizer(overrides.get("tokenizer", "byte"))
        seq_len = int(overrides.get("seq_len", DataConfig.__dataclass_fields__["seq_len"].default))
        # the context covers the training sequences and the skill probes (RoPE has no
        # parameters, so a longer context costs nothing)
        model = ModelConfig(n_layer=shape.n_layer, d_model=shape.d_model, n_head=shape.n_head,
                            vocab_size=tok.vocab_size, seq_len=max(seq_len, PROBE_CONTEXT),
                            tie_embeddings=bool(overrides.get("tie_embeddings", True)),
                            mlp_ratio=int(overrides.get("mlp_ratio", 4)))
        n_exact, _ = count_params(model)
        budget = parse_tokens(tokens, n_exact)
        if overrides.get("front_tokens") is not None:
            recipe = _front_tokens(recipe, overrides["front_tokens"], budget)
        data_kw = {k: overrides[k] for k in overrides
                   if k in DataConfig.__dataclass_fields__}
        optim_kw = {k: overrides[k] for k in overrides
                    if k in OptimConfig.__dataclass_fields__}
        if "branches" in optim_kw:
            optim_kw["branches"] = parse_branches(optim_kw["branches"])
        optim_kw.setdefault("lr", default_lr(shape.d_model))
        return cls(size=n, seed=int(seed), model=model,
                   data=DataConfig(recipe=recipe.name, tokens=budget, **data_kw),
                   optim=OptimConfig(**optim_kw), recipe_spec=recipe.to_dict())

    def describe(self) -> str:
        """One line for humans: size, shape, budget, recipe."""
        return (f"model {format_count(self.n_params)} non-embedding params "
                f"({format_count(self.n_params_total)} total): {self.shape}; "
                f"{format_count(self.data.tokens)} tokens of {self.recipe}")


def _explicit_shape(overrides: dict[str, Any]) -> Shape | None:
    """``width``/``heads`` (with ``layers``) as a shape, or None to use the shape rule."""
    width, heads, layers = (overrides.get(k) for k in ("width", "heads", "layers"))
    if width is None:
        if heads is not None:
            raise ConfigError("heads= needs width= (and layers=): the shape rule picks heads "
                              "of size 32")
        return None
    if layers is None:
        raise ConfigError("width= needs layers= (the depth of the explicit shape)")
    for name, v in (("width", width), ("layers", layers), ("heads", heads)):
        if v is not None and (int(v) != v or v < 1):
            raise ConfigError(f"{name}={v!r} must be a positive integer")
    width, layers = int(width), int(layers)
    heads = max(1, width // 32) if heads is None else int(heads)
    if width % heads:
        raise ConfigError(f"heads={heads} does not divide width={width}")
    if (width // heads) % 2:
        raise ConfigError(f"width/heads = {width // heads} is odd; rotary embeddings need an "
                          "even head size")
    return Shape(n_layer=layers, d_model=width, n_head=heads)


def _front_tokens(recipe, value: Any, budget: int):
    """The recipe with its front phase the first ``value`` tokens of ``budget``."""
    from ..recipe import parse_recipe

    if recipe.front is None:
        raise ConfigError("front_tokens needs a front= phase in --mix, e.g. "
                          "'needle(k=8)=1;front=dyck:0.1:reset' (its fraction is replaced)")
    w = parse_tokens(value)
    if not 0 < w < budget:
        raise ConfigError(f"front_tokens={value!r} must lie between 0 and the budget "
                          f"--tokens {budget} (the rest is trained after the front phase)")
    spec = recipe.to_dict()
    spec["front"]["fraction"] = w / budget
    return parse_recipe(spec)


def default_lr(d_model: int) -> float:
    """Peak LR: 3e-3 up to a width of 256, then ∝ 1/width (``0.75 / d``)."""
    return min(3e-3, 0.75 / d_model)
