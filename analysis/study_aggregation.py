r"""Study 6 — aggregation: per-skill curves → a loss power law, on runs that learn the skills.

Source (quantization model, Michaud et al. 2023; Yao Fu 2023): skills learned in order of a
Zipfian use frequency :math:`p_k \propto k^{-(\alpha+1)}` add up to a smooth power law with
data exponent :math:`\beta = \alpha/(\alpha+1)`.

Ours (the skills store, ``runs/skills``): a mixture of ten skill tasks with Zipfian weights
(:math:`p_k \propto 1/k`, 0.7 in all) and prose (0.3), at widths 64 and 128, one seed each,
12M tokens, 256 held-out items per skill at each of 40 evaluations. For each run:

- every skill's exact-match curve classed *grokked / not yet / never*
  (:func:`scaling.fit.fit_grok`, resolution 1/256);
- the mixture's measured loss — the validation losses of its domains weighted as the recipe
  weights them, :math:`L = \sum_d p_d L_d` (prose included) — fitted by
  :func:`scaling.fit.fit_aggregate` as a power law :math:`E + B D^{-\beta}` (bootstrap
  interval on β) and as :math:`\mathrm{floor} + \sum_k w_k (1 - \mathrm{acc}_k(D))`; R² each
  way, β each way and the Zipf exponent each implies; the same for the skills' loss alone
  (prose left out).

As a check of the method on known truth, the same fit on a simulated quanta curve
(:func:`scaling.fit.simulate_quanta`) must recover its exponent. The reference grid's
prose-only runs, whose zero-shot probes were never learned, are summarised in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import scaling
from scaling.errors import ScalingError
from scaling.fit import fit_aggregate, simulate_quanta
from scaling.fit.data import skill_resolution

from .common import BASELINE, Context, fmt_interval

#: Zipf exponent minus one (α) of the method check on simulated quanta.
CHECK_ALPHA = 0.5
PROSE = "prose"


def mixture_runs(ctx: Context) -> pd.DataFrame:
    """The runs of the skills store that train prose and at least three skills together."""
    runs = scaling.load_runs(ctx.skills).runs
    keep = []
    for r in runs[runs["status"] == "done"].itertuples():
        try:
            base = json.loads((Path(r.path) / "config.json").read_text())["recipe_spec"]["base"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if PROSE in base and len(base) >= 4:
            keep.append({"run_id": str(r.run_id), "weights": {k: float(v) for k, v in
                                                              base.items()}})
    return pd.DataFrame(keep, columns=["run_id", "weights"])


def fit_run(m: pd.DataFrame, weights: dict, bootstrap: int, seed: int) -> dict:
    """Grokking verdicts and both aggregation fits of one mixture run's metrics ``m``."""
    def frame(metric):
        s = m[(m["kind"] == "skill") & (m["metric"] == metric) & (m["tokens"] > 0)]
        return s, pd.DataFrame({"curve": s["name"].astype(str),
                                "tokens": s["tokens"].astype(float),
                                "value": s["value"].astype(float),
                                "resolution": skill_resolution(s)})

    sk, skills = frame("exact_match")
    _, per_token = frame("token_accuracy")
    vl = m[(m["kind"] == "val_loss") & (m["tokens"] > 0)]
    wide = vl.pivot_table(index="tokens", columns="name", values="value", aggfunc="mean")
    doms = [d for d in weights if d in wide.columns]
    wide = wide[doms].dropna()
    w = pd.Series({d: weights[d] for d in doms})
    sk_doms = [d for d in doms if d != PROSE]
    losses = {"mixture": (wide[doms] * w).sum(axis=1) / w.sum(),
              "skills": (wide[sk_doms] * w[sk_doms]).sum(axis=1) / w[sk_doms].sum()}
    out = {"weights": weights, "fits": {}}
    grok = None
    for key, loss, acc in (("mixture", losses["mixture"], skills),
                           ("skills", losses["skills"], skills),
                           ("mixture, per-token", losses["mixture"], per_token)):
        if acc.empty:
            continue
        a = fit_aggregate(loss.index.to_numpy(float), loss.to_numpy(float), acc,
                          bootstrap=bootstrap, seed=seed)
        p = a.power.params.set_index("name")
        out["fits"][key] = {
            "beta_power": float(a.exponent_power),
            "beta_interval": [float(p.loc["beta", "ci_low"]), float(p.loc["beta", "ci_high"])],
            "zipf_from_power": float(a.zipf_from_power),
            "exponent_skills": float(a.exponent_skills), "zipf_exponent": float(a.zipf_exponent),
            "r2_power": float(a.r2_power), "r2_skills": float(a.r2_skills),
            "floor": float(a.floor), "warnings": a.warnings,
            "skill_weights": {r.skill: float(r.weight) for r in a.skills.itertuples()},
            "tokens": loss.index.to_numpy(float).tolist(), "loss": loss.to_numpy(float).tolist(),
            "pred_power": a.predict(loss.index.to_numpy(float), model="power").tolist(),
            "pred_skills": a.predict(loss.index.to_numpy(float), model="skills").tolist()}
        grok = a.grok if grok is None else grok  # the exact-match curves' verdicts
    c = grok.curves.set_index("curve")
    final = sk.sort_values("tokens").groupby("name")["value"].last()
    out["skills"] = [{"skill": k, "weight": weights.get(k), "status": c.loc[k, "status"],
                      "midpoint": float(c.loc[k, "midpoint"]) if c.loc[k, "grokked"] else None,
                      "midpoint_interval": [float(c.loc[k, "midpoint_lo"]),
                                            float(c.loc[k, "midpoint_hi"])]
                      if c.loc[k, "grokked"] else None,
                      "final": float(final.get(k, np.nan))}
                     for k in sorted(c.index, key=lambda k: -weights.get(k, 0))]
    out["grokked"] = int(c["grokked"].sum())
    out["n_skills"] = int(len(c))
    ws = np.array(sorted((weights[k] for k in c.index if k in weights), reverse=True))
    # the Zipf exponent the recipe was built with: slope of ln p_k on ln rank
    out["designed_zipf"] = float(-np.polyfit(np.log(np.arange(1, len(ws) + 1)), np.log(ws),
                                             1)[0]) if len(ws) >= 3 else None
    out["curves"] = {k: g.sort_values("tokens")[["tokens", "value"]].to_numpy().tolist()
                     for k, g in skills.groupby("curve")}
    return out


