r"""Data savings of a recipe vs a baseline at a target size from one law per recipe (the
``independent`` method; DESIGN.md's savings ratio). :mod:`scaling.predict.savings` decides
when this method answers; the joint law (:mod:`scaling.predict.joint`) is the default where
it can.

Definition. For recipe r, baseline b, model size N and baseline budget D_b,

.. math:: s = D_r / D_b, \qquad L_r(N, D_r) = L_b(N, D_b),

with the fitted per-recipe Chinchilla laws :math:`L(N, D) = E + A/N^\alpha + B/D^\beta`
inverted in closed form, :math:`D_r = (B_r / (L_b - E_r - A_r/N^{\alpha_r}))^{1/\beta_r}`.
``s = 0.55`` means "55% of the data"; ``s > 1`` means the recipe *costs* data.
With ``count_procedural=False`` the procedural share ``π`` of each recipe (the token fraction
drawn from procedural domains over its schedule, e.g. ``f`` for ``front=dyck:f``) is left out:
:math:`s = D_r(1-π_r) / (D_b(1-π_b))`.

Where a recipe has runs at one model size only, per-size power laws
:math:`L(D) = E + B D^{-\beta}` replace the Chinchilla law and the answer is at that size
(no extrapolation in N is possible; a warning says so).

Intervals. Each recipe's law is bootstrapped over runs (independent resamples); sample i of
the baseline is paired with sample i of the recipe, pushed through the inversion, and the
``level`` percentiles of the resulting ``s_i`` are the interval. With fewer than
:data:`MIN_RUNS` runs of a recipe the bootstrap unit is the run end point (each WSD decay
branch) instead of the run, with a warning.

Extrapolation. Beyond the grid's sizes the answer is ``extrapolated`` and the interval is
widened by a data-driven term: refit both laws without the largest common size, predict the
savings at that size, and take the drift per unit of log-size

.. math:: \delta = |\ln s_{\mathrm{held\,out}} - \ln s_{\mathrm{full}}| / \ln(N_{max}/N_{max-1}).

The bootstrap samples of ln s get an extra normal term with sd :math:`\tau = c\,\delta\,d`,
where ``d`` is the log-distance of the target beyond the grid (``ln(N/N_max)``) and ``c``
(:data:`WIDEN_C`) was calibrated on simulated grids so that 90% intervals cover the truth
85–95% of the time (``analysis/bench/bench_predict_coverage.py``). With only two sizes the
leave-out refit is impossible and δ is the bootstrap sd of ln s at the largest size per
unit log-span of the grid (a rough rule; a warning says so).

Budgets outside the grid's range of tokens per parameter (the baseline's D_b or the recipe's
matching D_r) are flagged the same way (``extrapolated``, a warning with the distance in
decades); their extra uncertainty is the bootstrap's, which grows with the distance in D on
its own. Recipes outside the grid's range of recipe parameters are flagged by
:mod:`scaling.predict.interpolate`, whose linear extrapolation amplifies the samples' spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.procedural import PROCEDURAL_DOMAINS
from ..defaults import BOOTSTRAP, TOKENS_PER_PARAM
from ..errors import ScalingError
from ..fit import FitError, LawResult, fit_law_frame, forms
from ..recipe import parse_recipe
from ..units import format_count, parse_tokens
from .points import LawPoints, PredictError
from .result import SavingsPrediction

#: Below this many runs of a recipe the bootstrap resamples run end points, not runs.
MIN_RUNS = 8
#: Calibration constant of the extrapolation widening (see module docstring). Measured with
#: ``analysis/bench/bench_predict_coverage.py --sims 100 --noise 0.001`` (4 sizes 25k–200k,
#: 5 budgets, 3 seeds, target 2M at 20 tokens/param): coverage of the 90% interval 94% for
#: c ∈ [0, 0.75], 96% for c = 1. The bootstrap alone is about calibrated when the law's form
#: is right; the widening is there for real grids, where the form is only approximately right,
#: so c is the largest value that keeps the simulated coverage within 85–95%, rounded down.
WIDEN_C = 0.5



# --------------------------------------------------------------------------- laws


def fit_recipe(grid: LawPoints, recipe: str, form: str = "chinchilla", bootstrap: int = BOOTSTRAP,
               seed: int = 0, level: float = 0.9, size: float | None = None,
               warm: LawResult | None = None) -> LawResult:
    """The loss law of one recipe of the grid (``size``: only that size, for ``power``;
    ``warm``: a refit started from that law's estimate instead of the form's start grid).

    Fits are cached on the grid (same points, same arguments → the same law)."""
    key = (recipe, form, int(bootstrap or 0), seed, level, size,
           None if warm is None else warm.theta.tobytes())
    if key in grid.fits:
        return grid.fits[key]
    pts = grid.of(recipe)
    if size is not None:
        pts = pts[np.isclose(pts["params"], size, rtol=1e-9)]
    n_runs = pts["run"].nunique()
    by_point = bool(bootstrap) and n_runs < MIN_RUNS and pts["unit"].nunique() > n_runs
    frame = pts.assign(run=pts["unit"] if by_point else pts["run"])[
        ["run", "params", "tokens", "loss"]]
    try:
        # points were selected in load_points (run and branch end points): use them all
        res = fit_law_frame(frame, form=form, bootstrap=bootstrap, seed=seed, level=level,
                            points="all", starts=None if warm is None else warm.theta[None, :])
    except FitError as e:
        raise PredictError(f"cannot fit a {form} law to recipe {recipe!r}"
                           f"{'' if size is None else f' at size {format_count(size)}'}: {e}"
                           ) from None
    if by_point:
        res.warnings.append(f"only {n_runs} runs: the bootstrap resamples run end points "
                            "(decay branches), which understates run-to-run noise; add seeds")
    res.meta["recipe"] = recipe
    grid.fits[key] = res
    return res


def procedural_share(recipe: str) -> float:
    """Fraction of a recipe's tokens drawn from procedural domains over its whole schedule
    (``f`` for ``prose=1;front=dyck:f``); 0 for names that are not ``--mix`` strings."""
    try:
        r = parse_recipe(recipe)
    except ScalingError:
        return 0.0
    return float(sum((ph.end - ph.start) * sum(w for d, w in ph.weights.items()
                                                if d in PROCEDURAL_DOMAINS)
                     for ph in r.phases()))


@dataclass
class PairSavings:
    """Savings of one (recipe, baseline) pair of fits at ``(N, D_b)``: point and samples."""

    s: float
    samples: np.ndarray
    loss_baseline: float
    loss_recipe: float
    loss_baseline_samples: np.ndarray
    loss_recipe_samples: np.ndarray
    tokens_recipe: float
    floor_recipe: float


def pair_savings(law_b: LawResult, law_r: LawResult, N: float, D_b: float,
                 share_r: float = 0.0, share_b: float = 0.0) -> PairSavings:
    """:math:`s = D_r(1-π_r)/(D_b(1-π_b))` from two fitted laws, pairing bootstrap samples."""
    pb, pr = law_b.values, law_r.values
    scale = (1.0 - share_r) / (D_b * (1.0 - share_b))
    fb, fr = law_b.law_form, law_r.law_form
    Lb = float(fb.loss(pb, N, D_b))
    Dr = float(fr.invert(pr, Lb, N))
    empty = np.array([])
    Lb_s = Lr_s = s_s = empty
    if law_b.n_bootstrap and law_r.n_bootstrap:
        sb, sr = law_b.samples(), law_r.samples()
        k = min(len(sb["E"]), len(sr["E"]))
        sb = {n: v[:k] for n, v in sb.items()}
        sr = {n: v[:k] for n, v in sr.items()}
        Lb_s = np.asarray(fb.loss(sb, N, D_b), float).reshape(-1)
        Lr_s = np.asarray(fr.loss(sr, N, D_b), float).reshape(-1)
        s_s = np.asarray(fr.invert(sr, Lb_s[:, None], N), float).reshape(-1) * scale
    return PairSavings(s=Dr * scale, samples=s_s, loss_baseline=Lb,
                       loss_recipe=float(fr.loss(pr, N, D_b)), loss_baseline_samples=Lb_s,
                       loss_recipe_samples=Lr_s, tokens_recipe=Dr,
                       floor_recipe=float(fr.floor(pr, N)))


def quantiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval; ``inf`` samples (never reached) count as larger than any value."""
    x = np.asarray(samples, float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    x = np.sort(np.where(np.isinf(x), 1e300, x))
    lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo) if lo < 1e299 else float("inf")), (float(hi) if hi < 1e299
                                                          else float("inf"))


