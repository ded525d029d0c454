r"""Study 6 — aggregation: per-skill curves → a loss power law, on our own runs.

Source (quantization model, Michaud et al. 2023; Yao Fu 2023): skills learned in order of a
Zipfian use frequency :math:`p_k \propto k^{-(\alpha+1)}` add up to a smooth power law with
data exponent :math:`\beta = \alpha/(\alpha+1)`.

Ours: for the baseline ``prose=1`` at each size (longest runs, every seed), the measured
prose loss curve of the main run is fitted by :func:`scaling.fit.fit_aggregate` both as a
power law :math:`E + B D^{-\beta}` (bootstrap interval on β) and as
:math:`\mathrm{floor} + \sum_k w_k (1 - \mathrm{acc}_k(D))` over the probe accuracies; the
exponents are compared with each other and with β of the baseline's Chinchilla law fitted
across the grid. As a check of the method on known truth, the same fit on a simulated
quanta curve (:func:`scaling.fit.simulate_quanta`) must recover its exponent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scaling.errors import ScalingError
from scaling.fit import fit_aggregate, simulate_quanta
from scaling.fit.data import skill_resolution
from scaling.predict.savings import fit_recipe
from scaling.units import format_count

from .common import BASELINE, LEVEL, Context, fmt_interval

#: Zipf exponent minus one (α) of the method check on simulated quanta.
CHECK_ALPHA = 0.5


def _curves(ctx: Context, recipe: str):
    m = ctx.metrics()
    m = m[m["recipe"] == recipe]
    if "branch" in m.columns:
        m = m[m["branch"].isna()]
    longest = m.groupby("run_id")["tokens"].transform("max")
    top = longest.groupby(m["n_params"]).transform("max")
    return m[longest >= 0.99 * top]


def run(ctx: Context) -> dict:
    res = {"study": 6, "name": "aggregation", "recipe": BASELINE, "command": ctx.cmd(6)}
    m = _curves(ctx, BASELINE)
    fits = []
    for (n, rid), g in m.groupby(["n_params", "run_id"]):
        loss = g[(g["kind"] == "val_loss") & (g["name"] == "prose")].sort_values("tokens")
        sk = g[g["kind"] == "skill"]
        if len(loss) < 5 or sk.empty:
            continue
        skills = pd.DataFrame({"curve": sk["name"].astype(str),
                               "tokens": sk["tokens"].astype(float),
                               "value": sk["value"].astype(float),
                               "resolution": skill_resolution(sk)})
        try:
            a = fit_aggregate(loss["tokens"].to_numpy(float), loss["value"].to_numpy(float),
                              skills, bootstrap=ctx.bootstrap, seed=ctx.seed)
        except ScalingError as e:
            fits.append({"size": float(n), "run_id": rid, "error": str(e)})
            continue
        pr = a.power.params.set_index("name")
        fits.append({"size": float(n), "run_id": rid,
                     "beta_power": float(a.exponent_power),
                     "beta_interval": [float(pr.loc["beta", "ci_low"]),
                                       float(pr.loc["beta", "ci_high"])],
                     "exponent_skills": float(a.exponent_skills),
                     "zipf_exponent": float(a.zipf_exponent),
                     "zipf_from_power": float(a.zipf_from_power),
                     "r2_power": float(a.r2_power), "r2_skills": float(a.r2_skills),
                     "skills_with_weight": int((a.skills["weight"] > 1e-9).sum()),
                     "skills_grokked": int(a.grok.curves["grokked"].sum()),
                     "warnings": a.warnings})
        res.setdefault("_curves", {})[rid] = (loss["tokens"].to_numpy(float),
                                               loss["value"].to_numpy(float), a)
    res["per_run"] = fits
    try:
        law = fit_recipe(ctx.grid("prose"), BASELINE, "chinchilla", ctx.bootstrap, ctx.seed,
                         LEVEL)
        p = law.params.set_index("name")
        res["chinchilla"] = {k: {"value": float(p.loc[k, "value"]),
                                 "interval": [float(p.loc[k, "ci_low"]),
                                              float(p.loc[k, "ci_high"])]}
                             for k in ("alpha", "beta")}
    except ScalingError as e:
        res["chinchilla"] = {"error": str(e)}
    res["check"] = _check(ctx)
    res["figures"] = {"curves": _figure(ctx, res)}
    res.pop("_curves", None)
    return res


def _check(ctx: Context) -> dict:
    """fit_aggregate on a simulated quanta loss curve: does it recover β = α/(α+1)?"""
    sim = simulate_quanta(n_skills=30, alpha=CHECK_ALPHA, tokens=np.geomspace(0.3, 3e4, 40),
                          noise=0.001, acc_noise=0.005, seed=ctx.seed + 2)
    out = {"alpha": CHECK_ALPHA, "true_beta": sim.data_exponent, "true_zipf": CHECK_ALPHA + 1}
    # all 30 skills observed, and only the first 8 (as many as our probes)
    for key, k in (("all", None), ("first8", 8)):
        try:
            a = fit_aggregate(sim.tokens, sim.loss, sim.skill_frame(k), bootstrap=0)
        except ScalingError as e:
            out[key] = {"error": str(e)}
            continue
        out[key] = {"beta_power": float(a.exponent_power),
                    "zipf_exponent": float(a.zipf_exponent),
                    "exponent_skills": float(a.exponent_skills), "r2_skills": float(a.r2_skills)}
    return out


def _figure(ctx: Context, res: dict) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for t, y, a in res.get("_curves", {}).values():
        (line,) = ax.plot(t, y, "o", ms=2.5)
        tt = np.geomspace(t.min(), t.max(), 50)
        ax.plot(tt, a.predict(tt, model="power"), "-", lw=0.8, color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tokens")
    ax.set_ylabel("prose validation loss")
    ax.set_title(f"{BASELINE}: loss curves and power-law fits (one per run)")
    return ctx.figure(fig, "study6_aggregation")


def markdown(res: dict) -> str:
    lines = ["## 6. Aggregation: skills → loss power law\n",
             "Source: Zipfian skills give L ∝ D^−β with β = α/(α+1). Ours: each baseline run's "
             "prose loss curve fitted as a power law (β, bootstrap 90% interval) and as a "
             "weighted sum of its probe curves; compared with the Chinchilla β across the grid. "
             f"Command: `{res['command']}`.\n"]
    ch = res.get("chinchilla", {})
    if "beta" in ch:
        lines.append(f"Chinchilla fit of `{BASELINE}` across the grid: β = "
                     f"{fmt_interval(ch['beta']['value'], *ch['beta']['interval'])}, α = "
                     f"{fmt_interval(ch['alpha']['value'], *ch['alpha']['interval'])}.\n")
    lines.append("| size | run | β (power law on the run's curve) | Zipf 1/(1−β) | "
                 "skills with weight > 0 | skills grokked | R² power / skills |\n"
                 "|---|---|---|---|---|---|---|")
    for f in res.get("per_run", []):
        if "error" in f:
            lines.append(f"| {format_count(f['size'])} | {f['run_id']} | {f['error']} | | | | |")
            continue
        lo, hi = f["beta_interval"]
        z = fmt_interval(f["zipf_from_power"], _zipf(lo), _zipf(hi))
        lines.append(f"| {format_count(f['size'])} | {f['run_id']} | "
                     f"{fmt_interval(f['beta_power'], *f['beta_interval'])} | "
                     f"{z} | {f['skills_with_weight']} | "
                     f"{f['skills_grokked']} | "
                     f"{_r(f['r2_power'])} / {_r(f['r2_skills'])} |")
    c = res.get("check", {})
    if "true_beta" in c:
        lines.append(f"\nMethod check on simulated quanta (30 skills, α = {c['alpha']}; true β = "
                     f"{c['true_beta']:.3g}, true Zipf exponent {c['true_zipf']:.3g}):")
        for key, what in (("all", "all 30 skill curves observed"),
                          ("first8", "only the 8 most frequent observed")):
            x = c.get(key, {})
            if "beta_power" in x:
                lines.append(f"- {what}: β (power law) = {_r(x['beta_power'])}, Zipf from "
                             f"the skills = {_r(x['zipf_exponent'])}, β from the skills = "
                             f"{_r(x['exponent_skills'])}, R² skills = {_r(x['r2_skills'])}.")
    lines.append("")
    for f in res.get("figures", {}).values():
        lines.append(f"![study 6]({f})\n")
    return "\n".join(lines)


def _r(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _zipf(beta):
    """Zipf exponent α + 1 = 1/(1 − β) implied by a data exponent (monotone in β, so it maps
    an interval of β to one of the exponent)."""
    return None if beta is None or beta >= 1 else 1.0 / (1.0 - beta)
