r"""Backtest: hold out the grid's largest model size, predict it from the rest, score it.

With ``hold_out`` (``--hold-out``) the largest K sizes, or every size from a given one up, are
held out together and predicted from the rest; every case carries its ``extrapolation``
factor (held-out size / largest fitted size) and ``by_size`` gives the errors (absolute and
signed) and coverage per held-out size, so how the error grows with the extrapolation shows.

Cases (every one has a prediction, a ``level`` interval and a truth):

- **loss**: every end point (run end and WSD decay-branch end) of every held-out run whose
  recipe has ≥ 2 smaller sizes. Prediction: that recipe's Chinchilla law fitted on the smaller
  sizes, at the held-out (N, D). Interval: the bootstrap samples of the law at (N, D), times
  a log-normal term with sd :math:`\sqrt{\sigma_{res}^2 + \tau_L^2}` — ``σ_res`` the fit's
  log-residual scatter (a single new run scatters about the law) and ``τ_L`` the
  extrapolation widening of :mod:`scaling.predict.independent` for the loss. Error:
  ``|pred − obs| / obs``.
- **savings**: every non-baseline recipe with held-out runs, at the held-out size and the
  geometric middle ``D_b`` of the baseline's held-out budgets (:func:`truth_budget`): the
  baseline's loss there and the recipe's matching budget are then read inside the held-out
  runs' budgets. At the largest budget a recipe that costs data would be read off its curve
  beyond its longest run; on ``runs/reference`` that made the truth's own scatter
  (``measurement_scatter_log``) 0.017–0.137 against 0.022–0.056 in the middle. Prediction:
  the answer on the smaller sizes (extrapolated and widened exactly as a user's would be).
  *Truth* comes from the held-out runs alone (no run of a smaller size enters it): per-size
  power laws :math:`L(D) = E + B D^{-β}` fitted to the baseline's and to the recipe's
  held-out end points (all seeds, all budgets or decay branches) give
  :math:`L_b = L^{held}_b(D_b)` and :math:`D_r = (L^{held}_r)^{-1}(L_b)` — smoothing the
  seed noise of single end points, which would otherwise move every recipe's truth together
  (``truth_method: power law on the held-out runs``). With fewer than 4 held-out end points
  or 4 budgets (a 3-parameter law through 3 budgets follows their noise), the baseline's
  observed loss at its largest budget ``D_b`` (mean over seeds) and a log-log linear interpolation of the
  recipe's end points (mean over seeds per budget) that bracket
  it are used instead (``observed`` / ``interpolated``); no bracket → no savings case.
  Interval: the answer's interval (``answer_interval``: what ``scaling predict`` would say)
  with one more log-normal term, like a loss case's residual scatter: the truth is measured on
  a few runs, so it scatters about the law. Its sd (``measurement_scatter_log``) is the RMS of
  ln(measured / law) savings at the *fitted* sizes, measured there the same way.
  Error: ``|s_pred − s_true|``.

Method (``method``): the savings cases use the joint multi-recipe law
(:mod:`scaling.predict.joint`: the recipe and the baseline fitted together on the smaller
sizes, its interval parts, and the measurement scatter from the joint law's savings at the
fitted sizes) unless ``method="independent"`` or the pair cannot be fitted jointly; each case
says which (``method``). The loss cases use the per-recipe laws either way.

``coverage`` is the share of all cases whose truth lies in the interval; it is also given
per kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..defaults import BOOTSTRAP
from ..errors import ScalingError
from ..fit import fit_law_frame
from ..jsonsafe import finite_or_none as _f
from ..units import format_count
from ..validate import parse_hold_out
from ..workers import pmap
from .independent import (
    WIDEN_C,
    PairFits,
    fit_recipe,
    pair_savings,
    procedural_share,
    quantiles,
    savings_at,
)
from .joint import fit_pair, joint_available, joint_prediction
from .points import LawPoints, PredictError, load_points, one_blas_thread


@dataclass
class BacktestResult:
    """Errors and coverage of predictions for the held-out largest size."""

    held_out_size: float
    """The largest held-out size (with several, :attr:`held_out_sizes` lists them all)."""
    loss_rel_error: float
    savings_abs_error: float
    coverage: float
    coverage_loss: float
    coverage_savings: float
    level: float
    target_domain: str | None
    cases: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    held_out_sizes: list[float] = field(default_factory=list)
    fitted_size: float = float("nan")
    """The largest size the laws were fitted on (extrapolation factors are against it)."""

    def summary(self) -> dict[str, Any]:
        """JSON contract of ``scaling backtest --json`` (DESIGN.md) plus extra keys."""
        return {"held_out_size": float(self.held_out_size),
                "loss_rel_error": _f(self.loss_rel_error),
                "savings_abs_error": _f(self.savings_abs_error), "coverage": _f(self.coverage),
                "coverage_loss": _f(self.coverage_loss),
                "coverage_savings": _f(self.coverage_savings), "level": self.level,
                "target_domain": self.target_domain,
                "n_cases": {"loss": sum(c["kind"] == "loss" for c in self.cases),
                            "savings": sum(c["kind"] == "savings" for c in self.cases)},
                "bias": self.bias(), "by_recipe": self.by_recipe(),
                "held_out_sizes": [float(n) for n in self.held_out_sizes],
                "fitted_size": _f(self.fitted_size), "by_size": self.by_size(),
                "cases": self.cases, "warnings": list(self.warnings)}

    def by_size(self) -> list[dict[str, Any]]:
        """Per held-out size, against its extrapolation factor (size / largest fitted size):
        absolute and signed errors of the losses and the savings, and interval coverage."""
        out = []
        for n in self.held_out_sizes:
            at = [c for c in self.cases if np.isclose(c["size"], n, rtol=1e-9)]
            loss = [c for c in at if c["kind"] == "loss"]
            sav = [c for c in at if c["kind"] == "savings" and _f(c["predicted"]) is not None
                   and _f(c["truth"]) is not None]

            def avg(xs):
                xs = [x for x in xs if np.isfinite(x)]
                return _f(float(np.mean(xs))) if xs else None

            out.append({
                "size": float(n), "extrapolation": _f(n / self.fitted_size),
                "n_loss": len(loss), "n_savings": len(sav),
                "loss_rel_error": avg([c["rel_error"] for c in loss]),
                "loss_signed": avg([(c["predicted"] - c["observed"]) / c["observed"]
                                    for c in loss]),
                "savings_abs_error": avg([c["abs_error"] for c in sav]),
                "savings_signed": avg([c["predicted"] - c["truth"] for c in sav]),
                "coverage_loss": avg([float(c["covered"]) for c in loss]),
                "coverage_savings": avg([float(c["covered"]) for c in sav])})
        return out

    def bias(self) -> dict[str, Any]:
        """Signed errors: ``loss`` = mean (predicted − observed) / observed, ``savings`` = mean
        predicted − truth, and how many savings predictions lie above their truth. A mean
        absolute error says how far off the predictions are; these say in which direction."""
        loss = [(c["predicted"] - c["observed"]) / c["observed"] for c in self.cases
                if c["kind"] == "loss" and _f(c["predicted"]) is not None]
        sav = [c["predicted"] - c["truth"] for c in self.cases if c["kind"] == "savings"
               and _f(c["predicted"]) is not None and _f(c["truth"]) is not None]
        return {"loss": _f(float(np.mean(loss))) if loss else None,
                "savings": _f(float(np.mean(sav))) if sav else None,
                "savings_above": int(sum(d > 0 for d in sav)), "n_savings": len(sav)}

    def by_recipe(self) -> dict[str, dict[str, Any]]:
        """Per recipe: mean loss relative error and interval hits over its end points, and
        its savings case at the largest held-out size (an outlier recipe shows here, not only
        in the means)."""
        out: dict[str, dict[str, Any]] = {}
        for c in self.cases:
            r = out.setdefault(c["recipe"], {"loss_rel_error": [], "loss_covered": 0,
                                             "n_loss": 0})
            if c["kind"] == "loss":
                r["loss_rel_error"].append(c["rel_error"])
                r["loss_covered"] += int(c["covered"])
                r["n_loss"] += 1
            elif np.isclose(c["size"], self.held_out_size, rtol=1e-9):
                r.update(savings_predicted=_f(c["predicted"]), savings_truth=_f(c["truth"]),
                         savings_abs_error=_f(c["abs_error"]), savings_covered=c["covered"])
        for r in out.values():
            r["loss_rel_error"] = _f(float(np.mean(r["loss_rel_error"]))
                                     if r["loss_rel_error"] else float("nan"))
        return out

    def report(self) -> str:
        pct = int(round(self.level * 100))
        nl = sum(c["kind"] == "loss" for c in self.cases)
        ns = len(self.cases) - nl
        held = ", ".join(map(format_count, self.held_out_sizes or [self.held_out_size]))
        lines = [f"backtest: held out size{'s' if len(self.held_out_sizes) > 1 else ''} {held}, "
                 f"predicted from the smaller sizes (target: {self.target_domain or 'the table'})",
                 f"  loss     mean relative error {_pct(self.loss_rel_error)} over {nl} end "
                 f"points; {pct}% interval coverage {_pct(self.coverage_loss)}",
                 f"  savings  mean absolute error {_num(self.savings_abs_error)} over {ns} "
                 f"{'recipes' if len(self.held_out_sizes) < 2 else 'recipe × size cases'}; "
                 f"coverage {_pct(self.coverage_savings)}",
                 f"  coverage over all {len(self.cases)} cases: {_pct(self.coverage)}"]
        b = self.bias()
        if b["loss"] is not None or b["savings"] is not None:
            lines.append(
                f"  bias     losses predicted {_pct(b['loss'], '+')} on average; savings "
                f"{_num(b['savings'], '+')} on average ({b['savings_above']} of {b['n_savings']} "
                "above their truth)")
        if len(self.held_out_sizes) > 1:
            lines.append(f"  by size (extrapolation = size / {format_count(self.fitted_size)}, "
                         "the largest fitted; signed errors in brackets)")
            for r in self.by_size():
                lines.append(
                    f"    {format_count(r['size'])} ({_num(r['extrapolation'])}×): loss "
                    f"{_pct(r['loss_rel_error'])} [{_pct(r['loss_signed'], '+')}], coverage "
                    f"{_pct(r['coverage_loss'])}; savings {_num(r['savings_abs_error'])} "
                    f"[{_num(r['savings_signed'], '+')}], coverage "
                    f"{_pct(r['coverage_savings'])}")
        sav = {(c["recipe"], c["size"]): c for c in self.cases if c["kind"] == "savings"}
        lines.append("  by recipe (loss: mean relative error, end points in the interval; "
                     "savings: predicted [interval], truth)")
        for name, r in self.by_recipe().items():
            line = (f"    {name}: loss {_pct(r['loss_rel_error'])} "
                    f"({r['loss_covered']}/{r['n_loss']})")
            for n in self.held_out_sizes or [self.held_out_size]:
                if (name, n) not in sav:
                    continue
                c = sav[(name, n)]
                lo, hi = c["interval"]
                at = f" at {format_count(n)}" if len(self.held_out_sizes) > 1 else ""
                line += (f"; s{at} = {_num(c['predicted'])} [{_num(lo)}, {_num(hi)}], truth "
                         f"{_num(c['truth'])} ({c['truth_method']})")
            lines.append(line)
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _pct(x, sign: str = "") -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:{sign}.1%}"


def _num(x, sign: str = "") -> str:
    if x is not None and np.isinf(x):
        return "∞"
    return "n/a" if x is None or not np.isfinite(x) else f"{x:{sign}.3g}"


def _refit_below_largest(rest: LawPoints, recipe: str, full):
    """The recipe's law refitted on ``rest`` without its largest size, started from ``full``
    (its law on all of ``rest``); None with fewer than 3 sizes or when the refit fails."""
    sizes = rest.sizes(recipe)
    if len(sizes) < 3:
        return None
    try:
        return fit_recipe(rest.below(float(sizes[-1])), recipe, "chinchilla", 0, warm=full)
    except ScalingError:
        return None


def _loss_drift(rest: LawPoints, recipe: str, ratio: float, full, reduced) -> float:
    """Drift of ln L per unit log-size between ``full`` and ``reduced``
    (:func:`_refit_below_largest`) at the largest fitted size; nan without a refit."""
    if reduced is None:
        return float("nan")
    sizes = rest.sizes(recipe)
    n_max, n2 = float(sizes[-1]), float(sizes[-2])
    a, b = full.predict(n_max, ratio * n_max), reduced.predict(n_max, ratio * n_max)
    return float(abs(np.log(b / a)) / np.log(n_max / n2))


def _power(pts):
    """Per-size power law L(D) fitted to held-out end points (None with fewer budgets than
    one more than its 3 parameters: through 3 budgets it would follow the seed noise).

    Memoised on the points: the savings cases refit the same baseline points once per recipe
    (the laws are only read, never changed)."""
    if len(pts) < 4 or pts["tokens"].nunique() < 4:
        return None
    frame = pts.assign(run=pts["unit"])[["run", "tokens", "loss"]].reset_index(drop=True)
    key = (tuple(frame["run"].astype(str)), frame["tokens"].to_numpy(float).tobytes(),
           frame["loss"].to_numpy(float).tobytes())
    if key not in _POWER_FITS:
        if len(_POWER_FITS) >= 512:
            _POWER_FITS.clear()
        try:
            _POWER_FITS[key] = fit_law_frame(frame, form="power", points="all")
        except ScalingError:
            _POWER_FITS[key] = None
    return _POWER_FITS[key]


_POWER_FITS: dict = {}


def _held_out_loss(bpts, D_b: float) -> tuple[float, str]:
    """The baseline's loss at ``D_b`` from its held-out runs (see module docstring)."""
    law = _power(bpts)
    if law is not None:
        return float(law.predict(D_b)), "power law on the held-out runs"
    return float(bpts.loc[np.isclose(bpts["tokens"], D_b), "loss"].mean()), "observed"