# --------------------------------------------------------------------------- computation


@dataclass
class PairFits:
    form: str
    baseline: LawResult
    recipe: LawResult
    size: float | None  # the one size of power-law fits

    @property
    def law_form(self) -> forms.LawForm:
        return forms.law_form(self.form)


def choose_fits(grid: LawPoints, recipe: str, baseline: str, bootstrap: int, seed: int,
                level: float, size: float | None = None) -> PairFits:
    """Chinchilla laws when both recipes span ≥ 2 sizes, else power laws at a common size."""
    sb, sr = grid.sizes(baseline), grid.sizes(recipe)
    if len(sb) >= 2 and len(sr) >= 2:
        lb = fit_recipe(grid, baseline, "chinchilla", bootstrap, seed, level)
        lr = lb if recipe == baseline else fit_recipe(grid, recipe, "chinchilla", bootstrap,
                                                       seed + 1, level)
        return PairFits("chinchilla", lb, lr, None)
    common = np.intersect1d(sb, sr)
    if common.size == 0:
        raise PredictError(f"{recipe} (sizes {', '.join(map(format_count, sr))}) and {baseline} "
                           f"(sizes {', '.join(map(format_count, sb))}) share no model size; "
                           "savings need both at one size or both at ≥ 2 sizes")
    n = float(common[np.argmin(np.abs(np.log(common / size)))] if size else common[-1])
    lb = fit_recipe(grid, baseline, "power", bootstrap, seed, level, size=n)
    lr = lb if recipe == baseline else fit_recipe(grid, recipe, "power", bootstrap, seed + 1,
                                                   level, size=n)
    return PairFits("power", lb, lr, n)