def reference_line(ctx: Context) -> dict | None:
    """R² of the skill decomposition on the reference baseline runs (probes never learned)."""
    try:
        m = ctx.metrics()
    except Exception:  # noqa: BLE001 — no reference store
        return None
    m = m[m["recipe"] == BASELINE]
    if "branch" in m.columns:
        m = m[m["branch"].isna()]
    r2 = []
    for _, g in m.groupby("run_id"):
        loss = g[(g["kind"] == "val_loss") & (g["name"] == PROSE)].sort_values("tokens")
        sk = g[g["kind"] == "skill"]
        if len(loss) < 5 or sk.empty:
            continue
        skills = pd.DataFrame({"curve": sk["name"].astype(str),
                               "tokens": sk["tokens"].astype(float),
                               "value": sk["value"].astype(float),
                               "resolution": skill_resolution(sk)})
        try:
            a = fit_aggregate(loss["tokens"].to_numpy(float), loss["value"].to_numpy(float),
                              skills)
        except ScalingError:
            continue
        r2.append((a.r2_skills, a.r2_power))
    if not r2:
        return None
    r2 = np.array(r2)
    return {"runs": len(r2), "r2_skills_max": float(np.nanmax(r2[:, 0])),
            "r2_power_min": float(np.nanmin(r2[:, 1]))}


