"""Packed training batches that are a pure function of (seed, step, rank).

Row layout. The global batch of step ``s`` has ``K*B`` rows (``K`` = world size, ``B`` = rows
per rank); global row ``g = s*K*B + r*B + i`` is row ``i`` of rank ``r`` and covers token
positions ``[g*T, (g+1)*T)`` of the run. So ``K`` ranks with ``B`` rows each see exactly what
one process with ``K*B`` rows sees, and any step can be rebuilt without replaying earlier ones.

Domain of a row (one domain per row). The row's phase is the recipe phase at its *first* token,
``g*T / total``; this keeps phases exact to one row even when a phase is shorter than a step
(``front=dyck:0.001`` of 300k tokens = 300 tokens: the first ``ceil(300/T)`` rows are dyck, the
rest of step 0 is the base mixture). Within a phase the domain is drawn by inverting the
cumulative weights at ``u_g = frac(φ·g + h(seed))`` (a golden-ratio Weyl sequence): a
low-discrepancy sequence, so realised fractions over any run of ``n`` rows are within
``O(log n / n)`` of the weights instead of the ``O(n^-1/2)`` of independent draws.

Content of a row. Each domain has a token pool (:mod:`scaling.data.domains`); the row is the
slice of ``T+1`` tokens at offset ``hash(seed, g, domain) mod (len - T)``: ``x`` = the first
``T``, ``y`` = the last ``T``, ``loss_mask`` = the pool's target mask on ``y``. While a phase
has ``meco`` on, corpus rows come from the MeCo pool (``URL: <source>\\n\\n`` before every
document, masked out of the loss); in the cooldown from the plain pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ScalingError
from ..recipe import Phase, Recipe, parse_recipe
from .domains import Pool, get_pool, is_procedural, register_corpus
from .tokenizer import get_tokenizer

_GOLDEN = np.uint64(11400714819323198485)  # 2**64 / φ
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


class StreamError(ScalingError, ValueError):
    """Bad stream arguments (sizes, rank)."""


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on ``uint64`` arrays (a bijective, well-mixed hash)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _salt(*parts) -> np.uint64:
    import hashlib

    h = hashlib.sha256(repr(parts).encode()).digest()[:8]
    return np.uint64(int.from_bytes(h, "little"))


@dataclass
class Batch:
    """One rank's rows of one step."""

    x: torch.Tensor  # int64 [B, T] inputs
    y: torch.Tensor  # int64 [B, T] next-token targets
    loss_mask: torch.Tensor  # bool [B, T]; True where the target counts in the loss
    domains: list[str]  # domain of each row
    meco: list[bool] = field(default_factory=list)  # whether each row carries metadata prefixes

    def to(self, device) -> Batch:
        return Batch(self.x.to(device), self.y.to(device), self.loss_mask.to(device),
                     self.domains, self.meco)


