"""Page 4, per-skill grokking curves: probe accuracy with the sigmoid fits."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page, plt
from .common import recipe_colors, skill_order


def _shown_recipes(ctx: ReportContext, k: int = 5) -> list[str]:
    """The baseline and the ``k`` recipes that grok earliest on average (log midpoints)."""
    e = ctx.emergence
    mean = e.assign(lm=np.log(e["midpoint"])).groupby("recipe")["lm"].mean()
    others = [r for r in mean.sort_values().index if r != ctx.baseline][:k]
    return ([ctx.baseline] if ctx.baseline in set(e["recipe"]) else []) + others


def grok_pages(ctx: ReportContext) -> list:
    """Per-skill accuracy curves with their sigmoid fits (largest size with probes)."""
    t, res = ctx.skill_table, ctx.grok
    skills = skill_order(ctx)
    shown = _shown_recipes(ctx)
    colors = recipe_colors(ctx)
    n = float(t["params"].iloc[0])
    fig = new_page("Per-skill grokking curves",
                   f"probe accuracy vs tokens at {format_count(n)} params; dots: measured, "
                   "lines: sigmoid-in-log-tokens fits, | marks the grokking time (midpoint) "
                   f"of grokked curves; the baseline and the "
                   f"{len(shown) - 1} recipes that grok earliest")
    ncol = 4
    nrow = int(np.ceil(len(skills) / ncol))
    gs = fig.add_gridspec(max(nrow, 1), ncol, left=0.06, right=0.98, top=0.86, bottom=0.15,
                          hspace=0.45, wspace=0.25)
    curves = res.curves.set_index("curve")
    for i, k in enumerate(skills[:ncol * 3]):
        ax = fig.add_subplot(gs[i // ncol, i % ncol])
        for r in shown:
            c = colors.get(r, "0.5")
            g = t[(t["skill"] == k) & (t["recipe"] == r)]
            for cv, h in g.groupby("curve"):
                h = h[h["tokens"] > 0].sort_values("tokens")
                ax.plot(h["tokens"], h["value"], "o", ms=2.2, color=c, alpha=0.55)
                row = curves.loc[cv]
                if np.isfinite(row["midpoint"]):
                    x = np.geomspace(h["tokens"].min(), h["tokens"].max(), 80)
                    ax.plot(x, res.predict(cv, x), "-", color=c, lw=1.1)
                    if row["grokked"]:
                        ax.axvline(row["midpoint"], color=c, lw=0.8, ls=":", ymax=0.12)
        ax.set_xscale("log")
        style.log_ticks(ax)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(k, fontsize=8.5)
        if i % ncol == 0:
            ax.set_ylabel("accuracy")
        ax.set_xlabel("tokens")
    handles = [plt.Line2D([], [], color=colors.get(r, "0.5"), marker="o", lw=1, ms=4)
               for r in shown]
    fig.legend(handles, [style.short(r, 48) for r in shown], loc="lower center", ncol=3,
               fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.005))
    return [fig]