def run(ctx: Context) -> dict:
    res = {"study": 6, "name": "aggregation", "command": ctx.cmd(6),
           "reference": reference_line(ctx), "check": _check(ctx)}
    mix = mixture_runs(ctx) if ctx.has_skills() else pd.DataFrame()
    if mix.empty:
        res["note"] = f"no mixture runs (prose and skills together) in {ctx.skills}"
        return res
    m = ctx.skill_metrics()
    per = []
    for r in mix.itertuples():
        g = m[m["run_id"].astype(str) == r.run_id]
        try:
            f = fit_run(g, r.weights, ctx.bootstrap, ctx.seed)
        except ScalingError as e:
            per.append({"run_id": r.run_id, "error": str(e)})
            continue
        cfg = json.loads((Path(ctx.skills) / r.run_id / "config.json").read_text())
        f.update({"run_id": r.run_id, "width": cfg["model"]["d_model"],
                  "n_params": float(g["n_params"].iloc[0]),
                  "tokens": float(g["tokens"].max())})
        per.append(f)
    per.sort(key=lambda f: f.get("width", 0))
    res["runs"] = per
    res["figures"] = {"mixture": _figure(ctx, [f for f in per if "error" not in f])}
    for f in per:  # the curves only feed the figure
        f.pop("curves", None)
        for fit in f.get("fits", {}).values():
            for k in ("tokens", "loss", "pred_power", "pred_skills"):
                fit.pop(k, None)
    return res


def _check(ctx: Context) -> dict:
    """fit_aggregate on a simulated quanta loss curve: does it recover β = α/(α+1)?"""
    sim = simulate_quanta(n_skills=30, alpha=CHECK_ALPHA, tokens=np.geomspace(0.3, 3e4, 40),
                          noise=0.001, acc_noise=0.005, seed=ctx.seed + 2)
    out = {"alpha": CHECK_ALPHA, "true_beta": sim.data_exponent, "true_zipf": CHECK_ALPHA + 1}
    # all 30 skills observed, and only the first 10 (as many as the mixture has)
    for key, k in (("all", None), ("first10", 10)):
        try:
            a = fit_aggregate(sim.tokens, sim.loss, sim.skill_frame(k), bootstrap=0)
        except ScalingError as e:
            out[key] = {"error": str(e)}
            continue
        out[key] = {"beta_power": float(a.exponent_power),
                    "zipf_exponent": float(a.zipf_exponent),
                    "exponent_skills": float(a.exponent_skills), "r2_skills": float(a.r2_skills)}
    return out


def _figure(ctx: Context, per: list[dict]) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(per), 2, figsize=(13, 4.2 * len(per)), squeeze=False)
    for i, f in enumerate(per):
        ax = axes[i, 0]
        order = [s["skill"] for s in f["skills"]]
        cmap = plt.get_cmap("tab10")
        for j, k in enumerate(order):
            pts = np.asarray(f["curves"][k])
            st = next(s["status"] for s in f["skills"] if s["skill"] == k)
            ax.plot(pts[:, 0], pts[:, 1], "o-", ms=2, lw=1, color=cmap(j % 10),
                    label=f"{k} p={f['weights'][k]:.3g} ({st})")
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("tokens")
        ax.set_ylabel("held-out exact match")
        ax.set_title(f"width {f['width']}: {f['grokked']} of {f['n_skills']} skills grokked",
                     fontsize=9)
        ax.legend(fontsize=6.5, loc="upper left")
        ax = axes[i, 1]
        fit = f["fits"]["mixture"]
        t = np.asarray(fit["tokens"])
        ax.plot(t, fit["loss"], "ko", ms=3, label="mixture loss Σ p_d L_d")
        ax.plot(t, fit["pred_power"], "-", color="C0",
                label=f"power law, β={fit['beta_power']:.2f}, R²={fit['r2_power']:.3f}")
        ax.plot(t, fit["pred_skills"], "--", color="C3",
                label=f"floor + Σ w_k(1−acc_k), R²={fit['r2_skills']:.3f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tokens")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize=7)
        ax.set_title(f"width {f['width']}: the mixture's loss, fitted two ways", fontsize=9)
    fig.subplots_adjust(hspace=0.35)
    return ctx.figure(fig, "study6_mixture")


