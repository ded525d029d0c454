"""Page 6, aggregation: the baseline's loss curve as a power law and as a sum of skill terms."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page, plt


def aggregation_page(ctx: ReportContext) -> list:
    """Skill curves → loss power law, one page per run aggregated (the baseline's on a law
    grid; each skill mixture's on a store of skill experiments): the loss fitted both ways,
    both exponents."""
    return [_page(ctx, a) for a in ctx.aggregate]


def _page(ctx: ReportContext, a: dict):
    res = a["result"]
    who = "baseline " if a["recipe"] == ctx.baseline else ""
    mixed = len(a["domains"]) > 1
    loss_name = (f"mixture loss Σ p_d L_d ({len(a['domains'])} domains)" if mixed else
                 f"val loss ({a['domains'][0] if a['domains'] else ctx.domain})")
    fig = new_page("Aggregation: skill curves → loss power law",
                   f"{who}{style.short(a['recipe'], 70)} at {format_count(a['size'])} params"
                   + (f" ({a['shape']})" if ctx.several_shapes else "")
                   + f" (run {a['run']}): its "
                   + ("held-out loss on its own training mixture (recipe weights p_d)"
                      if mixed else "loss curve")
                   + " fitted as E + B·D^-β and as floor + Σ w_k (1 − acc_k(D)) over its "
                   f"{len(res.skills)} skill curves (exact match)")
    loss = a["loss"]
    D = loss["tokens"].to_numpy(float)
    ax = fig.add_axes([0.06, 0.12, 0.40, 0.72])
    ax.plot(D, loss["value"], "o", color="black", ms=4, label="measured loss")
    dd = np.geomspace(D.min(), D.max(), 100)
    beta_p, beta_s = aggregate_exponents(res)
    ax.plot(dd, res.predict(dd, model="power"), "-", color="tab:blue",
            label=f"power law: {beta_p} (R² {res.r2_power:.3f})")
    lo, hi = res.predict_interval(dd)
    ax.fill_between(dd, lo, hi, color="tab:blue", alpha=0.15, lw=0)
    ax.plot(dd, res.predict(dd, model="skills"), "--", color="tab:red",
            label=f"skill sum: {beta_s} (R² {res.r2_skills:.3f})")
    ax.set_xscale("log")
    style.log_ticks(ax)
    ax.set_xlabel("tokens D")
    ax.set_ylabel(loss_name)
    ax.legend(frameon=False, fontsize=7.5)
    ax.set_title("loss curve, both fits", fontsize=8.5, loc="left")
    sk = res.skills
    ax2 = fig.add_axes([0.55, 0.52, 0.29, 0.32])
    cmap = plt.get_cmap("plasma")
    for r in sk.itertuples():
        g = a["skills"][a["skills"]["curve"] == r.skill]
        g = g[g["tokens"] > 0].sort_values("tokens")
        c = cmap(0.85 * (r.rank - 1) / max(len(sk) - 1, 1))
        ax2.plot(g["tokens"], g["value"], "-", color=c, lw=1, label=f"{r.rank}. {r.skill}")
    ax2.set_xscale("log")
    style.log_ticks(ax2)
    ax2.set_ylabel("accuracy")
    ax2.set_xlabel("tokens")
    ax2.legend(fontsize=6.5, frameon=False, ncol=1, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax2.set_title("skill curves, numbered by learning order", fontsize=8.5, loc="left")
    ax3 = fig.add_axes([0.55, 0.12, 0.18, 0.28])
    w = sk["weight"].to_numpy(float)
    ax3.bar(sk["rank"], w, color=[cmap(0.85 * (k - 1) / max(len(sk) - 1, 1))
                                  for k in sk["rank"]])
    ax3.set_xlabel("skill rank (learning order)")
    ax3.set_ylabel("weight w_k (NNLS)")
    ax3.set_title("free weights", fontsize=8.5, loc="left")
    lines = [
        "Exponents of the data term D^-β:",
        f"  power-law fit     {beta_p}",
        f"  skills (Zipf)     {beta_s}",
        "",
        "Zipf exponent α+1 of the skill weights:",
        f"  implied by power  {res.zipf_from_power:.3f}",
        "  fitted to skills  " + (f"{res.zipf_exponent:.3g}" if beta_s.startswith("β")
                                  else "— (no usable skill fit)"),
        f"  floor             {res.floor:.3g}",
    ] + [f"warning: {w}" for w in res.warnings]
    grokked = int(res.grok.curves["grokked"].sum())
    if grokked < 3 or not 0 < res.exponent_skills < 1 or res.r2_skills < 0.5:
        lines += ["", f"note: only {grokked} of {len(sk)} skills grok within this run; the "
                  "skill sum cannot describe the loss curve here, so its exponent means "
                  "little (more tokens, or probes that emerge earlier)"]
    style.text_block(fig, 0.76, 0.40, lines, width=42, size=7.5, mono=True, max_lines=22)
    return fig


def aggregate_exponents(res) -> tuple[str, str]:
    """``"β = 0.232"`` for each fit of the aggregation page, or why there is no exponent to
    read: a skill-sum fit whose Zipf exponent is ≤ 1 (β = (z−1)/z ≤ 0; z → 0 gave
    β = −26680) or at its bound, or that does not describe the loss (R² < 0.5), is a failed
    fit, not a number; a power law with β at its bound says so."""
    at = res.power.at_bound.get("beta")
    bp = res.exponent_power
    power = (f"β = {bp:.3f}" + (f" (at {at} bound)" if at else "")) if np.isfinite(bp) else \
        "no fit"
    bs, z = res.exponent_skills, res.zipf_exponent
    if not (np.isfinite(bs) and np.isfinite(z)):
        skills = "no fit"
    elif not 0 < bs < 1 or any("Zipf exponent at its bound" in w for w in res.warnings):
        skills = f"degenerate fit (Zipf exponent {z:.2g} ≤ 1: no power law)" if z <= 1 else \
            f"degenerate fit (Zipf exponent {z:.3g} at its bound)"
    elif not res.r2_skills >= 0.5:
        skills = "failed fit (does not describe the loss)"
    else:
        skills = f"β = {bs:.3f}"
    return power, skills
