"""The answer of :func:`scaling.predict.predict_savings`: numbers, options, warnings, text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..jsonsafe import finite_or_none as _f
from ..units import format_count


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
        }
        if self.interpolation is not None:
            out["interpolation"] = self.interpolation
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        if self.crossover is not None:
            out["crossover"] = self.crossover
        return out

    def sentence(self) -> str:
        s, (lo, hi) = self.savings_ratio, self.interval
        pct = int(round(self.level * 100))
        if not np.isfinite(s):
            return (f"{self.recipe} never reaches the baseline's loss {self.loss_baseline:.4g} "
                    f"at {format_count(self.size)} parameters (by the fitted laws)")
        verb = "saves data" if s < 1 else ("costs data" if s > 1 else "neither saves nor costs")
        hi_txt = f"{hi:.3g}" if np.isfinite(hi) else "never"
        return (f"{self.recipe} reaches the baseline's loss with {s:.1%} of the data "
                f"({verb}; s = {s:.3g}, {pct}% interval [{lo:.3g}, {hi_txt}])")

    def report(self) -> str:
        """Human-readable answer (every default and option printed)."""
        d = self.defaults
        lines = [
            self.sentence(),
            f"  recipe    {self.recipe}",
            f"  baseline  {self.baseline}{d.get('baseline', '')}",
            f"  size      {format_count(self.size)} non-embedding parameters{d.get('size', '')}",
            f"  tokens    {format_count(self.tokens)} (baseline budget D_b){d.get('tokens', '')}",
            f"  target    validation loss on {self.target_domain or 'the table'}; procedural "
            f"tokens {'counted' if self.count_procedural else 'not counted'} in D_r",
            f"  loss      baseline {self.loss_baseline:.4f} "
            f"[{self.loss_baseline_interval[0]:.4f}, {self.loss_baseline_interval[1]:.4f}]; "
            f"recipe at the same budget {self.loss_recipe:.4f} "
            f"[{self.loss_recipe_interval[0]:.4f}, {self.loss_recipe_interval[1]:.4f}]",
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
