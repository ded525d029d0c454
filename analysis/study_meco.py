"""Study 4 — MeCo: metadata conditioning for 90% of training, then a 10% plain cooldown.

Source (Gao et al. 2025): MeCo matches the baseline's downstream accuracy with 33% less data
(s ≈ 0.67) at 1.6B parameters. Ours: ``prose=1;meco=0.9`` vs ``prose=1`` on prose validation
loss (plain documents), the savings ratio at each of the grid's sizes
(:func:`scaling.predict.predict_savings`, ``D_b = 5·N``) and extrapolated to 1.6B at 20
tokens per parameter; per-probe grokking speed-ups where probes grok (downstream accuracy in
the paper's sense is not measurable at this scale — see study 1's probe accuracies).
"""

from __future__ import annotations

import numpy as np

from scaling.predict import PredictError, predict_savings
from scaling.units import format_count

from .common import BASELINE, LEVEL, Context, errbars, fmt_interval
from .study_frontload import RATIO

MECO = "prose=1;meco=0.9"
PAPER = 0.67
PAPER_SIZE = 1.6e9


def run(ctx: Context) -> dict:
    res = {"study": 4, "name": "MeCo", "recipe": MECO, "paper": PAPER, "command": ctx.cmd(4),
           "ratio_tokens_per_param": RATIO}
    grid = ctx.grid("prose")
    r = grid.resolve(MECO)
    if r is None:
        res["note"] = f"no {MECO} runs in the store"
        return res
    rows = []
    for n in np.intersect1d(grid.sizes(r), grid.sizes(BASELINE)):
        try:
            p = predict_savings(grid, r, BASELINE, size=float(n), tokens=RATIO * float(n),
                                bootstrap=ctx.bootstrap, level=LEVEL, seed=ctx.seed,
                                skills=False).summary()
            rows.append({"size": float(n), "savings_ratio": p["savings_ratio"],
                         "interval": p["interval"], "loss_baseline": p["loss_baseline"],
                         "loss_recipe": p["loss_recipe"], "warnings": p["warnings"],
                         "loss_baseline_interval": p["loss_baseline_interval"],
                         "loss_recipe_interval": p["loss_recipe_interval"]})
        except PredictError as e:
            rows.append({"size": float(n), "error": str(e)})
    res["per_size"] = rows
    try:
        p = predict_savings(grid, r, BASELINE, size=PAPER_SIZE, tokens="20x",
                            bootstrap=ctx.bootstrap, level=LEVEL, seed=ctx.seed, skills=True)
        s = p.summary()
        res["at_paper_size"] = {"size": PAPER_SIZE, "savings_ratio": s["savings_ratio"],
                                "interval": s["interval"], "extrapolated": s["extrapolated"],
                                "warnings": s["warnings"]}
        res["skills"] = s["skills"]
    except PredictError as e:
        res["at_paper_size"] = {"error": str(e)}
    res["figures"] = {"savings": _figure(ctx, res)}
    return res


def _figure(ctx: Context, res: dict) -> str:
    import matplotlib.pyplot as plt

    ok = [x for x in res["per_size"] if x.get("savings_ratio")]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    if ok:
        n = np.array([x["size"] for x in ok])
        s = np.array([x["savings_ratio"] for x in ok])
        lo = np.array([x["interval"][0] for x in ok], float)
        hi = np.array([x["interval"][1] if x["interval"][1] is not None and
                       np.isfinite(x["interval"][1]) else 10 * x["savings_ratio"] for x in ok])
        ax.errorbar(n, s, yerr=errbars(s, lo, hi), marker="o", capsize=3, label=MECO)
    ax.axhline(1, color="k", ls="--", lw=0.8)
    ax.axhline(PAPER, color="r", ls=":", lw=0.8, label=f"paper ({PAPER}, 1.6B)")
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel(f"savings ratio s (D_b = {RATIO:g}·N)")
    ax.legend(fontsize=7)
    return ctx.figure(fig, "study4_meco")


def markdown(res: dict) -> str:
    lines = ["## 4. MeCo (metadata conditioning + 10% cooldown)\n",
             f"Source: s = {PAPER} (33% less data) on downstream accuracy at 1.6B. Ours: savings "
             f"ratio on prose validation loss, D_b = {res['ratio_tokens_per_param']:g}·N, 90% "
             f"bootstrap intervals. Command: `{res['command']}`.\n"]
    if "per_size" not in res:
        lines.append(res.get("note", "not measured") + "\n")
        return "\n".join(lines)
    lines.append("| size | s | loss baseline | loss MeCo (same budget) |\n|---|---|---|---|")
    for x in res["per_size"]:
        if "error" in x:
            lines.append(f"| {format_count(x['size'])} | {x['error']} | | |")
        else:
            lines.append(f"| {format_count(x['size'])} | {fmt_interval(x['savings_ratio'], *x['interval'], missing='never')}"
                         f" | {fmt_interval(x['loss_baseline'], *x['loss_baseline_interval'], 4)}"
                         f" | {fmt_interval(x['loss_recipe'], *x['loss_recipe_interval'], 4)} |")
    a = res.get("at_paper_size", {})
    if "savings_ratio" in a:
        lines.append(f"\nExtrapolated to 1.6B at 20 tokens/parameter: s = "
                     f"{fmt_interval(a['savings_ratio'], *a['interval'], missing='never')} (extrapolated: "
                     f"{a['extrapolated']}).")
    sk = [k for k in res.get("skills", []) if k.get("speedup") is not None]
    lines.append("Probe speed-ups: " + ("; ".join(k["text"] for k in sk) if sk else
                                       "none measurable (no probe groks under both recipes).")
                 + "\n")
    for f in res.get("figures", {}).values():
        lines.append(f"![study 4]({f})\n")
    return "\n".join(lines)
