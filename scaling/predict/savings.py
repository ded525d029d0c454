"""The savings question: :func:`predict_savings` picks the method for a recipe and a baseline
and fills the defaults (baseline, size, tokens).

- recipe and baseline in the grid with runs at ≥ 2 sizes: the joint multi-recipe law
  (:mod:`scaling.predict.joint`);
- otherwise one law per recipe (:mod:`scaling.predict.independent`, where the savings ratio
  and its intervals are defined);
- a recipe not in the grid: interpolated from the grid's recipes of the same structure
  (:mod:`scaling.predict.interpolate`).
"""

from __future__ import annotations

from ..defaults import BOOTSTRAP, TARGET_FACTOR, TOKENS_PER_PARAM
from ..units import parse_count
from .independent import baseline_tokens, choose_fits, savings_at
from .interpolate import interpolate_savings
from .joint import joint_available, joint_prediction
from .points import LawPoints, PredictError, load_points, one_blas_thread
from .result import SavingsPrediction
from .skills import skill_speedups

__all__ = ["PredictError", "SavingsPrediction", "predict_savings"]


@one_blas_thread
def predict_savings(runs, recipe: str, baseline: str | None = None, size=None, tokens=None,
                    target_domain: str | None = None, count_procedural: bool = True,
                    bootstrap: int = BOOTSTRAP, level: float = 0.9, seed: int = 0,
                    skills: bool = True, widen: bool = True,
                    min_tokens: float | None = None,
                    method: str | None = None, points: str = "final") -> SavingsPrediction:
    r"""Data savings ``s = D_r / D_b`` of ``recipe`` over ``baseline`` (see module docstring).

    Parameters
    ----------
    runs : path, DataFrame or LawPoints
        A run store, a CSV / frame with ``params, tokens, loss, recipe[, run, branch]``.
    recipe, baseline : str
        ``--mix`` strings (canonicalised) or the grid's recipe names. Default baseline:
        ``prose=1``. A recipe not in the grid is interpolated from the grid's recipes of the
        same structure (:mod:`scaling.predict.interpolate`).
    size : int, float or str, optional
        Non-embedding parameters (``"1M"``); default 10× the grid's largest model.
    tokens : int, float or str, optional
        Baseline budget D_b (``"20M"`` or ``"20x"``); default 20 tokens per parameter.
    target_domain : str, optional
        Validation domain whose loss defines "reaches" (store default: its only domain,
        else ``prose``).
    count_procedural : bool
        Whether procedural tokens count in D_r (default yes).
    bootstrap, level, seed
        Bootstrap resamples per recipe, interval coverage, seed.
    skills : bool
        Add the per-skill grokking speed-ups (run stores with skill records only).
    widen : bool
        Widen intervals beyond the grid's sizes (module docstring).
    min_tokens : float, optional
        Leave out end points of budgets below this many tokens (path or frame ``runs`` only;
        :func:`~scaling.predict.points.load_points`).
    method : {"joint", "independent"}, optional
        ``joint``: the joint multi-recipe law (:mod:`scaling.predict.joint`), the default when
        the recipe is in the grid and it and the baseline have runs at ≥ 2 sizes;
        ``independent``: one law per recipe (:mod:`scaling.predict.independent`), the default otherwise.
    points : {"final", "all"}
        Run end points, or every checkpoint (path or frame ``runs`` only;
        :func:`~scaling.predict.points.load_points`).

    Returns
    -------
    SavingsPrediction
    """
    if not 0 < level < 1:
        raise PredictError(f"level must be in (0, 1), got {level}")
    if method not in (None, "joint", "independent"):
        raise PredictError(f"--method must be 'joint' or 'independent', got {method!r}")
    grid = runs if isinstance(runs, LawPoints) else load_points(runs, target_domain, min_tokens,
                                                                points)
    defaults = {}
    if baseline is None:
        b = grid.default_baseline()
        defaults["baseline"] = " (default: the grid's baseline)"
    else:
        b = grid.resolve(baseline, "--baseline")
        if b is None:
            raise PredictError(f"baseline {baseline!r} has no runs in the grid; recipes: "
                               f"{', '.join(grid.recipes)}")
    r = grid.resolve(recipe)
    if size is None:
        N = grid.default_size()
        defaults["size"] = (f" (default: {TARGET_FACTOR:g}× the grid's largest model)"
                            if len(grid.sizes()) > 1 else " (default: the grid's one size)")
    else:
        N = float(parse_count(size, "size") if isinstance(size, str) else size)
        if not N > 0:
            raise PredictError(f"size must be > 0, got {size!r}")
    if r is None:
        if method == "joint":
            raise PredictError(f"the joint law needs a recipe of the grid; {recipe!r} is not "
                               f"one (recipes: {', '.join(grid.recipes)}); drop --method joint "
                               "to interpolate it")
        out = interpolate_savings(grid, recipe, b, N, tokens, count_procedural=count_procedural,
                                  bootstrap=bootstrap, level=level, seed=seed, widen=widen)
    elif method != "independent" and (why := joint_available(grid, r, b)) is None:
        out = joint_prediction(grid, r, b, N, baseline_tokens(tokens, N), count_procedural, bootstrap,
                               level, seed, widen)
    else:
        if method == "joint":
            raise PredictError(f"the joint law cannot answer for {r} vs {b}: {why}; use "
                               "--method independent")
        fits = choose_fits(grid, r, b, bootstrap, seed, level, N)
        if not fits.law_form.uses_size:
            N = fits.size if size is None else N
        D_b = baseline_tokens(tokens, N if fits.law_form.uses_size else fits.size)
        out = savings_at(grid, r, b, N, D_b, count_procedural, bootstrap, level, seed, widen,
                         fits=fits)
    if tokens is None:
        defaults["tokens"] = f" (default: {TOKENS_PER_PARAM:g} tokens per parameter)"
    out.defaults = defaults
    out.warnings += grid.notes
    if skills and grid.path is not None:
        out.skills, notes = skill_speedups(grid, out.recipe, out.baseline, level)
        out.warnings += notes
    return out
