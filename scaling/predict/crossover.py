r"""Where a recipe's savings turn: the model size at which :math:`s(N) - 1` changes sign.

Along the per-recipe Chinchilla laws of :mod:`scaling.predict.independent`, the savings ratio
:math:`s(N) = D_r / D_b` at a baseline budget :math:`D_b = k N` (``tokens_per_param`` k) is
evaluated on a log grid of sizes from the grid's smallest common size up to ``n_max``, for the
point fit and for each paired bootstrap sample. The *crossover size* is the first size at which
:math:`s - 1` has the other sign than at the smallest size (costs → saves, or saves → costs);
its interval is the ``level`` percentiles of the per-sample crossovers over the samples that
start on the same side as the point fit, samples that never turn counting as larger than any
size (an upper end of ``inf``: "may never turn").

The interval is the bootstrap's only: the extrapolation widening that
:func:`~scaling.predict.predict_savings` applies at one target size is not applied along the
curve, so far beyond the grid it is too narrow. Use it to say *whether and roughly where* the
sign turns, not to plan a run size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..defaults import BOOTSTRAP
from ..jsonsafe import finite_or_none as _f
from ..units import format_count
from .independent import choose_fits, pair_savings, quantiles
from .points import LawPoints, PredictError

#: Largest size searched for a crossover (non-embedding parameters).
N_MAX = 1e11


def savings_curve(grid: LawPoints, recipe: str, baseline: str, sizes, tokens_per_param: float,
                  bootstrap: int = BOOTSTRAP, seed: int = 0, level: float = 0.9
                  ) -> tuple[np.ndarray, np.ndarray]:
    """:math:`s(N)` at ``D_b = tokens_per_param · N`` for each size: the point fit (shape
    ``(n,)``) and the paired bootstrap samples (shape ``(n, B)``), through the same fits as
    :func:`~scaling.predict.predict_savings` (cached on the grid)."""
    fits = choose_fits(grid, recipe, baseline, bootstrap, seed, level)
    if not fits.law_form.uses_size:
        raise PredictError(f"{recipe} or {baseline} has runs at one size only: no trend across "
                           "sizes, so no crossover; add runs at other sizes")
    point, samples = [], []
    for n in sizes:
        p = pair_savings(fits.baseline, fits.recipe, float(n), tokens_per_param * float(n))
        point.append(p.s)
        samples.append(p.samples)
    return np.asarray(point, float), np.vstack(samples)


def first_turn(sizes, s) -> tuple[np.ndarray, np.ndarray]:
    """First size at which ``s - 1`` changes sign relative to the smallest size, along axis 0
    of ``s`` (shape ``(n,)`` or ``(n, B)``): the sizes (``inf`` where the sign never turns)
    and the side the trend starts on (``+1``: costs data at the smallest size, so the turn is
    to saving; ``-1``: saves data first). NaN values never count as a turn."""
    s = np.asarray(s, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        side = np.sign(np.log(s))
    start = side[0]
    turned = (side != start) & ~np.isnan(side) & (side != 0)
    first = np.argmax(turned, axis=0)
    out = np.where(turned.any(axis=0), np.asarray(sizes, float)[first], np.inf)
    return out, start


@dataclass
class Crossover:
    """The crossover size of one recipe against a baseline (see module docstring)."""

    recipe: str
    baseline: str
    tokens_per_param: float
    size: float
    interval: tuple[float, float]
    direction: str
    fraction_same_start: float
    fraction_crossing: float
    searched: tuple[float, float]
    s_at_smallest: float
    s_at_largest: float
    level: float
    curve: dict[str, list] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "baseline": self.baseline,
                "tokens_per_param": self.tokens_per_param, "size": _f(self.size),
                "interval": [_f(self.interval[0]), _f(self.interval[1])],
                "direction": self.direction, "fraction_same_start": self.fraction_same_start,
                "fraction_crossing": self.fraction_crossing,
                "searched": [float(x) for x in self.searched],
                "s_at_smallest": _f(self.s_at_smallest), "s_at_largest": _f(self.s_at_largest),
                "level": self.level}

    def report(self) -> str:
        """One line: ``costs→saves at 93.6k [47k, 166k] (100% of samples turn)``, or
        ``costs data at every N ≤ 100B (no turn); samples [...]``."""
        top = format_count(self.searched[1])

        def f(v: float) -> str:
            return "n/a" if np.isnan(v) else (format_count(v) if np.isfinite(v) else f"> {top}")

        lo, hi = self.interval
        tail = f"[{f(lo)}, {f(hi)}] ({self.fraction_crossing:.0%} of samples turn)"
        if not np.isfinite(self.size):
            side = self.direction.split("→")[0]
            return f"{side} data at every N ≤ {top} (no turn); samples {tail}"
        return f"{self.direction} at {f(self.size)} {tail}"


def crossover_size(grid: LawPoints, recipe: str, baseline: str, tokens_per_param: float = 20.0,
                   n_max: float = N_MAX, points: int = 81, bootstrap: int = BOOTSTRAP,
                   level: float = 0.9, seed: int = 0) -> Crossover:
    """The model size at which ``recipe``'s savings over ``baseline`` change sign.

    Parameters
    ----------
    grid : LawPoints
        Both recipes must have runs at ≥ 2 sizes.
    tokens_per_param : float
        Baseline budget ``D_b = tokens_per_param · N`` along the curve.
    n_max, points
        Sizes searched: ``points`` log-spaced from the smallest common size to ``n_max``.
    bootstrap, level, seed
        As for :func:`~scaling.predict.predict_savings`.
    """
    common = np.intersect1d(grid.sizes(recipe), grid.sizes(baseline))
    if common.size == 0:
        raise PredictError(f"{recipe} and {baseline} share no model size")
    if not n_max > common[0]:
        raise PredictError(f"n_max {format_count(n_max)} must exceed the grid's smallest size "
                           f"{format_count(common[0])}")
    sizes = np.geomspace(float(common[0]), float(n_max), int(points))
    s_pt, s_smp = savings_curve(grid, recipe, baseline, sizes, tokens_per_param, bootstrap,
                                seed, level)
    cx, side = first_turn(sizes, s_pt)
    cs, sides = first_turn(sizes, s_smp)
    same = sides == side
    lo, hi = quantiles(cs[same], level) if same.any() else (np.nan, np.nan)
    band = [quantiles(x, level) for x in s_smp]
    return Crossover(
        recipe=recipe, baseline=baseline, tokens_per_param=float(tokens_per_param),
        size=float(cx), interval=(lo, hi),
        direction="costs→saves" if side > 0 else "saves→costs",
        fraction_same_start=float(np.mean(same)),
        fraction_crossing=float(np.mean(np.isfinite(cs[same]))) if same.any() else 0.0,
        searched=(float(sizes[0]), float(sizes[-1])), s_at_smallest=float(s_pt[0]),
        s_at_largest=float(s_pt[-1]), level=level,
        curve={"sizes": sizes.tolist(), "s": s_pt.tolist(),
               "lower": [b[0] for b in band], "upper": [b[1] for b in band]})
