"""Page 5, the skill emergence chart: each skill's grokking time under each recipe."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page, plt
from .common import recipe_colors, skill_order


def emergence_page(ctx: ReportContext) -> list:
    """One row per skill, a dot per recipe at its grokking time (left = earlier)."""
    e, t = ctx.emergence, ctx.skill_table
    skills = skill_order(ctx)
    recipes = [r for r in ctx.recipes if r in set(e["recipe"])]
    colors, markers = recipe_colors(ctx), style.recipe_markers(ctx.recipes, ctx.baseline)
    n = float(t["params"].iloc[0])
    fig = new_page("Skill emergence chart",
                   f"grokking time (sigmoid midpoint) of every skill under every recipe at "
                   f"{format_count(n)} params; a better recipe moves its dots left. Hollow at "
                   "the right edge: not grokked within the run")
    ax = fig.add_axes([0.13, 0.10, 0.52, 0.78])
    tmax = float(t["tokens"].max())
    tmin = float(t.loc[t["tokens"] > 0, "tokens"].min())
    edge = tmax * 1.8
    m = len(recipes)
    for j, r in enumerate(recipes):
        off = (j - (m - 1) / 2) * min(0.06, 0.7 / max(m, 1))
        g = e[e["recipe"] == r].set_index("skill")
        for i, k in enumerate(skills):
            if k not in g.index:
                continue
            row = g.loc[k]
            y = i + off
            base = r == ctx.baseline
            kw = dict(color=colors[r], marker=markers[r], ms=7 if base else 5.5,
                      zorder=3 if base else 2, ls="none")
            if np.isfinite(row["midpoint"]):
                ax.plot([row["lo"], row["hi"]], [y, y], color=colors[r], lw=0.8, alpha=0.5)
                ax.plot([row["midpoint"]], [y], **kw)
            else:
                ax.plot([edge], [y], mfc="white", **kw)
    ax.axvspan(tmax * 1.25, edge * 1.4, color="0.93", zorder=0)
    ax.text(edge, -0.75, "not\ngrokked", ha="center", fontsize=7, color="0.35")
    ax.set_yticks(range(len(skills)), skills)
    ax.set_ylim(len(skills) - 0.5, -1.0)
    ax.set_xscale("log")
    ax.set_xlim(tmin / 1.5, edge * 1.4)
    style.log_ticks(ax)
    ax.set_xlabel("grokking time (tokens)  ←  earlier")
    ax.grid(axis="y", alpha=0)
    for i in range(len(skills)):
        ax.axhline(i + 0.5, color="0.85", lw=0.6)
    handles = [plt.Line2D([], [], color=colors[r], marker=markers[r], ls="none", ms=6)
               for r in recipes]
    fig.legend(handles, [style.short(r, 46) + (" (baseline)" if r == ctx.baseline else "")
                         for r in recipes], loc="upper left", bbox_to_anchor=(0.67, 0.88),
               fontsize=7, frameon=False, ncol=1)
    cnt = e["status"].value_counts().to_dict()
    fig.text(0.67, 0.10, wrap_counts(cnt, len(e)), fontsize=7.5, va="bottom", color="0.25")
    return [fig]


def wrap_counts(cnt: dict, total: int) -> str:
    return (f"{total} recipe × skill pairs: " + ", ".join(
        f"{cnt.get(s, 0)} {s.replace('_', ' ')}" for s in ("grokked", "not_yet", "never"))
        + "\n(verdicts by BIC: sigmoid vs flat vs linear)")
