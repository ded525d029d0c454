r"""Savings and losses at a target size from the joint multi-recipe law, with an interval in
parts (:mod:`scaling.fit.joint` has the law).

The answer is the chosen variant's :math:`s_r(N) = D_r/D_b` (``1/k_r(N)`` when E and β are
shared) and its losses at ``(N, D_b)``. The interval of ln s (and of ln L) is the sum of
independent parts, each reported on its own (``parts``: sd in ln s, and the interval with the
parts up to it):

1. ``bootstrap`` — the paired bootstrap over runs of the chosen variant (parameter noise).
2. ``variants`` — the spread between the admissible variants (leave-largest-size-out CV
   within two standard errors of the best): the square root of the mean over them of
   :math:`(\ln s_v - \ln s)^2 - |v_v - v|`, where v is the Gauss–Newton (delta-method)
   variance of ln s of each fit — a richer fit's answer differs from the simpler one's by its
   extra parameter noise alone when both are right (Hausman), and only the excess says the
   variants disagree. A variant's term counts only where its Hausman test rejects at the
   answer's level, family-wise over the alternatives (Bonferroni: |z| above the normal
   quantile of 1 − (1 − level)/(2m)), else it is 0 (``fits[i].disagrees``): without that
   gate, noise alone — several trend variants sharing one noisy γ — widened the interval of
   about half of the simulated grids whose law was right, to 8× the bootstrap's width. The
   same for ln L (recipe and baseline).
3. ``extrapolation`` — what the grid itself says about extrapolating in N. Nested backtests:
   the chosen variant refitted to the smallest m sizes (m = 3 … all but the largest) predicts
   every larger size j (factor f = N_j / N_m). The savings error is ln s_m(N_j) − ln s_j(N_j)
   (the fit that has seen size j is the reference); the loss error is the mean of
   ln L_obs − ln L_m over size j's points of the recipe and the baseline (the systematic part:
   the points' own scatter averages out). Their growth with the extrapolation factor,

   .. math:: c^2 = \sum_{m,j} e_{mj}^2 \big/ \sum_{m,j} (\ln f_{mj})^2,

   is carried to the target as a normal term with sd :math:`c\,\ln(N / N_{max})` (0 inside
   the grid). For the savings, each :math:`e^2` is first reduced by the refit's own parameter
   noise (the bootstrap variance of ln s at N_j times the ratio of point counts), which part 1
   already carries. The loss errors are not reduced: a misspecified law (e.g. a data term that
   bends) shows on the grid only as errors of the size of the noise, and what the grid cannot
   rule out is kept. With fewer than 4 sizes no nested backtest is
   possible, and the part is missing (a warning says so; the answer is not confident).
   The same for tokens: the chosen variant refitted without the budgets above a cut (the
   median and the upper quartile of the grid's token counts) predicts the points above it;
   :math:`c_D^2 = \max(0, \sum (e_i^2 - \sigma^2)) / \sum \ln(D_i/D_{cut})^2` (σ the
   full fit's residual scatter), and the loss part has sd :math:`c\,d_N + c_D\,d_D` with
   :math:`d_D = \ln(D_b / D_{max})` beyond the grid's largest budget (added, not in
   quadrature: both errors come from one misfit of the law and share a sign).
4. ``trend prior`` — only where the recipe or the baseline has runs at < 3 sizes: whether the
   data effect drifts with size cannot be checked, so a drift of up to :data:`GAMMA_MAX` in
   |γ| is allowed (90% of a normal term) over the log-distance from the recipe's sizes to the
   target; the answer says it is not confident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from ..fit import FitError
from ..fit.joint import JointResult, JointStructure, fit_joint, refit
from ..jsonsafe import finite_or_none as _f
from ..units import format_count
from .independent import MIN_RUNS, grid_range, procedural_share
from .points import PredictError
from .result import SavingsPrediction

#: Largest drift |γ| of a multiplier with model size assumed when the grid cannot check it
#: (a recipe or the baseline at < 3 sizes). Data effects that shrink with scale are common:
#: a measured savings ratio of 0.88 at 70M–410M that became 0.98 at 1B is γ ≈ 0.12.
GAMMA_MAX = 0.15


@dataclass
class JointAnswer:
    """Savings and losses of ``recipe`` at ``(size, tokens)`` from a joint law (module doc)."""

    recipe: str
    baseline: str
    size: float
    tokens: float
    savings_ratio: float
    interval: tuple[float, float]
    loss_recipe: float
    loss_baseline: float
    loss_recipe_interval: tuple[float, float]
    loss_baseline_interval: tuple[float, float]
    samples: np.ndarray
    parts: dict[str, Any]
    level: float
    variant: str
    warnings: list[str] = field(default_factory=list)
    confident: bool = True

    def summary(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "baseline": self.baseline, "size": self.size,
                "tokens": self.tokens, "savings_ratio": _f(self.savings_ratio),
                "interval": [_f(x) for x in self.interval],
                "loss_recipe": _f(self.loss_recipe), "loss_baseline": _f(self.loss_baseline),
                "loss_recipe_interval": [_f(x) for x in self.loss_recipe_interval],
                "loss_baseline_interval": [_f(x) for x in self.loss_baseline_interval],
                "variant": self.variant, "parts": self.parts, "confident": self.confident,
                "warnings": list(self.warnings)}


def _q(x: np.ndarray, level: float) -> tuple[float, float]:
    x = np.asarray(x, float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    x = np.where(np.isinf(x), 1e300, x)
    lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
    return float(lo) if lo < 1e299 else float("inf"), float(hi) if hi < 1e299 else float("inf")


def nested_backtests(law: JointResult, recipe: str, ratio: float) -> dict[str, Any]:
    """Errors of the chosen variant refitted to the smaller sizes, predicting the larger ones
    (module docstring, part 3), and the fitted growth ``c`` per unit ln f for savings and
    losses. ``ratio``: tokens per parameter of the savings comparisons."""
    data = law.data
    sizes = data.sizes()
    out: dict[str, Any] = {"available": False, "cases": []}
    if len(sizes) < 4:
        out["why"] = f"only {len(sizes)} sizes (a nested backtest needs ≥ 4)"
        return out
    ri = law.recipes.index(recipe)
    fits = {}
    for m in range(3, len(sizes) + 1):
        keep = data.N <= sizes[m - 1] * (1 + 1e-9)
        fits[m] = (law.layout, law.theta) if m == len(sizes) else refit(law, keep)
    es, vs, fs, el, fl = [], [], [], [], []
    for m in range(3, len(sizes)):
        # the refit's own parameter noise: the full fit's bootstrap variance of ln s at N_j,
        # scaled by the ratio of point counts (a refit on fewer sizes is noisier)
        inflate = len(data.N) / float(np.sum(data.N <= sizes[m - 1] * (1 + 1e-9)))
        for j in range(m, len(sizes)):
            Nj = float(sizes[j])
            f = float(np.log(Nj / sizes[m - 1]))
            pred = float(law.savings(recipe, Nj, ratio * Nj, alt=fits[m]))
            ref = float(law.savings(recipe, Nj, ratio * Nj, alt=fits[j + 1]))
            case = {"fitted_to": float(sizes[m - 1]), "size": Nj,
                    "factor": Nj / float(sizes[m - 1])}
            if np.isfinite(pred) and np.isfinite(ref) and pred > 0 and ref > 0:
                es.append(np.log(pred / ref))
                fs.append(f)
                vs.append(_lvar(law.savings(recipe, Nj, ratio * Nj, samples=True)) * inflate
                          if law.boot is not None else 0.0)
                case["savings_log_error"] = float(es[-1])
            # losses: the mean log error over the size's points (recipe and baseline) — the
            # systematic part; the points' own scatter averages out
            at = np.isclose(data.N, Nj, rtol=1e-9) & np.isin(data.ri, [0, ri])
            errs = [np.log(data.L[i] / float(law.loss(law.recipes[data.ri[i]], Nj, data.D[i],
                                                      alt=fits[m])))
                    for i in np.flatnonzero(at)]
            if errs:
                el.append(float(np.mean(errs)))
                fl.append(f)
                case["loss_log_error"] = el[-1]
            out["cases"].append(case)
    # extrapolation in tokens: refit without the budgets above a cut, predict those points
    eD, fD = [], []
    Ds = np.unique(data.D)
    for q in (0.5, 0.75):
        cut = float(Ds[int(q * (len(Ds) - 1))])
        keep = data.D <= cut * (1 + 1e-9)
        sub = data.subset(keep)
        if (~keep).sum() == 0 or len(sub.sizes()) < 2 or any(
                len(np.unique(sub.D[sub.ri == r])) < 2 for r in range(len(law.recipes))):
            continue
        th = refit(law, keep)
        for i in np.flatnonzero(~keep & np.isin(data.ri, [0, ri])):
            lp = float(law.loss(law.recipes[data.ri[i]], data.N[i], data.D[i], alt=th))
            eD.append(np.log(data.L[i] / lp))
            fD.append(np.log(data.D[i] / cut))
    eD, fD = np.asarray(eD), np.asarray(fD)
    # the points' own scatter (the full fit's residual variance) is not an extrapolation error
    out["c_loss_tokens"] = float(np.sqrt(max(0.0, np.sum(eD ** 2 - law.sigma ** 2))
                                         / np.sum(fD ** 2))) if len(fD) else 0.0
    out["n_loss_tokens"] = len(eD)
    out["max_tokens"] = float(data.D.max())
    es, vs, fs, el, fl = map(np.asarray, (es, vs, fs, el, fl))
    out.update(available=bool(len(fs) and len(fl)),
               c_savings=float(np.sqrt(max(0.0, np.sum(es ** 2 - vs)) / np.sum(fs ** 2)))
               if len(fs) else float("nan"),
               c_loss=float(np.sqrt(np.sum(el ** 2) / np.sum(fl ** 2)))
               if len(fl) else float("nan"),
               n_savings=len(es), n_loss=len(el))
    return out


def joint_savings(law: JointResult, recipe: str, size: float, tokens: float,
                  level: float = 0.9, seed: int = 0, widen: bool = True,
                  nested: dict | None = None) -> JointAnswer:
    """The savings answer of ``law`` for ``recipe`` at ``size`` and baseline budget ``tokens``
    with the interval parts of the module docstring. ``nested`` reuses
    :func:`nested_backtests` output (it depends on the recipe and the budget ratio only)."""
    N, D_b = float(size), float(tokens)
    b = law.baseline
    warnings: list[str] = []
    s = float(law.savings(recipe, N, D_b))
    Lb, Lr = float(law.loss(b, N, D_b)), float(law.loss(recipe, N, D_b))
    if law.boot is None:
        nan2 = (float("nan"), float("nan"))
        return JointAnswer(recipe, b, N, D_b, s, nan2, Lr, Lb, nan2, nan2, np.array([]),
                           {}, level, law.variant.name, ["no bootstrap: no interval"])
    rng = np.random.default_rng(seed + 7)
    # part 1: the bootstrap samples of ln s and of the two ln L
    ls = np.log(law.savings(recipe, N, D_b, samples=True).ravel())
    lLb = np.log(law.loss(b, N, D_b, samples=True).ravel())
    lLr = np.log(law.loss(recipe, N, D_b, samples=True).ravel())
    B = ls.size
    parts: dict[str, Any] = {"bootstrap": {"sd_log": _nsd(ls),
                                           "interval": _q(np.exp(ls), level)}}
    # part 2: admissible variants
    tau_v, tau_vl, rows = _variant_spread(law, recipe, N, D_b, level)
    ls = ls + tau_v * rng.standard_normal(B)
    lLb, lLr = lLb + tau_vl * rng.standard_normal(B), lLr + tau_vl * rng.standard_normal(B)
    parts["variants"] = {"n": len(rows), "fits": rows, "sd_log": tau_v, "sd_log_loss": tau_vl,
                         "interval": _q(np.exp(ls), level)}
    # part 3: extrapolation in N measured on the grid
    confident = True
    part = _extrapolation_part(law, recipe, N, D_b, nested) if widen else None
    if part is not None and part["sd_log"] is None:
        confident = False
        parts["extrapolation"] = part
        warnings.append(f"no nested backtest on this grid ({part['why']}): the interval has "
                        "no term for the error of extrapolating in N")
    elif part is not None:
        ls = ls + part["sd_log"] * rng.standard_normal(B)
        z = rng.standard_normal(B)
        lLb = lLb + part["sd_log_loss"] * z
        lLr = lLr + part["sd_log_loss"] * rng.standard_normal(B)
        parts["extrapolation"] = {**part, "interval": _q(np.exp(ls), level)}
    # part 4: the trend the grid cannot check
    prior = _trend_prior(law, recipe, N)
    if prior is not None:
        confident = False
        part, note = prior
        ls = ls + part["sd_log"] * rng.standard_normal(B)
        parts["trend_prior"] = {**part, "interval": _q(np.exp(ls), level)}
        warnings.append(note)
    warnings += law.warnings
    return JointAnswer(recipe=recipe, baseline=b, size=N, tokens=D_b, savings_ratio=s,
                       interval=_q(np.exp(ls), level), loss_recipe=Lr, loss_baseline=Lb,
                       loss_recipe_interval=_q(np.exp(lLr), level),
                       loss_baseline_interval=_q(np.exp(lLb), level), samples=np.exp(ls),
                       parts=parts, level=level, variant=law.variant.name, warnings=warnings,
                       confident=confident)


def _variant_spread(law: JointResult, recipe: str, N: float, D_b: float, level: float):
    """Part 2 (module docstring): the admissible variants' differences from the chosen one
    beyond what the richer fit's extra parameter noise explains (Hausman: for nested fits the
    difference of two estimates has the difference of their variances), as a symmetric
    term. Returns ``(sd of ln s, sd of ln L, one row per variant)``."""
    b = law.baseline
    alts = [(law.variant.name, (law.layout, law.theta))] + list(law.alternatives.items())
    rows = []
    for name, a in alts:
        sv = float(law.savings(recipe, N, D_b, alt=a))
        if not (np.isfinite(sv) and sv > 0):
            continue
        rows.append({"variant": name, "savings": sv,
                     "var_log": _delta_var(law, a, lambda al: law.savings(recipe, N, D_b,
                                                                          alt=al)),
                     "loss_recipe": float(law.loss(recipe, N, D_b, alt=a)),
                     "loss_baseline": float(law.loss(b, N, D_b, alt=a)),
                     "var_log_loss": 0.5 * (
                         _delta_var(law, a, lambda al: law.loss(recipe, N, D_b, alt=al))
                         + _delta_var(law, a, lambda al: law.loss(b, N, D_b, alt=al)))})
    if not rows:
        return 0.0, 0.0, rows
    s = float(law.savings(recipe, N, D_b))
    Lb, Lr = float(law.loss(b, N, D_b)), float(law.loss(recipe, N, D_b))
    # a variant's excess counts only where the Hausman test says it disagrees at the answer's
    # level, family-wise over the alternatives; pooled over the variants, then floored
    v0, w0 = rows[0]["var_log"], rows[0]["var_log_loss"]
    z2 = _z_family(level, len(rows) - 1) ** 2
    ex = [_excess(np.log(r["savings"] / s) ** 2, abs(r["var_log"] - v0), z2) for r in rows]
    ex_l = [_excess(0.5 * (np.log(r["loss_recipe"] / Lr) ** 2
                           + np.log(r["loss_baseline"] / Lb) ** 2),
                    abs(r["var_log_loss"] - w0), z2) for r in rows]
    for r, e in zip(rows, ex, strict=True):
        r["disagrees"] = bool(e > 0)
    return (float(np.sqrt(max(0.0, np.mean(ex)))), float(np.sqrt(max(0.0, np.mean(ex_l)))),
            rows)


def _extrapolation_part(law: JointResult, recipe: str, N: float, D_b: float,
                        nested: dict | None) -> dict | None:
    """Part 3 (module docstring): None inside the grid's sizes; ``sd_log`` None (and ``why``)
    when the grid allows no nested backtest."""
    d = max(0.0, float(np.log(N / float(law.data.sizes().max()))))
    if d <= 0:
        return None
    nb = nested or nested_backtests(law, recipe, D_b / N)
    if not nb.get("available"):
        return {"sd_log": None, "why": nb.get("why")}
    d_D = max(0.0, float(np.log(D_b / nb["max_tokens"])))
    # N and D terms add: both come from one misfit of the law, so their errors share a sign
    # rather than partly cancelling like independent terms
    return {"sd_log": nb["c_savings"] * d,
            "sd_log_loss": nb["c_loss"] * d + nb["c_loss_tokens"] * d_D,
            "c_savings": nb["c_savings"], "c_loss": nb["c_loss"],
            "c_loss_tokens": nb["c_loss_tokens"], "tokens_log_distance": d_D,
            "log_distance": d, "nested": nb}


def _trend_prior(law: JointResult, recipe: str, N: float):
    """Part 4 (module docstring): ``(part, warning)`` where the recipe or the baseline has runs
    at < 3 sizes, else None."""
    b = law.baseline
    few = {r: len(law.sizes[r]) for r in (b, recipe) if len(law.sizes[r]) < 3}
    if not few:
        return None
    lo = min(min(law.sizes[r]) for r in (b, recipe))
    span = abs(float(np.log(N / lo)))
    tau_g = GAMMA_MAX * span / _z_family(0.9, 1)  # |γ| ≤ GAMMA_MAX with 90%
    note = ("not confident: " + ", ".join(f"{r} has runs at {k} size{'s' if k > 1 else ''}"
                                          for r, k in few.items())
            + f" (< 3): whether its data effect drifts with model size cannot be checked; "
            f"the interval allows a drift |gamma| ≤ {GAMMA_MAX:g} over the "
            f"{span / np.log(10):.2g} decades from the smallest size to the target")
    return {"sd_log": tau_g, "gamma_max": GAMMA_MAX}, note


def _z_family(level: float, m: int) -> float:
    """Two-sided normal quantile of ``level`` made family-wise over ``m`` tests (Bonferroni)."""
    return NormalDist().inv_cdf(1 - (1 - level) / (2 * max(m, 1)))


def _excess(d2: float, v: float, z2: float) -> float:
    """A variant's squared difference from the chosen one beyond its Hausman variance ``v``,
    or 0 when the difference is within ``z2`` such variances (noise at the test's level)."""
    return d2 - v if d2 > z2 * v else 0.0


def _lvar(x: np.ndarray) -> float:
    """Variance of ln x over the finite positive samples (0 when there are too few)."""
    x = np.asarray(x, float).ravel()
    x = x[np.isfinite(x) & (x > 0)]
    return float(np.var(np.log(x))) if x.size > 2 else 0.0


def _delta_var(law: JointResult, alt, fn) -> float:
    """Delta-method variance of ``ln fn(alt)`` under the Gauss–Newton covariance of the fit
    ``alt = (layout, theta)`` on the law's data (residual variance σ² of that fit)."""
    lay, th = alt
    d = law.data
    st = JointStructure(lay.design(d.ri, np.log(d.N), np.log(d.D), d.lN0))
    r, sm, _ = st.evaluate(np.atleast_2d(th), d.logL, None, 1e-3)
    J = st.jacobian_t(sm)[0].T  # [n, P]
    dof = max(len(r[0]) - J.shape[1], 1)
    cov = float(r[0] @ r[0]) / dof * np.linalg.pinv(J.T @ J)
    base = float(np.log(fn((lay, th))))
    h = 1e-5
    grad = np.array([(float(np.log(fn((lay, th + h * e)))) - base) / h
                     for e in np.eye(len(th))])
    v = float(grad @ cov @ grad)
    return v if np.isfinite(v) else 0.0


def _nsd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.std(x)) if x.size > 2 else float("nan")


