r"""Which one extra small run would most shrink the savings interval (``--suggest``).

Candidates, for the recipe and for the baseline (the runs a user could launch next, all near
the grid):

- ``bigger``: a new size 2× the recipe's largest, at the grid's largest tokens per parameter;
- ``longer``: the largest size again, with 2× its largest budget;
- ``seed``: one more run at the largest size and its largest budget.

Each candidate's outcome is unknown, so it is *simulated* from the current fit: a bootstrap
sample of that recipe's law gives the mean loss at the candidate's (N, D) and a log-normal
draw with the fit's residual scatter gives the run's loss. The grid plus that point is refit
and the savings answer recomputed (same options, fewer bootstrap resamples); the expected
interval width (in ln s) is the mean over ``n_sim`` simulated outcomes. The width is that of ln s with the samples clipped to [1e-3, 1e3] (an unbounded interval
still has a width). The candidate with
the smallest expected width wins; its cost is the training compute ``6·N·D`` FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..units import format_count
from ..workers import pmap
from .independent import PairFits, choose_fits, fit_recipe, quantiles, savings_at
from .points import LawPoints, one_blas_thread


@dataclass
class Suggestion:
    """The best extra run and every candidate's expected interval width."""

    best: dict[str, Any]
    current_width: float
    candidates: list[dict] = field(default_factory=list)

    def report(self) -> str:
        b = self.best
        return (f"run {b['recipe']} at {format_count(b['size'])} parameters for "
                f"{format_count(b['tokens'])} tokens ({b['kind']}; {b['flops']:.2g} FLOPs): "
                f"expected interval width in ln s {b['expected_width']:.3g} vs "
                f"{self.current_width:.3g} now ({b['shrink']:.0%} narrower)")

    def summary(self) -> dict[str, Any]:
        return {**self.best, "current_width": self.current_width, "text": self.report(),
                "candidates": self.candidates}


#: Samples of s are clipped to this range before the width is taken, so that an interval
#: whose upper end is unbounded (some resamples never reach the loss) still has a width.
CLIP = (1e-3, 1e3)


def _width(ans) -> float:
    """Width of the answer's interval in ln s (samples clipped to :data:`CLIP`)."""
    x = np.clip(ans.samples, *CLIP)
    if x.size == 0:
        return float("inf")
    lo, hi = quantiles(x, ans.level)
    return float(np.log(hi) - np.log(lo))


def candidates(grid: LawPoints, recipes: list[str]) -> list[dict]:
    """The candidate runs (see module docstring)."""
    out = []
    for r in recipes:
        pts = grid.of(r)
        top = float(pts["params"].max())
        at_top = pts[np.isclose(pts["params"], top, rtol=1e-9)]
        ratio = float((pts["tokens"] / pts["params"]).max())
        d_top = float(at_top["tokens"].max())
        out += [{"recipe": r, "kind": "bigger", "size": 2 * top, "tokens": ratio * 2 * top},
                {"recipe": r, "kind": "longer", "size": top, "tokens": 2 * d_top},
                {"recipe": r, "kind": "seed", "size": top, "tokens": d_top}]
    for c in out:
        c["flops"] = 6.0 * c["size"] * c["tokens"]
    return out


@one_blas_thread
def suggest_run(grid: LawPoints, recipe: str, baseline: str, size: float, tokens: float,
                count_procedural: bool = True, bootstrap: int = 100, level: float = 0.9,
                seed: int = 0, n_sim: int = 3) -> Suggestion:
    """The candidate run that most shrinks the expected savings interval at ``(size, tokens)``."""
    base = choose_fits(grid, recipe, baseline, bootstrap, seed, level, size)

    def answer(g, changed=None):
        fits = base
        if changed is not None:
            if base.law_form.uses_size:  # refit only the recipe that got the extra run
                law = fit_recipe(g, changed, "chinchilla", bootstrap,
                                 seed + (changed == recipe != baseline), level)
                fits = PairFits("chinchilla", law if changed == baseline else base.baseline,
                             law if changed == recipe else base.recipe, None)
            else:
                fits = choose_fits(g, recipe, baseline, bootstrap, seed, level, size)
        return savings_at(g, recipe, baseline, size, tokens, count_procedural, bootstrap,
                          level, seed, fits=fits, drift=drift)

    drift = None
    now = answer(grid)
    current = _width(now)
    # the drift per log-size is kept from the current grid (a new run changes mostly the
    # distance beyond the grid, which is recomputed); this saves two refits per simulation
    drift = now.extrapolation.get("drift")
    rng = np.random.default_rng(seed + 101)
    cands = candidates(grid, sorted({recipe, baseline}))
    sims = []  # (candidate index, recipe, simulated run), drawn in order
    laws = {}
    for ci, c in enumerate(cands):
        r = c["recipe"]
        if r not in laws:
            law = base.recipe if r == recipe else base.baseline
            d = law.data
            args = tuple(d[c] for c in law.law_form.columns)
            resid = np.log(d["loss"]) - np.log(law.predict(*args))
            laws[r] = (law, float(np.sqrt(np.mean(resid ** 2))))
        law, sigma = laws[r]
        sm = law.samples()
        for j in range(n_sim):
            i = int(rng.integers(len(sm["E"])))
            p = {k: float(v[i, 0]) for k, v in sm.items()}
            mean = float(law.law_form.loss(p, c["size"], c["tokens"]))
            loss = mean * float(np.exp(sigma * rng.standard_normal()))
            run = f"suggest-{c['kind']}-{j}"
            sims.append((ci, r, pd.DataFrame({"run": [run], "recipe": [r],
                                              "params": [c["size"]], "tokens": [c["tokens"]],
                                              "loss": [loss], "unit": [run]})))

    def width(sim):  # each simulated outcome refits on its own (worker processes)
        _, r, extra = sim
        try:
            return _width(answer(grid.with_points(extra), r))
        except ScalingError:
            return float("inf")

    widths = pmap(width, sims)
    rows = []
    for ci, c in enumerate(cands):
        w = float(np.mean([x for (k, _, _), x in zip(sims, widths, strict=True) if k == ci]))
        rows.append({**c, "expected_width": w,
                     "shrink": 1 - w / current if np.isfinite(current) and current > 0 else 0.0})
    best = min(rows, key=lambda x: (x["expected_width"], x["flops"]))
    return Suggestion(best=best, current_width=current, candidates=rows)
