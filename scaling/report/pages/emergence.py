"""Page 5, the skill emergence chart: each skill's grokking time under each recipe."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page, plt
from .common import panel_title, skill_colors, skill_panels


def emergence_page(ctx: ReportContext) -> list:
    """One row per skill (and shape), a dot per recipe at its grokking time (left =
    earlier)."""
    e, t = ctx.emergence, ctx.skill_table
    rows = skill_panels(ctx)
    recipes = [r for r in ctx.skill_recipes if r in set(e["recipe"])]
    colors = skill_colors(ctx)
    markers = style.recipe_markers(ctx.skill_recipes, ctx.baseline)
    at = "" if ctx.several_shapes else f" at {format_count(float(t['params'].iloc[0]))} params"
    clock = " (a task after a warm-up: its own tokens)" if (t["start"] > 0).any() else ""
    fig = new_page("Skill emergence chart",
                   f"grokking time (sigmoid midpoint, exact match) of every skill under every "
                   f"recipe{at}{clock}; a better recipe moves its dots left. Hollow at the right "
                   "edge: not grokked within the run; beside a dot (where a row has room): the accuracy its "
                   "transition reaches (fitted ceiling) and k/n grokked seeds (a recipe groks "
                   "when most of its seeds do)")
    left = 0.17 if ctx.several_shapes else 0.13  # room for "skill · shape" row names
    top = min(0.88, 0.875 - 0.021 * (len(fig.texts[-1].get_text().split("\n")) - 1))
    ax = fig.add_axes([left, 0.10, 0.65 - left, top - 0.10])
    tmax = float(t["tokens"].max())
    tmin = float(t.loc[t["tokens"] > 0, "tokens"].min())
    edge = tmax * 1.8
    for i, (k, n) in enumerate(rows):
        here = e[(e["skill"] == k) & (e["params"] == n)].set_index("recipe")
        rs = [r for r in recipes if r in here.index]
        m = len(rs)
        for j, r in enumerate(rs):
            off = (j - (m - 1) / 2) * min(0.06 if m > 8 else 0.12, 0.7 / max(m, 1))
            row = here.loc[r]
            y = i + off
            base = r == ctx.baseline
            kw = dict(color=colors[r], marker=markers[r], ms=7 if base else 5.5,
                      zorder=3 if base else 2, ls="none")
            if np.isfinite(row["midpoint"]):
                ax.plot([row["lo"], row["hi"]], [y, y], color=colors[r], lw=0.8, alpha=0.5)
                ax.plot([row["midpoint"]], [y], **kw)
                x = row["midpoint"]
            else:
                ax.plot([edge], [y], mfc="white", **kw)
                x = edge
            if m <= 8 and row["n"] > 0:  # room to say how high, and how many seeds
                label = (f"to {row['ceiling']:.2g}" if np.isfinite(row["ceiling"]) else "") \
                    + (f" · {row['n']}/{row['of']}" if row["of"] > 1 else "")
                ax.text(x * 1.12, y, label.strip(" ·"), fontsize=6.5,
                        color=style.darker(colors[r]), va="center", ha="left")
    ax.axvspan(tmax * 1.25, edge * 1.4, color="0.93", zorder=0)
    ax.text(edge, -0.75, "not\ngrokked", ha="center", fontsize=7, color="0.35")
    ax.set_yticks(range(len(rows)), [style.short(panel_title(ctx, k, n), 40) for k, n in rows],
                  fontsize=7.5 if len(rows) <= 16 else 6.5)
    ax.set_ylim(len(rows) - 0.5, -1.0)
    ax.set_xscale("log")
    ax.set_xlim(tmin / 1.5, edge * 1.4)
    style.log_ticks(ax)
    ax.set_xlabel("grokking time (tokens)  ←  earlier")
    ax.grid(axis="y", alpha=0)
    for i in range(len(rows)):
        ax.axhline(i + 0.5, color="0.85", lw=0.6)
    handles = [plt.Line2D([], [], color=colors[r], marker=markers[r], ls="none", ms=6)
               for r in recipes]
    fig.legend(handles, [style.short(r, 46) + (" (baseline)" if r == ctx.baseline else "")
                         for r in recipes], loc="upper left", bbox_to_anchor=(0.67, top),
               fontsize=7, frameon=False, ncol=1)
    cnt = e["status"].value_counts().to_dict()
    fig.text(0.67, 0.10, wrap_counts(cnt, len(e)), fontsize=7.5, va="bottom", color="0.25")
    return [fig]


def wrap_counts(cnt: dict, total: int) -> str:
    return (f"{total} recipe × skill pairs: " + ", ".join(
        f"{cnt.get(s, 0)} {s.replace('_', ' ')}" for s in ("grokked", "not_yet", "never"))
        + "\n(verdicts by BIC: sigmoid vs flat vs linear)")