# --------------------------------------------------------------------------- the product


def joint_available(grid, recipe: str, baseline: str) -> str | None:
    """Why the joint law cannot answer for this pair of the grid (None when it can)."""
    if recipe == baseline:
        return "recipe and baseline are the same"
    for r in (recipe, baseline):
        if len(grid.sizes(r)) < 2:
            return f"{r} has runs at one model size only"
        if grid.of(r)["tokens"].nunique() < 2:
            return f"{r} has fewer than 2 distinct budgets"
    return None


def fit_pair(grid, recipe: str, baseline: str, bootstrap: int, seed: int, level: float):
    """The joint law of ``recipe`` and ``baseline`` on the grid's points (cached on the grid;
    the bootstrap resamples whole runs)."""
    key = ("joint", recipe, baseline, int(bootstrap or 0), seed, level)
    if key not in grid.fits:
        pts = grid.points[grid.points["recipe"].isin([recipe, baseline])]
        # as for the independent fits: with few runs the bootstrap unit is the run end point
        # (each WSD decay branch), said in a warning
        few = min(pts.loc[pts["recipe"] == r, "run"].nunique() for r in (recipe, baseline))
        by_point = bool(bootstrap) and few < MIN_RUNS and pts["unit"].nunique() > \
            pts["run"].nunique()
        try:
            law = fit_joint_frame(pts.assign(run=pts["unit"]) if by_point else pts, baseline,
                                  bootstrap, seed, level)
        except FitError as e:
            raise PredictError(f"cannot fit the joint law to {recipe} and {baseline}: {e}"
                               ) from None
        if by_point:
            law.warnings.append(f"only {few} runs: the bootstrap resamples run end points "
                                "(decay branches), which understates run-to-run noise; add "
                                "seeds")
        grid.fits[key] = law
    return grid.fits[key]