def _truth_tokens(pts, L_b: float) -> tuple[float, str]:
    """Where the recipe's held-out curve crosses loss ``L_b`` (see module docstring)."""
    law = _power(pts)
    if law is not None:
        D = float(law.invert(L_b))
        if np.isfinite(D):
            return D, "power law on the held-out runs"
    g = pts.groupby("tokens", as_index=False)["loss"].mean().sort_values("tokens")
    D, L = g["tokens"].to_numpy(float), g["loss"].to_numpy(float)
    for j in range(len(D) - 1):
        a, b = L[j], L[j + 1]
        if (a - L_b) * (b - L_b) <= 0 and a != b:
            lam = (np.log(L_b) - np.log(a)) / (np.log(b) - np.log(a))
            return float(np.exp(np.log(D[j]) + lam * (np.log(D[j + 1]) - np.log(D[j])))), \
                "interpolated"
    return float("nan"), "unavailable"


def truth_budget(bpts) -> float:
    """The baseline budget a savings case is measured at: the geometric middle of the
    baseline's budgets at that size, so that the baseline's loss there and the recipe's
    matching budget (s times it) are read inside the runs' budgets rather than extrapolated
    past the largest one. Without the baseline's power law (fewer than 4 budgets) its loss is
    the observed one, at its largest budget."""
    D = np.unique(bpts["tokens"].to_numpy(float))
    if _power(bpts) is None:  # the observed loss is read at a budget that has runs
        return float(D.max())
    return float(np.sqrt(D.min() * D.max()))