def _drift(grid: LawPoints, fits: PairFits, recipe: str, baseline: str, ratio: float,
           share_r: float, share_b: float, full_at_max: PairSavings) -> dict[str, Any]:
    """Drift of ln s (and ln L) per unit log-size from a leave-largest-size-out refit."""
    common = np.intersect1d(grid.sizes(recipe), grid.sizes(baseline))
    n_max = float(common[-1])
    out: dict[str, Any] = {"method": None, "delta": 0.0, "delta_loss": 0.0}
    if recipe == baseline:
        out["method"] = "same recipe"
        return out
    if len(common) >= 3:
        n2 = float(common[-2])
        red = grid.below(n_max)
        try:
            lb = fit_recipe(red, baseline, "chinchilla", 0, 0, 0.9)
            lr = fit_recipe(red, recipe, "chinchilla", 0, 0, 0.9)
            held = pair_savings(lb, lr, n_max, ratio * n_max, share_r, share_b)
        except ScalingError:
            held = None
        if held is not None and np.isfinite(held.s) and np.isfinite(full_at_max.s) \
                and held.s > 0 and full_at_max.s > 0:
            span = np.log(n_max / n2)
            out.update(method="leave-largest-size-out", held_out_size=n_max,
                       delta=float(abs(np.log(held.s / full_at_max.s)) / span),
                       delta_loss=float(abs(np.log(held.loss_baseline
                                                   / full_at_max.loss_baseline)) / span))
            return out
    # two sizes (or a failed refit): bootstrap spread at the largest size per log-span
    why = "fewer than 3 sizes" if len(common) < 3 else \
        "the leave-largest-size-out refit gave no finite savings"
    span = np.log(n_max / float(common[0]))
    ls = np.log(full_at_max.samples[np.isfinite(full_at_max.samples)
                                    & (full_at_max.samples > 0)])
    ll = np.log(full_at_max.loss_baseline_samples)
    if span > 0 and ls.size > 2:
        out.update(method=f"bootstrap spread per log-span ({why})", fallback=why,
                   delta=float(np.std(ls) / span), delta_loss=float(np.std(ll) / span))
    return out


def _decades(d: float) -> str:
    x = d / np.log(10)
    return f"{x:.2g} decade" + ("" if f"{x:.2g}" == "1" else "s")


def range_note(what: str, value: float, lo: float, hi: float, fmt) -> tuple[float, str | None]:
    if value > hi * (1 + 1e-9):
        d = float(np.log(value / hi))
        return d, (f"{what} {fmt(value)} is {value / hi:.3g}× the grid's largest ({fmt(hi)}): "
                   f"{_decades(d)} beyond the grid")
    if value < lo * (1 - 1e-9):
        d = float(np.log(lo / value))
        return d, (f"{what} {fmt(value)} is below the grid's smallest ({fmt(lo)}) by "
                   f"{lo / value:.3g}×: {_decades(d)} outside the grid")
    return 0.0, None


