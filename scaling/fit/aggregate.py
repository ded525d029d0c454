"""Aggregation: a loss curve as a power law, and as a weighted sum of skill curves.

Two fits of one measured loss curve L(D) (quantization model, Michaud et al. 2023):

1. power law  ``L(D) = E + B·D^-β``  (:func:`scaling.fit.laws.fit_law`, form ``power``);
2. skills     ``L(D) = floor + Σ_k w_k·(1 − acc_k(D))`` over measured skill curves
   (non-negative least squares: floor ≥ 0, w_k ≥ 0).

Exponents reported each way:

- ``exponent_power`` β from fit 1, and the Zipf exponent it implies, ``1/(1 − β)``
  (β = α/(α+1) ⇔ α + 1 = 1/(1 − β));
- from the skills: ranked by when they are learned (their fitted sigmoid midpoint, the
  model's order of frequency), the weights constrained to Zipf form w_k = c·k^-(α+1) and
  (floor, c, α+1) fitted to the loss: ``zipf_exponent`` = α + 1 and ``exponent_skills`` =
  α/(α+1). The free non-negative weights are reported too (``skills`` table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, nnls

from ..jsonsafe import finite_or_none as _f
from .grok import GrokResult, fit_grok
from .laws import FitError, LawResult, fit_law


@dataclass
class AggregateResult:
    """Both fits of the loss curve. Build with :func:`fit_aggregate`.

    Attributes
    ----------
    power : LawResult
        The power-law fit.
    skills : DataFrame
        skill, weight, midpoint (tokens), rank (learning order).
    floor : float
    exponent_power, exponent_skills, zipf_exponent, zipf_from_power : float
    r2_power, r2_skills : float
        Fraction of the loss curve's variance each fit explains.
    """

    power: LawResult
    skills: pd.DataFrame
    floor: float
    exponent_power: float
    exponent_skills: float
    zipf_exponent: float
    zipf_from_power: float
    r2_power: float
    r2_skills: float
    grok: GrokResult
    warnings: list[str] = field(default_factory=list)

    @property
    def params(self) -> pd.DataFrame:
        rows = [("floor", self.floor), ("exponent_power", self.exponent_power),
                ("exponent_skills", self.exponent_skills),
                ("zipf_exponent", self.zipf_exponent), ("zipf_from_power", self.zipf_from_power)]
        rows += [(f"w[{r.skill}]", r.weight) for r in self.skills.itertuples()]
        df = pd.DataFrame(rows, columns=["name", "value"])
        df["stderr"] = np.nan
        df["ci_low"] = np.nan
        df["ci_high"] = np.nan
        p = self.power.params.set_index("name")
        i = df.index[df["name"] == "exponent_power"][0]
        df.loc[i, ["stderr", "ci_low", "ci_high"]] = p.loc["beta", ["stderr", "ci_low",
                                                                     "ci_high"]].to_numpy()
        return df

    def predict(self, D, model: str = "skills") -> np.ndarray:
        """Loss at tokens ``D`` from the skill sum (skill sigmoids) or the power law."""
        D = np.atleast_1d(np.asarray(D, float))
        if model == "power":
            return self.power.predict(D)
        if model != "skills":
            raise FitError("model must be 'skills' or 'power'")
        out = np.full(D.shape, self.floor)
        for r in self.skills.itertuples():
            if r.weight > 0:
                out = out + r.weight * (1 - self.grok.predict(r.skill, D))
        return out

    def predict_interval(self, D, level: float = 0.9):
        """Interval of the power-law fit (the skill sum has no sampling model)."""
        return self.power.predict_interval(np.asarray(D, float), level=level)

    def summary(self) -> dict[str, Any]:
        return {
            "exponent_power": _f(self.exponent_power),
            "exponent_skills": _f(self.exponent_skills),
            "zipf_exponent": _f(self.zipf_exponent),
            "zipf_from_power": _f(self.zipf_from_power),
            "floor": _f(self.floor),
            "r2_power": _f(self.r2_power), "r2_skills": _f(self.r2_skills),
            "power": self.power.summary(),
            "skills": [{"skill": r.skill, "weight": _f(r.weight), "midpoint": _f(r.midpoint),
                        "rank": int(r.rank)} for r in self.skills.itertuples()],
            "warnings": list(self.warnings),
        }

    def report(self) -> str:
        return "\n".join([
            f"power law:  beta = {self.exponent_power:.4f}  (implied Zipf exponent "
            f"{self.zipf_from_power:.3f}), R² {self.r2_power:.4f}",
            f"skill sum:  {int((self.skills['weight'] > 0).sum())} skills with weight > 0, "
            f"floor {self.floor:.4g}, Zipf exponent {self.zipf_exponent:.3f} → data exponent "
            f"{self.exponent_skills:.4f}, R² {self.r2_skills:.4f}",
            *[f"warning: {w}" for w in self.warnings],
        ])


def fit_aggregate(tokens, loss, skills: pd.DataFrame, bootstrap: int = 0,
                  seed: int = 0) -> AggregateResult:
    """Fit a loss curve as a power law and as a weighted sum of skill curves.

    Parameters
    ----------
    tokens, loss : array-like
        The measured loss curve.
    skills : DataFrame
        Long ``curve, tokens, value`` frame of skill accuracies (values in [0, 1]),
        evaluated at the same token counts as the loss (missing ones are interpolated in
        ln-tokens from each skill's fitted sigmoid).
    bootstrap : int
        Resamples for the power-law intervals.
    """
    tokens = np.asarray(tokens, float)
    loss = np.asarray(loss, float)
    keep = np.isfinite(tokens) & np.isfinite(loss) & (tokens > 0)
    warnings = []
    if (~keep).any():
        warnings.append(f"{int((~keep).sum())} loss points without positive tokens/loss dropped")
    tokens, loss = tokens[keep], loss[keep]
    power = fit_law(None, tokens, loss, form="power", bootstrap=bootstrap, seed=seed)
    warnings += [f"power law: {w}" for w in power.warnings]
    grok = fit_grok(skills, engine="numpy")
    names = list(grok.curves["curve"])
    # accuracy matrix at the loss's tokens: measured where present, else the fitted sigmoid
    wide = skills.pivot_table(index="tokens", columns="curve", values="value", aggfunc="mean")
    acc = np.empty((len(tokens), len(names)))
    for j, k in enumerate(names):
        col = wide[k].reindex(tokens) if k in wide.columns else pd.Series(np.nan, index=tokens)
        fill = grok.predict(k, tokens)
        acc[:, j] = np.where(col.notna().to_numpy(), col.to_numpy(float), fill)
    if not np.all(np.isfinite(acc)):
        bad = [names[j] for j in np.flatnonzero(~np.isfinite(acc).all(0))]
        raise FitError(f"skills {', '.join(bad[:5])} have no value at some loss tokens and no "
                       "sigmoid fit to fill them; evaluate skills at the loss's checkpoints")
    M = np.column_stack([np.ones(len(tokens)), 1 - acc])
    coef, _ = nnls(M, loss)
    floor, w = float(coef[0]), coef[1:]
    pred = M @ coef
    tss = float(((loss - loss.mean()) ** 2).sum())
    r2_skills = 1 - float(((loss - pred) ** 2).sum()) / tss if tss > 0 else np.nan
    r2_power = 1 - float(((loss - power.predict(tokens)) ** 2).sum()) / tss if tss > 0 \
        else np.nan

    c = grok.curves.set_index("curve")
    mid = c.loc[names, "midpoint"].to_numpy(float)
    # learning order: fitted midpoint; curves without one go last, in input order
    order = np.argsort(np.where(np.isfinite(mid), mid, np.inf), kind="stable")
    rank = np.empty(len(names), int)
    rank[order] = np.arange(1, len(names) + 1)
    table = pd.DataFrame({"skill": names, "weight": w, "midpoint": mid, "rank": rank}) \
        .sort_values("rank").reset_index(drop=True)
    # Zipf weights w_k = c·k^-(α+1) over the learning order: a 3-parameter fit of the loss
    # (floor, ln c, α+1) — far better conditioned than reading a slope off the free weights,
    # which neighbouring (nearly collinear) skill curves trade between each other.
    R = 1 - acc[:, np.argsort(rank)]  # columns in learning order
    kk = np.arange(1, R.shape[1] + 1, dtype=float)

    def resid(th):
        return th[0] + np.exp(th[1]) * (R @ kk ** -th[2]) - loss

    if R.shape[1] >= 3:
        w0 = max(float(table["weight"].iloc[0]), 1e-6)
        sol = least_squares(resid, [floor, np.log(w0), 1.5],
                            bounds=([-np.inf, -50, 0.0], [np.inf, 50, 20.0]))
        zipf = float(sol.x[2])
        # data exponent α/(α+1) with α = zipf − 1, written so a tiny zipf cannot divide by 0
        exp_skills = (zipf - 1) / zipf if zipf > 1e-9 else np.nan
        if sol.x[2] < 1e-6 or sol.x[2] > 20 - 1e-6:
            warnings.append("Zipf exponent at its bound: the skills do not follow a power law "
                            "in their learning order")
    else:
        zipf = exp_skills = np.nan
        warnings.append(f"only {R.shape[1]} skills; need 3 to estimate a Zipf exponent")
    beta = power.values["beta"]
    zipf_power = 1 / (1 - beta) if beta < 1 else np.inf
    return AggregateResult(power=power, skills=table, floor=floor, exponent_power=beta,
                           exponent_skills=exp_skills, zipf_exponent=zipf,
                           zipf_from_power=zipf_power, r2_power=r2_power, r2_skills=r2_skills,
                           grok=grok, warnings=warnings)