def _observed_savings(bpts, rpts, share_r: float, share_b: float) -> tuple[float, str, str]:
    """Savings measured at one size from its runs alone: the baseline's loss at
    :func:`truth_budget` ``D_b`` and where the recipe's curve reaches it (module docstring).
    Returns
    ``(s, truth_method, baseline_loss_method)``; ``s`` is nan when the recipe's runs give no
    crossing."""
    D_b = truth_budget(bpts)
    L_b, how_b = _held_out_loss(bpts, D_b)
    D_r, how = _truth_tokens(rpts, L_b)
    return D_r * (1 - share_r) / (D_b * (1 - share_b)), how, how_b


def _savings_scatter(rest: LawPoints, recipe: str, baseline: str,
                     law_savings: Callable[[float, float], float], share_r: float,
                     share_b: float) -> float:
    """RMS of ln(observed / law) savings over the fitted sizes: how far one size's measured
    savings (a few runs) scatter about the law — the savings analogue of a loss case's
    residual scatter. ``law_savings(N, D)`` is the law's savings at a size and the baseline's
    :func:`truth_budget` there. nan when no size gives a measurement."""
    res = []
    for n in np.intersect1d(rest.sizes(recipe), rest.sizes(baseline)):
        at = np.isclose(rest.points["params"], n, rtol=1e-9)
        bpts = rest.points[at & (rest.points["recipe"] == baseline)]
        rpts = rest.points[at & (rest.points["recipe"] == recipe)]
        s_obs, how, _ = _observed_savings(bpts, rpts, share_r, share_b)
        if how == "unavailable" or not np.isfinite(s_obs) or s_obs <= 0:
            continue
        law = law_savings(float(n), truth_budget(bpts))
        if np.isfinite(law) and law > 0:
            res.append(np.log(s_obs / law))
    return float(np.sqrt(np.mean(np.square(res)))) if res else float("nan")