def _slice_rows(pool: Pool, offsets: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    idx = offsets[:, None] + np.arange(T + 1, dtype=np.int64)[None, :]
    return pool.tokens[idx], pool.mask[idx]


def _tiled(pool: Pool, T: int) -> Pool:
    if len(pool) > T + 1:
        return pool
    reps = (T + 1) // max(len(pool), 1) + 2
    return Pool(np.tile(pool.tokens, reps), np.tile(pool.mask, reps), pool.starts, pool.meta)


def _offsets(pool_len: int, T: int, seed_salt: np.uint64, g: np.ndarray, dom_salt: np.uint64
             ) -> np.ndarray:
    h = mix64(mix64(g.astype(np.uint64) ^ dom_salt) ^ seed_salt)
    return (h % np.uint64(pool_len - T)).astype(np.int64)


class Stream:
    """Deterministic packed batches for a recipe.

    Parameters
    ----------
    recipe : Recipe or str
        What to draw (``--mix`` string accepted).
    total_tokens : int
        Planned run length D (all domains); phases are fractions of it.
    batch_size : int
        Rows per rank B.
    seq_len : int
        Tokens per row T.
    seed, rank, world_size : int
        Data seed; this process's rank among ``world_size`` data-parallel ranks.
    tokenizer : str or tokenizer, optional
        ``"byte"`` (default) or ``"bpe[:V]"``.
    preload : bool
        Build/load every pool now (default). ``False`` defers built-in pools to the first
        ``batch`` (user corpora are always read, so that a bad corpus fails here); counting
        fractions needs no pool.
    """

    def __init__(self, recipe: Recipe | str, total_tokens: int, batch_size: int, seq_len: int,
                 seed: int = 0, rank: int = 0, world_size: int = 1, tokenizer=None,
                 preload: bool = True) -> None:
        self.recipe = parse_recipe(recipe)
        for name, v in (("total_tokens", total_tokens), ("batch_size", batch_size),
                        ("seq_len", seq_len), ("world_size", world_size)):
            if int(v) != v or v < 1:
                raise StreamError(f"{name} must be a positive integer, got {v!r}")
        if not 0 <= rank < world_size:
            raise StreamError(f"rank {rank} outside [0, {world_size})")
        self.total_tokens, self.batch_size, self.seq_len = int(total_tokens), batch_size, seq_len
        self.seed, self.rank, self.world_size = int(seed), rank, world_size
        self.tokenizer = get_tokenizer(tokenizer or "byte")
        self.tokens_per_step = batch_size * seq_len * world_size
        self.n_steps = math.ceil(self.total_tokens / self.tokens_per_step)
        for c in self.recipe.corpora:
            register_corpus(c.name, c.path, c.field)
        self.phases: list[Phase] = self.recipe.phases()
        self.domain_names: tuple[str, ...] = self.recipe.domains
        nd = len(self.domain_names)
        self._starts = np.array([p.start for p in self.phases])
        self._cum = np.zeros((len(self.phases), nd))
        self._last = np.zeros(len(self.phases), dtype=np.int64)
        for i, p in enumerate(self.phases):
            w = np.array([p.weights.get(d, 0.0) for d in self.domain_names])
            self._cum[i] = np.cumsum(w) / w.sum()
            self._last[i] = int(np.nonzero(w > 0)[0].max())
        self._seed_salt = _salt("stream", self.seed)
        self._u_off = mix64(np.uint64(self.seed) ^ _salt("weyl"))
        self._dom_salt = [_salt("domain", d) for d in self.domain_names]
        self._pools: dict[tuple[int, bool], Pool] = {}
        user = {c.name for c in self.recipe.corpora}
        for p in self.phases:  # build/load pools now, so bad corpora fail before step 0
            for d, w in p.weights.items():
                if w > 0 and (preload or d in user):
                    self._pool(self.domain_names.index(d), p.meco)

    # ------------------------------------------------------------------ internals
    def _pool(self, d: int, meco: bool) -> Pool:
        name = self.domain_names[d]
        meco = meco and not is_procedural(name)
        key = (d, meco)
        if key not in self._pools:
            self._pools[key] = _tiled(get_pool(name, "train", self.tokenizer, meco), self.seq_len)
        return self._pools[key]

    def assign(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Phase index and domain index of global rows ``rows`` (vectorised)."""
        g = np.asarray(rows, dtype=np.int64)
        frac = np.minimum(g * self.seq_len / self.total_tokens, 1.0)
        ph = np.clip(np.searchsorted(self._starts, frac, side="right") - 1, 0,
                     len(self.phases) - 1)
        with np.errstate(over="ignore"):
            u64 = g.astype(np.uint64) * _GOLDEN + self._u_off
        u = (u64 >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        cum = self._cum[ph]
        dom = (u[:, None] >= cum).sum(axis=1)
        dom = np.minimum(dom, self._last[ph])
        return ph, dom

    def rows_of(self, step: int) -> np.ndarray:
        B = self.batch_size
        first = step * B * self.world_size + self.rank * B
        return np.arange(first, first + B, dtype=np.int64)

    # ------------------------------------------------------------------ public
    def batch(self, step: int) -> Batch:
        """This rank's rows of ``step``: a pure function of (seed, step, rank)."""
        if step < 0:
            raise StreamError(f"step must be >= 0, got {step}")
        g = self.rows_of(step)
        ph, dom = self.assign(g)
        T = self.seq_len
        x = np.empty((g.shape[0], T + 1), dtype=np.int64)
        m = np.empty((g.shape[0], T + 1), dtype=bool)
        meco_row = np.array([self.phases[p].meco for p in ph], dtype=bool)
        for d in np.unique(dom):
            for mc in (False, True):
                sel = np.nonzero((dom == d) & (meco_row == mc))[0]
                if sel.size == 0:
                    continue
                pool = self._pool(int(d), bool(mc))
                off = _offsets(len(pool), T, self._seed_salt, g[sel], self._dom_salt[d])
                x[sel], m[sel] = _slice_rows(pool, off, T)
        xt = torch.from_numpy(x)
        names = [self.domain_names[d] for d in dom]
        meco = [bool(mc) and not is_procedural(n) for mc, n in zip(meco_row, names, strict=True)]
        return Batch(xt[:, :-1].contiguous(), xt[:, 1:].contiguous(),
                     torch.from_numpy(np.ascontiguousarray(m[:, 1:])), names, meco)

    def step_of(self, frac: float) -> int:
        """First step whose first token position is >= ``frac * total_tokens``."""
        return math.ceil(frac * self.total_tokens / self.tokens_per_step - 1e-12)

    def phase_at(self, step: int) -> Phase:
        """The recipe phase at the first token of ``step``."""
        return self.recipe.phase_at(min(step * self.tokens_per_step / self.total_tokens, 1.0))

    def fractions(self, n_steps: int | None = None) -> dict:
        """Realised token counts and fractions per domain, overall and per phase.

        Counts every row of steps ``[0, n_steps)`` (default: the whole run, ``self.n_steps``
        steps of ``tokens_per_step`` tokens, so slightly more than ``total_tokens``).
        Returns ``{"tokens", "fractions": {domain: f}, "phases": [{"name", "start", "end",
        "meco", "tokens", "weights", "fractions"}]}``.
        """
        n_steps = self.n_steps if n_steps is None else n_steps
        n_rows = n_steps * self.batch_size * self.world_size
        counts = np.zeros((len(self.phases), len(self.domain_names)), dtype=np.int64)
        chunk = 1 << 20
        for a in range(0, n_rows, chunk):
            ph, dom = self.assign(np.arange(a, min(a + chunk, n_rows), dtype=np.int64))
            np.add.at(counts, (ph, dom), self.seq_len)
        total = int(counts.sum())
        per_dom = counts.sum(axis=0)
        out = {"tokens": total,
               "fractions": {d: float(per_dom[i] / total) for i, d in
                             enumerate(self.domain_names) if per_dom[i] > 0},
               "phases": []}
        for i, p in enumerate(self.phases):
            n = int(counts[i].sum())
            out["phases"].append({
                **p.to_dict(), "tokens": n,
                "fractions": {d: float(counts[i, j] / n) for j, d in
                              enumerate(self.domain_names) if n and counts[i, j] > 0}})
        return out


def val_batches(domain: str, n_batches: int, batch_size: int, seq_len: int, seed: int = 0,
                tokenizer=None, meco: bool = False) -> list[Batch]:
    """Fixed validation batches of ``domain`` from its held-out split (or val pool).

    Row ``i`` starts at ``hash(seed, i) mod (len - T)`` of the val pool; with ``meco=True``
    documents carry their masked ``URL:`` prefix (to measure loss as seen during MeCo).
    """
    tok = get_tokenizer(tokenizer or "byte")
    pool = _tiled(get_pool(domain, "val", tok, meco), seq_len)
    n = n_batches * batch_size
    g = np.arange(n, dtype=np.int64)
    off = _offsets(len(pool), seq_len, _salt("val", seed), g, _salt("domain", domain))
    x, m = _slice_rows(pool, off, seq_len)
    xt, mt = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(m)
    use_meco = bool(meco) and not is_procedural(domain)
    out = []
    for b in range(n_batches):
        s = slice(b * batch_size, (b + 1) * batch_size)
        out.append(Batch(xt[s, :-1], xt[s, 1:], mt[s, 1:], [domain] * batch_size,
                         [use_meco] * batch_size))
    return out


def mix_stats(recipe: Recipe | str, total_tokens: int, batch_size: int = 32, seq_len: int = 128,
              seed: int = 0) -> dict:
    """What ``scaling data stats`` prints: realised fractions of a run, overall and per phase.

    Keys: ``recipe`` (canonical name), ``tokens`` (requested D), ``realised_tokens`` (whole
    steps), ``fractions`` (realised, per domain), ``expected`` (the schedule integrated over
    the run, ``sum_phases (end - start) * w``), ``phases`` (per phase: weights and realised
    fractions), ``steps``, ``tokens_per_step``.
    """
    s = Stream(recipe, total_tokens, batch_size, seq_len, seed=seed, preload=False)
    fr = s.fractions()
    expected: dict[str, float] = {}
    for p in s.phases:
        for d, w in p.weights.items():
            expected[d] = expected.get(d, 0.0) + (p.end - p.start) * w
    return {"recipe": s.recipe.name, "tokens": int(total_tokens),
            "realised_tokens": fr["tokens"], "fractions": fr["fractions"],
            "expected": expected, "phases": fr["phases"], "steps": s.n_steps,
            "tokens_per_step": s.tokens_per_step}