def markdown(res: dict) -> str:
    lines = ["## 6. Aggregation: skills → loss power law\n",
             "Source: Zipfian skills give L ∝ D^−β with β = α/(α+1) (Zipf exponent α + 1). "
             f"Command: `{res['command']}`.\n"]
    ref = res.get("reference")
    if ref:
        lines.append(f"On `runs/reference` (prose only, probes asked zero-shot and never "
                     f"learned) the skill sum explained R² ≤ {ref['r2_skills_max']:.2f} of the "
                     f"{ref['runs']} baseline loss curves (power law R² ≥ "
                     f"{ref['r2_power_min']:.2f}). Below: the skills store's mixtures, where "
                     "the skills are trained.\n")
    runs = res.get("runs")
    if not runs:
        lines.append(res.get("note", "no mixture runs") + "\n")
    else:
        ok = [f for f in runs if "error" not in f]
        lines.append(
            "Ten skill tasks with Zipfian weights (p_k ∝ 1/k; designed Zipf exponent "
            + ", ".join(f"{f['designed_zipf']:.3g}" for f in ok[:1])
            + ") and prose 0.3, one seed per width, exact match on 256 held-out items per "
            "evaluation. Per skill: weight, verdict, midpoint (tokens, 90% interval) and the "
            "last evaluation's accuracy:\n")
        for f in runs:
            if "error" in f:
                lines.append(f"- run {f['run_id']}: {f['error']}")
                continue
            lines.append(f"**Width {f['width']}** (run `{f['run_id']}`, "
                         f"{f['n_params']:,.0f} non-embedding parameters, "
                         f"{f['tokens']:,.0f} tokens): **{f['grokked']} of {f['n_skills']} "
                         "skills grokked**.\n\n| skill | p_k | verdict | midpoint | final |\n"
                         "|---|---|---|---|---|")
            for s in f["skills"]:
                mid = (fmt_interval(s["midpoint"], *s["midpoint_interval"]) if s["midpoint"]
                       else "—")
                lines.append(f"| `{s['skill']}` | {s['weight']:.3g} | {s['status']} | {mid} | "
                             f"{s['final']:.3f} |")
            lines.append("")
        lines.append("Aggregation fits (R² on the measured loss curve; acc_k = exact match "
                     "unless the row says per-token; β from the power law "
                     "with its bootstrap 90% interval and the Zipf exponent 1/(1 − β) it "
                     "implies; from the skill sum with Zipf-form weights over the learning "
                     "order, the Zipf exponent α + 1 and β = α/(α + 1)):\n\n"
                     "| width | loss | R² power law | R² skill sum | β (power law) | "
                     "Zipf from β | Zipf (skills) | β (skills) |\n"
                     "|---|---|---|---|---|---|---|---|")
        for f in ok:
            for key, what in (("mixture", "mixture Σ p_d L_d"),
                              ("skills", "skills' losses only (no prose)"),
                              ("mixture, per-token", "mixture; acc_k per-token")):
                x = f["fits"].get(key)
                if x is None:
                    continue
                lo, hi = x["beta_interval"]
                lines.append(f"| {f['width']} | {what} | {_r(x['r2_power'])} | "
                             f"{_r(x['r2_skills'])} | "
                             f"{fmt_interval(x['beta_power'], lo, hi)} | "
                             f"{fmt_interval(x['zipf_from_power'], _zipf(lo), _zipf(hi))} | "
                             f"{_r(x['zipf_exponent'])} | {_r(x['exponent_skills'])} |")
        warn = sorted({w for f in ok for x in f["fits"].values() for w in x["warnings"]})
        if warn:
            lines.append("\nFit warnings: " + "; ".join(warn) + ".")
    c = res.get("check", {})
    if "true_beta" in c:
        lines.append(f"\nMethod check on simulated quanta (30 skills, α = {c['alpha']}; true β = "
                     f"{c['true_beta']:.3g}, true Zipf exponent {c['true_zipf']:.3g}):")
        for key, what in (("all", "all 30 skill curves observed"),
                          ("first10", "only the 10 most frequent observed")):
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