def _loss_cases(rest: LawPoints, law, reduced, r: str, pts, N_h: float, d_N: float, level: float,
                rng) -> list[dict]:
    """The loss cases of recipe ``r``: its held-out end points ``pts`` against its law fitted
    on ``rest`` (module docstring; ``reduced``: :func:`_refit_below_largest`)."""
    data = law.data
    res = np.log(data["loss"]) - np.log(law.predict(data["params"].to_numpy(float),
                                                     data["tokens"].to_numpy(float)))
    sigma = float(np.sqrt(np.mean(res ** 2)))
    ratio = float(np.median(pts["tokens"] / pts["params"]))
    drift = _loss_drift(rest, r, ratio, law, reduced)
    sm = law.samples()
    if not np.isfinite(drift):
        top = rest.sizes(r)
        span = np.log(top[-1] / top[0])
        drift = float(np.std(np.log(law.law_form.loss(sm, top[-1], ratio * top[-1]))) / span)
    tau = WIDEN_C * drift * d_N
    cases = []
    for p in pts.itertuples():
        pred = float(law.predict(N_h, p.tokens))
        s = np.asarray(law.law_form.loss(sm, N_h, p.tokens), float).ravel()
        s = s * np.exp(np.hypot(sigma, tau) * rng.standard_normal(s.size))
        lo, hi = quantiles(s, level)
        cases.append({"kind": "loss", "recipe": r, "run": p.run, "size": N_h,
                      "tokens": float(p.tokens), "observed": float(p.loss),
                      "predicted": pred, "interval": [lo, hi],
                      "rel_error": abs(pred - p.loss) / p.loss,
                      "covered": bool(lo <= p.loss <= hi)})
    return cases


