r"""Savings of a recipe that is not in the grid, interpolated in recipe parameters.

A recipe is described by its *structure* (base domains, front-loaded domain and protocol,
mid-training domain, MeCo on/off) and its *parameters*: base mixture weights ``mix_<d>``,
the front-load fraction (in log10), mid-training weight and start, MeCo fraction. Only grid
recipes of the same structure are used; among them the parameters that vary span the
interpolation space.

- Base weights only, ≥ 10 grid recipes: the fitting layer's mixture law
  (:func:`scaling.fit.fit_mixture`, cross-validated among its candidates) predicts ln s from
  the ``mix_*`` weights; its split-conformal half-width is added in quadrature to the
  candidates' typical bootstrap spread of ln s.
- Otherwise ln s (every bootstrap sample, and ln L) is interpolated linearly: along one
  varying parameter between the two bracketing grid recipes, in several by least squares
  (intercept + parameters). The weights :math:`w_j` of the grid recipes are the same for
  every sample, so the interval is carried through.

- One grid recipe with a front-loaded phase and a baseline that is the same recipe without
  it: the baseline is the front fraction 0 (s = 1 exactly), and ln s is interpolated
  linearly in the fraction (not its log) between the two, e.g. ``front=dyck:0.001`` from
  a grid with ``prose=1`` and ``prose=1;front=dyck:0.01`` gets ``ln s = 0.1 ln s_0.01``.

Outside the grid's range of a parameter (the box hull), the nearest values are extrapolated
linearly and a warning says how far outside; the answer is then ``extrapolated``.
"""

from __future__ import annotations

from dataclasses import replace
from statistics import NormalDist

import numpy as np
import pandas as pd

from ..defaults import BOOTSTRAP
from ..errors import ScalingError
from ..fit import fit_mixture
from ..recipe import Recipe, parse_recipe
from .independent import (
    baseline_tokens,
    choose_fits,
    procedural_share,
    quantiles,
    range_note,
    savings_at,
)
from .points import LawPoints, PredictError


def structure(r: Recipe) -> tuple:
    """What must match for two recipes to be interpolated between."""
    f, m = r.front, r.mid
    return (tuple(d for d, _ in r.base), None if f is None else (f.domain, f.reset, f.keep),
            None if m is None else m.domain, r.meco is None)


def parameters(r: Recipe, log_front: bool = True) -> dict[str, float]:
    """The continuous parameters of a recipe (see module docstring)."""
    out = {f"mix_{d}": w for d, w in r.base} if len(r.base) > 1 else {}
    if r.front is not None and log_front:
        out["log10_front_fraction"] = float(np.log10(r.front.fraction))
    elif r.front is not None:
        out["front_fraction"] = float(r.front.fraction)
    if r.mid is not None:
        out["mid_weight"], out["mid_start"] = r.mid.weight, r.mid.start
    if r.meco is not None:
        out["meco"] = r.meco
    return out


def _weights_1d(x: np.ndarray, t: float) -> np.ndarray:
    """Linear-interpolation weights of target ``t`` on points ``x`` (extrapolates at ends)."""
    order = np.argsort(x)
    xs = x[order]
    j = int(np.clip(np.searchsorted(xs, t), 1, len(xs) - 1))
    a, b = xs[j - 1], xs[j]
    w = np.zeros(len(x))
    lam = (t - a) / (b - a)
    w[order[j - 1]], w[order[j]] = 1 - lam, lam
    return w


def interpolate_savings(grid: LawPoints, spec: str, baseline: str, size: float, tokens,
                        count_procedural: bool = True, bootstrap: int = BOOTSTRAP,
                        level: float = 0.9, seed: int = 0, widen: bool = True):
    """:class:`~scaling.predict.result.SavingsPrediction` for a recipe not in the grid."""
    target = parse_recipe(spec)
    cands, log_front = _candidates(grid, target, baseline)
    P = pd.DataFrame([parameters(r, log_front) for _, r in cands])
    t = pd.Series(parameters(target, log_front))
    varying = [c for c in P.columns if P[c].nunique() > 1]
    outside = [f"{c} = {t[c]:.4g} outside the grid's [{P[c].min():.4g}, {P[c].max():.4g}]"
               for c in P.columns
               if t[c] < P[c].min() - 1e-12 or t[c] > P[c].max() + 1e-12]
    if not varying:
        raise PredictError(f"{target.name} is not in the grid and the grid's recipes of its "
                           "structure do not vary any parameter; add runs of it")
    # every candidate's answer at the same point (same size, budget, options)
    answers = []
    for name, _ in cands:
        fits = choose_fits(grid, name, baseline, bootstrap, seed, level, size)
        N = size if fits.law_form.uses_size else fits.size
        # procedural tokens are counted here and the target's own share removed below
        answers.append(savings_at(grid, name, baseline, N, baseline_tokens(tokens, N), True,
                                  bootstrap, level, seed, widen, fits=fits))
    if all(c.startswith("mix_") for c in varying) and len(cands) >= 10:
        est, samples, w, method = _by_mixture_law(P, t, answers, level, seed)
    else:
        est, samples, w, method = _by_weights(P, t, varying, answers, target)
    if not count_procedural:
        adj = (1 - procedural_share(target.name)) / (1 - procedural_share(baseline))
        est, samples = est + float(np.log(adj)), samples * adj
    return _answer(cands, answers, baseline, target, est, samples, w, method, varying,
                   outside, count_procedural, level)


