"""One ``scaling predict`` question answered in one call: the savings of a recipe against the
baseline and, when asked, the extra run that would most shrink its interval
(:func:`~scaling.predict.suggest.suggest_run`) and the size at which the savings cross 1
(:func:`~scaling.predict.crossover.crossover_size`), attached to the answer."""

from __future__ import annotations

from ..defaults import BOOTSTRAP
from .crossover import crossover_size
from .points import LawPoints
from .savings import SavingsPrediction, predict_savings
from .suggest import suggest_run


def ask(grid: LawPoints, mix: str, baseline: str | None = None, size=None, tokens=None, *,
        count_procedural: bool = True, bootstrap: int = BOOTSTRAP, seed: int = 0,
        method: str | None = None, suggest: bool = False,
        crossover: bool = False) -> SavingsPrediction:
    """:func:`~scaling.predict.savings.predict_savings`, plus ``.suggestion`` (``suggest``) and
    ``.crossover`` (``crossover``) where the answer supports them, else a warning saying why."""
    res = predict_savings(grid, mix, baseline=baseline, size=size, tokens=tokens,
                          count_procedural=count_procedural, bootstrap=bootstrap, seed=seed,
                          method=method)
    if suggest:
        if res.interpolation is not None:
            res.warnings.append("--suggest needs a recipe that is in the grid")
        else:
            res.suggestion = suggest_run(grid, res.recipe, res.baseline, res.size, res.tokens,
                                         count_procedural=count_procedural, seed=seed).summary()
    if crossover:
        if res.interpolation is not None or not res.across_sizes:
            res.warnings.append("--crossover needs a recipe of the grid with runs at ≥ 2 sizes "
                                "(as does its baseline)")
        else:
            c = crossover_size(grid, res.recipe, res.baseline, res.tokens / res.size,
                               bootstrap=bootstrap, level=res.level, seed=seed)
            res.crossover = {**c.summary(), "text": c.report()}
    return res