@dataclass
class GridRange:
    """Where an answer at size ``N``, baseline budget ``D_b`` and the recipe's matching budget
    ``D_r`` sits relative to a recipe pair's points: the sizes and the range of tokens per
    parameter, the log-distances beyond them (0 inside), and a note for each one outside."""

    sizes: np.ndarray
    ratio_lo: float
    ratio_hi: float
    d_N: float
    d_Db: float
    d_Dr: float
    notes: list[str]


def grid_range(grid: LawPoints, recipe: str, baseline: str, N: float, D_b: float, D_r: float,
               sizes: np.ndarray | None = None) -> GridRange:
    """:class:`GridRange` of an answer (``sizes``: the pair's common sizes unless given)."""
    if sizes is None:
        sizes = np.intersect1d(grid.sizes(recipe), grid.sizes(baseline))
    both = grid.points[grid.points["recipe"].isin([recipe, baseline])]
    ratios = both["tokens"] / both["params"]
    lo, hi = float(ratios.min()), float(ratios.max())
    d_N, n1 = range_note("target size", N, float(sizes[0]), float(sizes[-1]), format_count)
    d_Db, n2 = range_note("baseline budget (tokens per parameter)", D_b / N, lo, hi,
                          lambda v: f"{v:.3g}")
    d_Dr, n3 = 0.0, None
    if np.isfinite(D_r):
        d_Dr, n3 = range_note("recipe's matching budget (tokens per parameter)", D_r / N, lo,
                              hi, lambda v: f"{v:.3g}")
    return GridRange(sizes, lo, hi, d_N, d_Db, d_Dr, [n for n in (n1, n2, n3) if n is not None])


def savings_at(grid: LawPoints, recipe: str, baseline: str, size: float, tokens: float,
               count_procedural: bool = True, bootstrap: int = BOOTSTRAP, level: float = 0.9,
               seed: int = 0, widen: bool = True, fits: PairFits | None = None,
               drift: dict | None = None) -> SavingsPrediction:
    """The savings answer for two recipes *of the grid* (no defaults resolved here).

    ``fits`` reuses fitted laws; ``drift`` reuses a drift estimate (``extrapolation["drift"]``
    of an earlier answer) instead of the leave-largest-size-out refit.
    """
    warnings: list[str] = []
    fits = fits or choose_fits(grid, recipe, baseline, bootstrap, seed, level, size)
    N = float(size)
    sizes = np.intersect1d(grid.sizes(recipe), grid.sizes(baseline))
    if not fits.law_form.uses_size:
        if not np.isclose(N, fits.size, rtol=1e-9):
            warnings.append(f"{recipe if len(grid.sizes(recipe)) < 2 else baseline} has runs at "
                            f"one model size only: the savings are computed at "
                            f"{format_count(fits.size)} (no extrapolation in N is possible; "
                            f"asked for {format_count(N)}); add runs at other sizes")
            N = fits.size
        sizes = np.array([fits.size])
    share_r = 0.0 if count_procedural else procedural_share(recipe)
    share_b = 0.0 if count_procedural else procedural_share(baseline)
    D_b = float(tokens)
    pair = pair_savings(fits.baseline, fits.recipe, N, D_b, share_r, share_b)
    where = grid_range(grid, recipe, baseline, N, D_b, pair.tokens_recipe, sizes)
    extrap = {"size_log_distance": where.d_N, "tokens_log_distance": max(where.d_Db, where.d_Dr),
              "grid_sizes": [float(s) for s in sizes],
              "tokens_per_param": [where.ratio_lo, where.ratio_hi]}
    samples = pair.samples.copy()
    Lb_s, Lr_s = pair.loss_baseline_samples.copy(), pair.loss_recipe_samples.copy()
    if widen and where.d_N > 0 and fits.law_form.uses_size and samples.size:
        samples, Lb_s, Lr_s = _widen(grid, fits, recipe, baseline, N, D_b, where, pair, share_r,
                                     share_b, seed, drift, extrap, warnings)
    for n in where.notes:
        warnings.append(f"extrapolated: {n}" + (
            f"; interval widened (extra sd {extrap['widening_sd_log']:.3g} in ln s)"
            if "widening_sd_log" in extrap and "target size" in n else ""))
    if recipe == baseline:
        samples = np.ones_like(samples)
        warnings.append("recipe and baseline are the same: the savings ratio is 1 by definition")
    lo, hi = quantiles(samples, level) if samples.size else (float("nan"),) * 2
    warnings += _reach_warnings(grid, recipe, N, pair, samples, hi)
    for law in {id(fits.baseline): fits.baseline, id(fits.recipe): fits.recipe}.values():
        warnings += [f"{law.meta.get('recipe')}: {w}" for w in law.warnings]
    grid_info = {"source": grid.source, "sizes": [float(x) for x in sizes],
                 "recipes": grid.recipes, "n_points": {r: int(len(grid.of(r)))
                                                       for r in {recipe, baseline}}}
    return SavingsPrediction(
        recipe=recipe, baseline=baseline, size=N, tokens=D_b, target_domain=grid.domain,
        count_procedural=count_procedural, savings_ratio=float(pair.s), interval=(lo, hi),
        loss_recipe=pair.loss_recipe, loss_baseline=pair.loss_baseline,
        loss_recipe_interval=quantiles(Lr_s, level) if Lr_s.size else (np.nan, np.nan),
        loss_baseline_interval=quantiles(Lb_s, level) if Lb_s.size else (np.nan, np.nan),
        tokens_recipe=pair.tokens_recipe, extrapolated=bool(where.notes), form=fits.form,
        level=level, samples=samples, grid=grid_info, extrapolation=extrap, warnings=warnings,
        at_bound={law.meta.get("recipe", name): law.at_bound
                  for name, law in ((baseline, fits.baseline), (recipe, fits.recipe))
                  if law.at_bound})