def fit_joint_frame(pts, baseline: str, bootstrap: int, seed: int, level: float):
    return fit_joint(pts[["run", "recipe", "params", "tokens", "loss"]], baseline,
                     bootstrap=bootstrap, seed=seed, level=level)


def joint_prediction(grid, recipe: str, baseline: str, size: float, tokens: float,
                     count_procedural: bool = True, bootstrap: int = 200, level: float = 0.9,
                     seed: int = 0, widen: bool = True):
    """:class:`~scaling.predict.result.SavingsPrediction` from the joint law (``form``
    ``"joint"``; the law, its variant choice and the interval parts under ``joint``)."""
    law = fit_pair(grid, recipe, baseline, bootstrap, seed, level)
    N, D_b = float(size), float(tokens)
    ans = joint_savings(law, recipe, N, D_b, level=level, seed=seed, widen=widen)
    share_r = 0.0 if count_procedural else procedural_share(recipe)
    share_b = 0.0 if count_procedural else procedural_share(baseline)
    scale = (1.0 - share_r) / (1.0 - share_b)
    D_r = ans.savings_ratio * D_b
    where = grid_range(grid, recipe, baseline, N, D_b, D_r)
    warnings = [f"extrapolated: {n}" for n in where.notes]
    if not np.isfinite(ans.savings_ratio):
        floor = float(law.loss(recipe, N, np.inf))
        warnings.append(f"{recipe} never reaches the baseline's loss {ans.loss_baseline:.4g} at "
                        f"{format_count(N)}: its fitted floor there is {floor:.4g} (joint law, "
                        f"{law.variant.name}); a smaller --tokens gives the baseline a loss it "
                        "can reach")
    warnings += ans.warnings
    sizes = where.sizes
    ext = {"size_log_distance": where.d_N, "tokens_log_distance": max(where.d_Db, where.d_Dr),
           "grid_sizes": [float(x) for x in sizes],
           "tokens_per_param": [where.ratio_lo, where.ratio_hi],
           "parts": {k: {kk: vv for kk, vv in v.items() if kk != "nested"}
                     for k, v in ans.parts.items()}}
    return SavingsPrediction(
        recipe=recipe, baseline=baseline, size=N, tokens=D_b, target_domain=grid.domain,
        count_procedural=count_procedural, savings_ratio=float(ans.savings_ratio * scale),
        interval=(ans.interval[0] * scale, ans.interval[1] * scale),
        loss_recipe=ans.loss_recipe, loss_baseline=ans.loss_baseline,
        loss_recipe_interval=ans.loss_recipe_interval,
        loss_baseline_interval=ans.loss_baseline_interval, tokens_recipe=float(D_r),
        extrapolated=bool(warnings and any(w.startswith("extrapolated") for w in warnings)),
        form="joint", level=level, samples=ans.samples * scale,
        grid={"source": grid.source, "sizes": [float(x) for x in sizes],
              "recipes": grid.recipes,
              "n_points": {r: int(len(grid.of(r))) for r in {recipe, baseline}}},
        extrapolation=ext, warnings=warnings,
        at_bound={r: d for r in (baseline, recipe) if (d := law.at_bound(r))},
        joint={**law.summary(), "confident": ans.confident,
               "nested": ans.parts.get("extrapolation", {}).get("nested")})
