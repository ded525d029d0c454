"""The shape rule: a non-embedding parameter count → layers, width, heads (no torch needed).

The rule is described in :mod:`scaling.train.model` (which re-exports these names); it lives here
so that the command line can check ``--size`` before it imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ScalingError

#: ``d = ASPECT * L``: width per layer of the shape rule.
ASPECT = 32


class SizeError(ScalingError, ValueError):
    """A model size that the shape rule cannot serve."""


@dataclass(frozen=True)
class Shape:
    """Layers, width and heads derived from a non-embedding parameter count."""

    n_layer: int
    d_model: int
    n_head: int

    def __str__(self) -> str:
        return f"{self.n_layer} layers × {self.d_model} wide × {self.n_head} heads"


def non_embedding_params(n_layer: int, d_model: int) -> int:
    """Exact non-embedding count of a shape: ``L (12 d² + 2 d) + d`` (tied head)."""
    return n_layer * (12 * d_model**2 + 2 * d_model) + d_model


def shape_for(n_params: int, layers: int | None = None) -> Shape:
    """The shape rule (module docstring): nearest ``N(L, d)`` in log space, aspect near 32.

    Parameters
    ----------
    n_params : int
        Requested non-embedding parameter count, ≥ 10,000 (a 1-layer, 32-wide model).
    layers : int, optional
        Fix the depth; the rule then chooses the width only.
    """
    if not n_params >= 10_000:
        raise SizeError(f"--size {n_params} is too small; the smallest model has ~12k "
                        "non-embedding parameters (use e.g. --size 100k)")
    if layers is not None and not 1 <= layers <= 256:
        raise SizeError(f"layers={layers}: use a depth between 1 and 256")
    best: tuple[float, int, int] | None = None
    for n_layer in range(1, 257) if layers is None else (layers,):
        ideal = math.sqrt(n_params / (12 * n_layer))
        for head in (32, 64):
            for mult in (math.floor(ideal / head), math.ceil(ideal / head)):
                d = head * max(1, mult)
                if (head == 64) != (d >= 512) or not 16 <= d / n_layer <= 128:
                    continue
                score = (abs(math.log(non_embedding_params(n_layer, d) / n_params))
                         + 0.1 * abs(math.log(d / (ASPECT * n_layer))))
                if best is None or score < best[0]:
                    best = (score, n_layer, d)
    if best is None:
        if layers is not None:
            lo, hi = (non_embedding_params(layers, 32 * math.ceil(layers / 2)),
                      non_embedding_params(layers, 64 * (128 * layers // 64)))
            raise SizeError(f"no {layers}-layer model has ~{n_params:,} non-embedding "
                            f"parameters with 16 ≤ width/layers ≤ 128 (range {lo:,}–{hi:,})")
        # every request of at least 10k parameters has the 1 × 32 candidate, so nothing fits
        # only above the largest shape (256 layers, width 128 × 256)
        raise SizeError(f"--size {n_params:.3g} is too large; the largest model of the shape "
                        f"rule has {MAX_PARAMS:.3g} non-embedding parameters ({MAX_SHAPE})")
    _, n_layer, d_model = best
    head = 32 if d_model < 512 else 64
    return Shape(n_layer=n_layer, d_model=d_model, n_head=d_model // head)


#: The largest shape of the rule (depth 256, aspect 128) and its non-embedding parameters.
MAX_SHAPE = Shape(n_layer=256, d_model=128 * 256, n_head=128 * 256 // 64)
MAX_PARAMS = non_embedding_params(MAX_SHAPE.n_layer, MAX_SHAPE.d_model)