def _savings_case(rest: LawPoints, r: str, b: str, bpts, rpts, N_h: float, pair: PairFits,
                  count_procedural: bool, bootstrap: int, level: float, seed: int,
                  method: str | None, rng) -> tuple[dict | None, list[str]]:
    """Recipe ``r``'s savings case against baseline ``b`` at the held-out size (module
    docstring): ``(case or None, warnings)``."""
    notes = []
    D_b = truth_budget(bpts)
    share_r = 0.0 if count_procedural else procedural_share(r)
    share_b = 0.0 if count_procedural else procedural_share(b)
    truth, how, how_b = _observed_savings(bpts, rpts, share_r, share_b)
    # the joint law (scaling.predict.joint) unless asked otherwise or impossible
    why = joint_available(rest, r, b)
    use_joint = method != "independent" and why is None
    if method == "joint" and why is not None:
        notes.append(f"{r}: independent fits (the joint law cannot answer: {why})")
    try:
        ans = joint_prediction(rest, r, b, N_h, D_b, count_procedural, bootstrap, level,
                               seed) if use_joint else \
            savings_at(rest, r, b, N_h, D_b, count_procedural, bootstrap, level, seed,
                       fits=pair)
    except ScalingError as e:
        return None, notes + [f"savings of {r} could not be predicted: {e}"]
    if not np.isfinite(truth):
        return None, notes + [f"{r}: its held-out runs give no truth for the savings (the "
                              "baseline's loss is not reached and too few points to "
                              "extrapolate)"]
    if use_joint:
        law = fit_pair(rest, r, b, bootstrap, seed, level)
        scale = (1 - share_r) / (1 - share_b)

        def law_savings(n, d):
            return float(law.savings(r, n, d)) * scale
    else:
        def law_savings(n, d):
            return pair_savings(pair.baseline, pair.recipe, n, d, share_r, share_b).s
    scatter = _savings_scatter(rest, r, b, law_savings, share_r, share_b)
    smp = np.asarray(ans.samples, float)
    if np.isfinite(scatter) and smp.size:
        with np.errstate(invalid="ignore"):
            smp = smp * np.exp(scatter * rng.standard_normal(smp.size))
        lo, hi = quantiles(smp, level)
    else:
        lo, hi = ans.interval
    return {"kind": "savings", "recipe": r, "baseline": b, "size": N_h,
            "method": "joint" if use_joint else "independent",
            "tokens": D_b, "truth": truth, "truth_method": how,
            "baseline_loss_method": how_b,
            "predicted": ans.savings_ratio, "interval": [lo, hi],
            "answer_interval": list(ans.interval),
            "measurement_scatter_log": _f(scatter),
            "abs_error": abs(ans.savings_ratio - truth),
            "covered": bool(lo <= truth <= hi)}, notes