def _widen(grid: LawPoints, fits: PairFits, recipe: str, baseline: str, N: float, D_b: float,
           where: GridRange, pair: PairSavings, share_r: float, share_b: float, seed: int,
           drift: dict | None, extrap: dict, warnings: list[str]):
    """The samples of s and of the two losses widened beyond the grid's sizes (module
    docstring); records the widening in ``extrap`` and a fallback in ``warnings``."""
    n_max = float(where.sizes[-1])
    ratio = float(np.clip(D_b / N, where.ratio_lo, where.ratio_hi))
    at_max = pair_savings(fits.baseline, fits.recipe, n_max, ratio * n_max, share_r, share_b)
    dr = drift or _drift(grid, fits, recipe, baseline, ratio, share_r, share_b, at_max)
    tau, tau_l = WIDEN_C * dr["delta"] * where.d_N, WIDEN_C * dr["delta_loss"] * where.d_N
    rng = np.random.default_rng(seed + 7)
    z = rng.standard_normal(pair.samples.size)
    with np.errstate(invalid="ignore"):
        samples = pair.samples * np.exp(tau * z)
        Lb_s = pair.loss_baseline_samples * np.exp(tau_l * z)
        Lr_s = pair.loss_recipe_samples * np.exp(
            tau_l * rng.standard_normal(pair.loss_recipe_samples.size))
    extrap.update(widening_sd_log=tau, widening_sd_log_loss=tau_l, drift=dr)
    if dr.get("fallback"):
        warnings.append(f"{dr['fallback']}: the extrapolation widening uses the bootstrap "
                        "spread per log-size instead of a leave-out refit (a rough rule); "
                        "add sizes")
    return samples, Lb_s, Lr_s


def _reach_warnings(grid: LawPoints, recipe: str, N: float, pair: PairSavings, samples: np.ndarray,
                    hi: float) -> list[str]:
    """What the answer says when the recipe, or some bootstrap samples of it, never reach the
    baseline's loss."""
    if not np.isfinite(pair.s):
        obs = grid.of(recipe)["loss"]
        return [f"{recipe} never reaches the baseline's loss {pair.loss_baseline:.4g} at "
                f"{format_count(N)}: its fitted floor there is {pair.floor_recipe:.4g}, so it "
                f"reaches only losses above that (losses observed in the grid: "
                f"{obs.min():.4g}–{obs.max():.4g}); a smaller --tokens gives the baseline a "
                "loss it can reach"]
    never = float(np.mean(np.isinf(samples))) if samples.size else 0.0
    if never > 0:
        return [f"{never:.1%} of bootstrap samples never reach the baseline's loss"
                + ("; the interval's upper end is unbounded" if not np.isfinite(hi) else "")]
    return []


def baseline_tokens(tokens, N: float) -> float:
    """The baseline budget D_b from the ``tokens`` argument at size ``N`` (``"20M"``,
    ``"20x"``, a number; default :data:`~scaling.defaults.TOKENS_PER_PARAM` per parameter)."""
    if tokens is None:
        return TOKENS_PER_PARAM * N
    D = float(parse_tokens(tokens, int(N)) if isinstance(tokens, str) else tokens)
    if not D > 0:
        raise PredictError(f"tokens must be > 0, got {tokens!r}")
    return D
