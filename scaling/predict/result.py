"""The answer of :func:`scaling.predict.predict_savings`: numbers, options, warnings, text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..fit.forms import law_form
from ..jsonsafe import finite_or_none as _f
from ..units import format_count

#: The words of a savings answer (DESIGN.md: savings above 1 are said as plainly as below).
VERDICTS = ("saves data", "costs data", "no resolved difference", "no interval")


def verdict(lo: float, hi: float) -> str:
    """What the interval ``[lo, hi]`` of s supports: ``saves data`` only when all of it is
    below 1, ``costs data`` only when all of it is above 1, else ``no resolved difference``;
    ``no interval`` when there is none (``--bootstrap 0``). Never decided by the point
    estimate alone."""
    if np.isnan(lo) or np.isnan(hi):
        return "no interval"
    if hi < 1:
        return "saves data"
    if lo > 1:
        return "costs data"
    return "no resolved difference"


def _ratio(x: float) -> str:
    """A savings ratio to 3 figures, more where 3 would print a value that is not 1 as ``1``
    (the verdict turns on the side of 1)."""
    for d in range(3, 6):
        t = f"{x:.{d}g}"
        if t != "1" or x == 1:
            break
    return t


def _loss_iv(iv) -> str:
    lo, hi = iv
    return "" if np.isnan(lo) or np.isnan(hi) else f" [{lo:.4f}, {hi:.4f}]"


@dataclass
class SavingsPrediction:
    """Savings of ``recipe`` over ``baseline`` at ``size`` and baseline budget ``tokens``.

    ``savings_ratio`` = D_r / D_b (``inf`` when the recipe never reaches the baseline's loss);
    ``interval`` its ``level`` interval; ``samples`` the (widened) bootstrap samples of s.
    """

    recipe: str
    baseline: str
    size: float
    tokens: float
    target_domain: str | None
    count_procedural: bool
    savings_ratio: float
    interval: tuple[float, float]
    loss_recipe: float
    loss_baseline: float
    loss_recipe_interval: tuple[float, float]
    loss_baseline_interval: tuple[float, float]
    tokens_recipe: float
    extrapolated: bool
    form: str
    level: float
    samples: np.ndarray
    grid: dict[str, Any]
    extrapolation: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    skills: list[dict] = field(default_factory=list)
    interpolation: dict[str, Any] | None = None
    suggestion: dict[str, Any] | None = None
    crossover: dict[str, Any] | None = None
    """``--crossover``: :class:`~scaling.predict.crossover.Crossover` summary + ``text``."""
    defaults: dict[str, str] = field(default_factory=dict)
    at_bound: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{recipe: {parameter: "lower" | "upper"}}``: parameters of the recipe's or the
    baseline's law that sit at a search bound (the data do not pin them down)."""
    joint: dict[str, Any] | None = None
    """Joint-law answers only: the joint law's summary (variant, its choice, parameters), whether
    the answer is ``confident`` and the nested backtests (:mod:`scaling.predict.joint`)."""

    @property
    def verdict(self) -> str:
        """:func:`verdict` of the interval."""
        return verdict(*self.interval)

    @property
    def method(self) -> str:
        """``joint`` (the joint multi-recipe law answered) or ``independent`` (one law per
        recipe)."""
        return "joint" if self.joint is not None else "independent"

    @property
    def across_sizes(self) -> bool:
        """Whether the answer comes from a law in model size (the joint law, or per-recipe laws
        that take N), not from per-size power laws of a recipe with runs at one size."""
        return self.joint is not None or law_form(self.form).uses_size

    @property
    def width(self) -> float:
        """Width of the interval in ln s (the figure ``--suggest`` shrinks)."""
        lo, hi = self.interval
        return float(np.log(hi) - np.log(lo)) if lo > 0 and np.isfinite(hi) else float("inf")

    def summary(self) -> dict[str, Any]:
        """JSON contract of ``scaling predict --json`` (DESIGN.md) plus extra keys."""
        out = {
            "recipe": self.recipe, "baseline": self.baseline, "size": float(self.size),
            "tokens": float(self.tokens), "target_domain": self.target_domain,
            "savings_ratio": _f(self.savings_ratio),
            "interval": [_f(self.interval[0]), _f(self.interval[1])],
            "loss_recipe": _f(self.loss_recipe), "loss_baseline": _f(self.loss_baseline),
            "extrapolated": bool(self.extrapolated), "warnings": list(self.warnings),
            "count_procedural": self.count_procedural, "level": self.level, "form": self.form,
            "tokens_recipe": _f(self.tokens_recipe),
            "loss_recipe_interval": [_f(v) for v in self.loss_recipe_interval],
            "loss_baseline_interval": [_f(v) for v in self.loss_baseline_interval],
            "grid": self.grid, "extrapolation": self.extrapolation,
            "defaults": dict(self.defaults), "skills": list(self.skills),
            "verdict": self.verdict, "at_bound": {k: dict(v) for k, v in self.at_bound.items()},
        }
        if self.interpolation is not None:
            out["interpolation"] = self.interpolation
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        if self.crossover is not None:
            out["crossover"] = self.crossover
        out["method"] = self.method
        if self.joint is not None:
            out["joint"] = self.joint
        return out

    def interval_text(self) -> str:
        """``90% interval [0.27, 1.53]`` (``never``: samples that never reach the loss), or
        that there is none."""
        lo, hi = self.interval
        if np.isnan(lo) or np.isnan(hi):
            return "no interval (bootstrap 0: point estimate only)"
        hi_txt = _ratio(hi) if np.isfinite(hi) else "never"
        return f"{int(round(self.level * 100))}% interval [{_ratio(lo)}, {hi_txt}]"

    def bound_text(self) -> str:
        """``""`` or ``"E at its lower bound (baseline and recipe laws)"``: parameters the data
        do not pin down, said next to the number they shape."""
        who: dict[tuple[str, str], list[str]] = {}
        for r, d in self.at_bound.items():
            name = "baseline" if r == self.baseline else ("recipe" if r == self.recipe else r)
            for k, side in d.items():
                who.setdefault((k, side), []).append(name)
        return "; ".join(f"{k} at its {side} bound ({' and '.join(w)} "
                         f"law{'s' if len(w) > 1 else ''})" for (k, side), w in who.items())

    def sentence(self) -> str:
        s = self.savings_ratio
        caveat = self.bound_text()
        caveat = f"; {caveat}" if caveat else ""
        if self.verdict == "no interval" and np.isfinite(s):
            return (f"{self.recipe} reaches the baseline's loss with {s:.1%} of the data "
                    f"(s = {s:.3g}: a point estimate only, no interval with bootstrap 0, so no "
                    f"verdict{caveat})")
        if not np.isfinite(s):
            return (f"{self.recipe} never reaches the baseline's loss {self.loss_baseline:.4g} "
                    f"at {format_count(self.size)} parameters (by the fitted laws; "
                    + ("no interval with bootstrap 0" if self.verdict == "no interval" else
                       f"{self.verdict}; {self.interval_text()}") + f"{caveat})")
        return (f"{self.recipe} reaches the baseline's loss with {s:.1%} of the data "
                f"({self.verdict}; s = {s:.3g}, {self.interval_text()}{caveat})")

    def report(self) -> str:
        """Human-readable answer (every default and option printed)."""
        d = self.defaults
        lines = [
            self.sentence(),
            f"  recipe    {self.recipe}",
            f"  baseline  {self.baseline}{d.get('baseline', '')}",
            f"  size      {format_count(self.size)} non-embedding parameters{d.get('size', '')}",
            f"  tokens    {format_count(self.tokens)} (baseline budget D_b){d.get('tokens', '')}",
            f"  target    {_target(self.target_domain)}; procedural "
            f"tokens {'counted' if self.count_procedural else 'not counted'} in D_r",
            f"  loss      baseline {self.loss_baseline:.4f}{_loss_iv(self.loss_baseline_interval)}"
            f"; recipe at the same budget {self.loss_recipe:.4f}"
            f"{_loss_iv(self.loss_recipe_interval)}",
            f"  D_r       {format_count(self.tokens_recipe) if np.isfinite(self.tokens_recipe) else 'never'}"
            f" tokens; law: {self.form}; extrapolated: {'yes' if self.extrapolated else 'no'}",
        ]
        if self.skills:
            lines.append("  skills (grokking midpoint speed-up of the recipe, >1 = earlier):")
            for k in self.skills:
                lines.append(f"    {k['text']}")
        if self.suggestion:
            lines.append(f"  suggestion: {self.suggestion['text']}")
        if self.crossover:
            lines.append(f"  crossover: {self.crossover['text']} (D_b = "
                         f"{self.crossover['tokens_per_param']:g} tokens per parameter; "
                         "bootstrap interval, no extrapolation widening)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _target(domain: str | None) -> str:
    """What the loss is: a store's validation domain, or an imported table's own loss (a CSV
    with one ``loss`` column is imported under the name ``loss``)."""
    return "the table's loss" if domain in (None, "loss") else f"validation loss on {domain}"