def held_out_sizes(sizes, hold_out=None) -> list[float]:
    """The sizes a backtest holds out: the largest (``None``), the largest ``K`` (a whole
    number below 1,000: ``2``, ``"2"``), or every size from ``SIZE`` up (``"394k"``,
    ``394e3``). At least 2 sizes must stay to fit on."""
    sizes = [float(n) for n in sizes]
    if hold_out is None:
        held = sizes[-1:]
    else:
        kind, value = parse_hold_out(hold_out)
        if kind == "count":
            held = sizes[-int(value):]
        else:
            held = [n for n in sizes if n >= value * (1 - 1e-9)]
            if not held:
                raise PredictError(f"--hold-out {hold_out}: no size is that large; sizes: "
                                   f"{', '.join(map(format_count, sizes))}")
    if len(sizes) - len(held) < 2:
        raise PredictError(f"a backtest fits L(N, D) on the sizes it does not hold out, so it "
                           f"needs at least 2 of them: the grid has "
                           f"{', '.join(map(format_count, sizes))} and --hold-out leaves "
                           f"{len(sizes) - len(held)}")
    return held


@one_blas_thread
def backtest(runs, target_domain: str | None = None, baseline: str | None = None,
             count_procedural: bool = True, bootstrap: int = BOOTSTRAP, level: float = 0.9,
             seed: int = 0, min_tokens: float | None = None,
             method: str | None = None, points: str = "final",
             hold_out=None) -> BacktestResult:
    """Hold out the largest size(s) of ``runs`` and score predictions of them (module
    docstring).

    Parameters
    ----------
    runs : path, DataFrame or LawPoints
        As for :func:`~scaling.predict.predict_savings`.
    target_domain, baseline, count_procedural, bootstrap, level, seed, min_tokens, points
        As for :func:`~scaling.predict.predict_savings` (with ``min_tokens`` the short budgets
        are neither fitted nor scored; with ``points="all"`` every held-out checkpoint is a
        loss case and enters the savings truth).
    hold_out : int, float or str, optional
        Which sizes to hold out (:func:`held_out_sizes`): default the largest; ``K`` the
        largest K; a size, every size from it up. Errors and coverage are also reported per
        held-out size against its extrapolation factor (``by_size``).
    """
    if method not in (None, "joint", "independent"):
        raise PredictError(f"--method must be 'joint' or 'independent', got {method!r}")
    grid = runs if isinstance(runs, LawPoints) else load_points(runs, target_domain, min_tokens,
                                                                points)
    sizes = grid.sizes()
    if len(sizes) < 3:
        raise PredictError(f"a backtest holds out the largest size and fits L(N, D) on the rest, "
                           f"so it needs at least 3 model sizes; the grid has "
                           f"{', '.join(map(format_count, sizes))}")
    held_sizes = held_out_sizes(sizes, hold_out)
    rest = grid
    for n in held_sizes:
        rest = rest.without_size(n)
    is_held = np.zeros(len(grid.points), bool)
    for n in held_sizes:
        is_held |= np.isclose(grid.points["params"].to_numpy(float), n, rtol=1e-9)
    held = grid.points[is_held]
    warnings = list(grid.notes)
    names = []
    for r in sorted(held["recipe"].unique()):
        if len(rest.sizes(r)) < 2:
            warnings.append(f"{r} has fewer than 2 smaller sizes: left out of the backtest")
        else:
            names.append(r)
    if not names:
        raise PredictError("no recipe has held-out runs and at least 2 smaller sizes to fit")
    case = _Cases(rest, held, held_sizes, float(rest.sizes().max()), bootstrap, level, seed)
    # every recipe's law and loss cases, then every recipe's savings cases: independent
    # pieces, run on worker processes (scaling.workers.pmap), each with its own random stream
    fits, cases = {}, []
    for r, (law, rc) in zip(names, pmap(case.loss_part, enumerate(names)), strict=True):
        fits[r] = law
        cases += rc
    b = _savings_baseline(grid, baseline, fits, warnings)
    if b is not None:
        others = [(i, r) for i, r in enumerate(names) if r != b]
        for per_size in pmap(lambda item: case.savings_part(item, b, fits, count_procedural,
                                                            method), others):
            for c, notes in per_size:
                warnings += notes
                if c is not None:
                    cases.append(c)
    return _result(grid, cases, warnings, held_sizes, case.n_top, level)


