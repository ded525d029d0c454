r"""Savings and losses at a target size from the joint multi-recipe law, with an interval in
parts (:mod:`scaling.fit.joint` has the law).

The answer is the chosen variant's :math:`s_r(N) = D_r/D_b` (``1/k_r(N)`` when E and β are
shared) and its losses at ``(N, D_b)``. The interval of ln s (and of ln L) is the sum of
independent parts, each reported on its own (``parts``: sd in ln s, and the interval with the
parts up to it):

1. ``bootstrap`` — the paired bootstrap over runs of the chosen variant (parameter noise).
2. ``variants`` — the spread between the admissible variants (leave-largest-size-out CV
   within one standard error of the best): each bootstrap sample is shifted by the difference
   between a variant's point answer and the chosen one's, the variant drawn uniformly.
3. ``extrapolation`` — what the grid itself says about extrapolating in N. Nested backtests:
   the chosen variant refitted to the smallest m sizes (m = 3 … all but the largest) predicts
   every larger size j; the savings error is ln s_m(N_j) − ln s_{j}(N_j) (the fit that has
   seen size j as the reference) and the loss error ln L_obs − ln L_m at the observed points
   of size j. Both grow with the extrapolation factor f = N_j / N_m; their root mean square
   per unit ln f, beyond what the bootstrap of those fits already explains (parameter noise
   is part 1; for losses also the points' own scatter σ about the law), is

   .. math:: c^2 = \max\Big(0, \frac{\sum (e^2 - v)}{\sum (\ln f)^2}\Big),

   with v the variance the bootstrap (and σ²) assigns to each error. At the target the part
   has sd :math:`c\,\ln(N / N_{max})` (0 inside the grid). With fewer than 4 sizes no nested
   backtest is possible, and the part is not available (a warning says so).
4. ``trend prior`` — only where the recipe or the baseline has runs at < 3 sizes: whether the
   data effect drifts with size cannot be checked, so a drift of up to :data:`GAMMA_MAX` in
   |γ| is allowed (90% of a normal term) over the log-distance from the recipe's sizes to the
   target; the answer says it is not confident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..fit.joint import JointResult, refit

#: Largest drift |γ| of a multiplier with model size assumed when the grid cannot check it
#: (a recipe or the baseline at < 3 sizes). Data effects that shrink with scale are common:
#: a measured savings ratio of 0.88 at 70M–410M that became 0.98 at 1B is γ ≈ 0.12.
GAMMA_MAX = 0.15

_Z90 = 1.6448536269514722


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
        from ..jsonsafe import finite_or_none as _f

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


def _lsd(x: np.ndarray) -> float:
    """sd of ln x over the finite positive samples."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    return float(np.std(np.log(x))) if x.size > 2 else float("nan")


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
    # bootstrap variance of a prediction, per unit of the full fit's — the refits see fewer
    # sizes, so their noise is larger; scale the full fit's variance of ln s at N_j and of
    # ln L at each point by the ratio of point counts (a rough, documented approximation)
    ri = law.recipes.index(recipe)
    fits = {}
    for m in range(3, len(sizes) + 1):
        keep = data.N <= sizes[m - 1] * (1 + 1e-9)
        fits[m] = (law.layout, law.theta) if m == len(sizes) else refit(law, keep)
    es, vs, fs, el, vl, fl = [], [], [], [], [], []
    sig2 = law.sigma ** 2
    for m in range(3, len(sizes)):
        n_m = float(np.sum(data.N <= sizes[m - 1] * (1 + 1e-9)))
        inflate = len(data.N) / n_m
        for j in range(m, len(sizes)):
            Nj = float(sizes[j])
            f = float(np.log(Nj / sizes[m - 1]))
            pred = float(law.savings(recipe, Nj, ratio * Nj, alt=fits[m]))
            ref = float(law.savings(recipe, Nj, ratio * Nj, alt=fits[j + 1]))
            if law.boot is not None:
                v = _lsd(law.savings(recipe, Nj, ratio * Nj, samples=True)) ** 2 * inflate
            else:
                v = 0.0
            if np.isfinite(pred) and np.isfinite(ref) and pred > 0 and ref > 0:
                es.append(np.log(pred / ref))
                vs.append(v if np.isfinite(v) else 0.0)
                fs.append(f)
                out["cases"].append({"fitted_to": float(sizes[m - 1]), "size": Nj,
                                     "factor": Nj / float(sizes[m - 1]),
                                     "savings_log_error": float(np.log(pred / ref))})
            at = np.isclose(data.N, Nj, rtol=1e-9) & np.isin(data.ri, [0, ri])
            for i in np.flatnonzero(at):
                name = law.recipes[data.ri[i]]
                lp = float(law.loss(name, Nj, data.D[i], alt=fits[m]))
                vb = _lsd(law.loss(name, Nj, data.D[i], samples=True)) ** 2 * inflate \
                    if law.boot is not None else 0.0
                el.append(np.log(data.L[i] / lp))
                vl.append(sig2 + (vb if np.isfinite(vb) else 0.0))
                fl.append(f)
    es, vs, fs = map(np.asarray, (es, vs, fs))
    el, vl, fl = map(np.asarray, (el, vl, fl))
    out.update(available=bool(len(fs)),
               c_savings=float(np.sqrt(max(0.0, np.sum(es ** 2 - vs)) / np.sum(fs ** 2)))
               if len(fs) else float("nan"),
               c_loss=float(np.sqrt(max(0.0, np.sum(el ** 2 - vl)) / np.sum(fl ** 2)))
               if len(fl) else float("nan"),
               savings_rms_error=float(np.sqrt(np.mean(es ** 2))) if len(es) else float("nan"),
               loss_rms_error=float(np.sqrt(np.mean(el ** 2))) if len(el) else float("nan"),
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
    ls = np.log(law.savings(recipe, N, D_b, samples=True).ravel())
    lLb = np.log(law.loss(b, N, D_b, samples=True).ravel())
    lLr = np.log(law.loss(recipe, N, D_b, samples=True).ravel())
    B = ls.size
    parts: dict[str, Any] = {"bootstrap": {"sd_log": _nsd(ls),
                                           "interval": _q(np.exp(ls), level)}}
    # part 2: admissible variants
    cands = [(law.variant.name, s, Lb, Lr)] + [
        (name, float(law.savings(recipe, N, D_b, alt=a)), float(law.loss(b, N, D_b, alt=a)),
         float(law.loss(recipe, N, D_b, alt=a))) for name, a in law.alternatives.items()]
    cands = [c for c in cands if np.isfinite(c[1]) and c[1] > 0]
    pick = rng.integers(0, len(cands), B)
    shift = np.array([np.log(c[1] / s) if s > 0 and np.isfinite(s) else 0.0 for c in cands])
    sh_b = np.array([np.log(c[2] / Lb) for c in cands])
    sh_r = np.array([np.log(c[3] / Lr) for c in cands])
    ls, lLb, lLr = ls + shift[pick], lLb + sh_b[pick], lLr + sh_r[pick]
    parts["variants"] = {"n": len(cands), "names": [c[0] for c in cands],
                         "savings": [c[1] for c in cands],
                         "sd_log": float(np.std(shift)) if len(cands) > 1 else 0.0,
                         "interval": _q(np.exp(ls), level)}
    # part 3: extrapolation in N measured on the grid
    n_max = float(law.data.sizes().max())
    d = max(0.0, float(np.log(N / n_max)))
    confident = True
    if widen and d > 0:
        nb = nested or nested_backtests(law, recipe, D_b / N)
        if nb.get("available"):
            tau, tau_l = nb["c_savings"] * d, nb["c_loss"] * d
            ls = ls + tau * rng.standard_normal(B)
            z = rng.standard_normal(B)
            lLb, lLr = lLb + tau_l * z, lLr + tau_l * rng.standard_normal(B)
            parts["extrapolation"] = {"sd_log": tau, "sd_log_loss": tau_l,
                                      "c_savings": nb["c_savings"], "c_loss": nb["c_loss"],
                                      "log_distance": d, "nested": nb,
                                      "interval": _q(np.exp(ls), level)}
        else:
            confident = False
            parts["extrapolation"] = {"sd_log": None, "why": nb.get("why")}
            warnings.append(f"no nested backtest on this grid ({nb.get('why')}): the "
                            "interval has no term for the error of extrapolating in N")
    # part 4: the trend the grid cannot check
    few = {r: len(law.sizes[r]) for r in (b, recipe) if len(law.sizes[r]) < 3}
    if few:
        confident = False
        lo = min(min(law.sizes[r]) for r in (b, recipe))
        span = abs(float(np.log(N / lo)))
        tau_g = GAMMA_MAX * span / _Z90
        ls = ls + tau_g * rng.standard_normal(B)
        parts["trend_prior"] = {"sd_log": tau_g, "gamma_max": GAMMA_MAX,
                                "interval": _q(np.exp(ls), level)}
        warnings.append(
            "not confident: " + ", ".join(f"{r} has runs at {k} size{'s' if k > 1 else ''}"
                                          for r, k in few.items())
            + f" (< 3): whether its data effect drifts with model size cannot be checked; "
            f"the interval allows a drift |gamma| ≤ {GAMMA_MAX:g} over the "
            f"{span / np.log(10):.2g} decades from the smallest size to the target")
    interval = _q(np.exp(ls), level)
    warnings += law.warnings
    return JointAnswer(recipe=recipe, baseline=b, size=N, tokens=D_b, savings_ratio=s,
                       interval=interval, loss_recipe=Lr, loss_baseline=Lb,
                       loss_recipe_interval=_q(np.exp(lLr), level),
                       loss_baseline_interval=_q(np.exp(lLb), level), samples=np.exp(ls),
                       parts=parts, level=level, variant=law.variant.name, warnings=warnings,
                       confident=confident)


def _nsd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.std(x)) if x.size > 2 else float("nan")