def _candidates(grid: LawPoints, target: Recipe, baseline: str):
    """The grid recipes of ``target``'s structure to interpolate between, and whether the
    front fraction is interpolated in log (``(candidates, log_front)``)."""
    cands = []
    for name in grid.recipes:
        try:
            r = parse_recipe(name)
        except ScalingError:
            continue
        if structure(r) == structure(target) and name != baseline:
            cands.append((name, r))
    log_front = True
    try:
        b = parse_recipe(baseline)
    except ScalingError:
        b = None
    if len(cands) == 1 and target.front is not None and b is not None and b.front is None \
            and structure(b) == structure(replace(target, front=None)):
        # the baseline is the same recipe with front fraction 0 (s = 1 exactly): interpolate
        # linearly in the fraction between it and the one grid recipe
        cands.insert(0, (baseline, replace(target, front=replace(target.front, fraction=0.0))))
        log_front = False
    if len(cands) < 2:
        have = ", ".join(n for n, _ in cands) or "none"
        raise PredictError(
            f"{target.name} is not in the grid and cannot be interpolated: it needs at least 2 "
            f"grid recipes of the same structure (same domains, phases and protocol); found "
            f"{have}. Recipes in the grid: {', '.join(grid.recipes)}")
    return cands, log_front


def _by_mixture_law(P: pd.DataFrame, t: pd.Series, answers, level: float, seed: int):
    """ln s of the target from a mixture law fitted to the candidates' ln s (≥ 10 recipes
    that differ in their mixture weights only): ``(est, samples, weights, method)``."""
    k = min(a.samples.size for a in answers)
    lns = np.array([np.log(a.samples[:k]) for a in answers])  # [J, B]
    mix = [c for c in P.columns if c.startswith("mix_")]
    frame = P[mix].assign(log_s=np.log([a.savings_ratio for a in answers]))
    mres = fit_mixture(frame, "log_s", level=level, seed=seed)
    est = float(mres.predict(t[mix].to_frame().T)[0])
    z = NormalDist().inv_cdf(0.5 + level / 2)
    spread = float(np.nanmedian(np.nanstd(np.where(np.isfinite(lns), lns, np.nan), axis=1)))
    sd = float(np.hypot(mres.halfwidth, z * spread)) / z
    samples = np.exp(est + sd * np.random.default_rng(seed).standard_normal(k))
    w = np.full(len(answers), 1.0 / len(answers))
    return est, samples, w, f"mixture law ({mres.model}, CV Spearman {mres.spearman:.2f})"


def _by_weights(P: pd.DataFrame, t: pd.Series, varying: list[str], answers, target: Recipe):
    """ln s of the target as a weighted sum of the candidates' (linear in the one varying
    parameter between its two nearest, or least squares in several), sample by sample:
    ``(est, samples, weights, method)``."""
    k = min(a.samples.size for a in answers)
    lns = np.array([np.log(a.samples[:k]) for a in answers])  # [J, B]
    if len(varying) == 1:
        w = _weights_1d(P[varying[0]].to_numpy(float), float(t[varying[0]]))
        method = f"linear in {varying[0]} between the two nearest grid recipes"
    else:
        X = np.column_stack([np.ones(len(P)), P[varying].to_numpy(float)])
        if len(P) < X.shape[1]:
            raise PredictError(f"{target.name} varies {len(varying)} parameters from the "
                               f"grid but only {len(P)} grid recipes share its structure; "
                               "need at least one more than the parameters")
        xt = np.concatenate([[1.0], t[varying].to_numpy(float)])
        w = xt @ np.linalg.pinv(X)
        method = f"least squares in {', '.join(varying)}"
    with np.errstate(invalid="ignore"):
        est = float(w @ np.log([a.savings_ratio for a in answers]))
        samples = np.exp(w @ lns)
    return est, samples, w, method


def _answer(cands, answers, baseline: str, target: Recipe, est: float, samples, w, method: str,
            varying: list[str], outside: list[str], count_procedural: bool, level: float):
    """The interpolated answer, built on the heaviest grid recipe's (other than the
    baseline): its savings, samples and loss moved to the target's, its notes redone."""
    others = [j for j, (n, _) in enumerate(cands) if n != baseline]
    base = answers[max(others, key=lambda j: abs(w[j]))]
    warnings = []
    if outside:
        warnings.append("recipe outside the grid's hull: " + "; ".join(outside)
                        + " (extrapolated in recipe parameters)")
    base.recipe = target.name
    base.count_procedural = count_procedural
    base.savings_ratio = float(np.exp(est))
    base.samples = samples
    base.interval = quantiles(samples, level)
    if "mixture" not in method:
        # the recipe's loss interpolates like ln s; its interval moves with it
        shift = float(np.exp(w @ np.log([a.loss_recipe for a in answers]))) / base.loss_recipe
        base.loss_recipe *= shift
        base.loss_recipe_interval = tuple(v * shift for v in base.loss_recipe_interval)
    base.tokens_recipe = base.savings_ratio * base.tokens
    # the matching budget is the interpolated recipe's own: redo its range note
    rlo, rhi = base.extrapolation["tokens_per_param"]
    _, note = range_note("recipe's matching budget (tokens per parameter)",
                         base.tokens_recipe / base.size, rlo, rhi, lambda v: f"{v:.3g}")
    kept = [w_ for w_ in base.warnings
            if "never reach" not in w_ and "recipe's matching budget" not in w_]
    if note is not None:
        kept.append(f"extrapolated: {note}")
        base.extrapolated = True
    base.extrapolated = base.extrapolated or bool(outside)
    base.warnings = [f"{target.name} is not in the grid: interpolated from "
                     f"{', '.join(n for n, _ in cands)} ({method})"] + warnings + kept
    base.at_bound = {r: d for a in answers for r, d in a.at_bound.items()}  # every law used
    base.interpolation = {"method": method, "from": [n for n, _ in cands],
                          "weights": [float(x) for x in w], "parameters": varying,
                          "outside_hull": outside}
    return base