@dataclass
class _Cases:
    """The cases of one backtest: ``rest`` (the grid without the held-out sizes) is fitted,
    ``held`` (the held-out points) scored; ``n_top`` is the largest fitted size."""

    rest: LawPoints
    held: Any
    held_sizes: list[float]
    n_top: float
    bootstrap: int
    level: float
    seed: int

    def at(self, n: float, r: str):
        """The held-out points of recipe ``r`` at size ``n``."""
        h = self.held
        return h[np.isclose(h["params"], n, rtol=1e-9) & (h["recipe"] == r)]

    def loss_part(self, item):
        """Recipe ``item = (i, r)``'s law on the fitted sizes and its loss cases."""
        i, r = item
        law = fit_recipe(self.rest, r, "chinchilla", self.bootstrap, self.seed, self.level)
        reduced = _refit_below_largest(self.rest, r, law)
        rng = np.random.default_rng([self.seed + 11, i])
        return law, [c for n in self.held_sizes if len(self.at(n, r))
                     for c in _loss_cases(self.rest, law, reduced, r, self.at(n, r), n,
                                          np.log(n / self.n_top), self.level, rng)]

    def savings_part(self, item, b: str, fits: dict, count_procedural: bool, method):
        """Recipe ``item = (i, r)``'s savings cases against ``b``, one per held-out size."""
        i, r = item
        rng = np.random.default_rng([self.seed + 12, i])
        return [_savings_case(self.rest, r, b, self.at(n, b), self.at(n, r), n,
                              PairFits("chinchilla", fits[b], fits[r], None), count_procedural,
                              self.bootstrap, self.level, self.seed, method, rng)
                for n in self.held_sizes if len(self.at(n, b)) and len(self.at(n, r))]


def _savings_baseline(grid: LawPoints, baseline: str | None, fits: dict, warnings: list[str]):
    """The baseline of the savings cases (None, with a warning, when there is none)."""
    try:
        b = grid.default_baseline() if baseline is None else grid.resolve(baseline)
    except PredictError as e:
        warnings.append(f"no savings cases: {e}")
        return None
    if b is not None and b not in fits:
        warnings.append(f"no savings cases: the baseline {b} has no held-out runs with 2 smaller "
                        "sizes")
        return None
    return b


def _result(grid: LawPoints, cases: list[dict], warnings: list[str], held_sizes: list[float],
            n_top: float, level: float) -> BacktestResult:
    loss_c = [c for c in cases if c["kind"] == "loss"]
    sav_c = [c for c in cases if c["kind"] == "savings"]

    def mean(xs):
        xs = [x for x in xs if np.isfinite(x)]
        return float(np.mean(xs)) if xs else float("nan")

    for c in cases:
        c["extrapolation"] = c["size"] / n_top
    return BacktestResult(
        held_out_size=held_sizes[-1], loss_rel_error=mean([c["rel_error"] for c in loss_c]),
        savings_abs_error=mean([c["abs_error"] for c in sav_c]),
        coverage=mean([float(c["covered"]) for c in cases]),
        coverage_loss=mean([float(c["covered"]) for c in loss_c]),
        coverage_savings=mean([float(c["covered"]) for c in sav_c]), level=level,
        target_domain=grid.domain, cases=cases, warnings=warnings,
        held_out_sizes=held_sizes, fitted_size=n_top)
