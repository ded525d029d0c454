"""Page 7, savings vs model size: the grid's range and the extrapolation to the target."""

from __future__ import annotations

import numpy as np

from ...predict.result import verdict
from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page
from .common import recipe_colors


def savings_size_page(ctx: ReportContext) -> list:
    """Savings ratio vs model size, the grid's range and the extrapolation to the target."""
    df = ctx.savings_by_size
    recipes = [r for r in ctx.recipes if r in set(df["recipe"])]
    colors = recipe_colors(ctx)
    # one y-range for every panel (shared axis: recipes compare at a glance); an unbounded
    # interval runs to the top edge
    fin = np.concatenate([df["lo"], df["s"], df["hi"]])
    fin = fin[np.isfinite(fin) & (fin > 0)]
    ylo = min(fin.min(), 0.9) / 1.15 if fin.size else 0.1
    yhi = min(max(fin.max(), 1.1), 30 * max(df["s"].max(), 0.05)) * 1.15 if fin.size else 10
    s_lo, s_hi = float(ctx.sizes[0]), float(ctx.sizes[-1])
    per = int(np.ceil(len(recipes) / np.ceil(len(recipes) / 16))) if recipes else 1
    figs = []
    for k in range(0, len(recipes), per):
        chunk = recipes[k:k + per]
        fig = new_page("Savings vs model size" + (f" ({k // per + 1})" if len(recipes) > per
                                                  else ""),
                       f"s = D_recipe / D_baseline at {ctx.tokens_rule}, "
                       f"{int(ctx.level * 100)}% intervals; grey: the grid's sizes; right of "
                       f"it: extrapolated (widened) up to the target {format_count(ctx.size)}; "
                       "one y-axis for all panels")
        ncol = min(4, len(chunk))
        nrow = int(np.ceil(len(chunk) / ncol))
        gs = fig.add_gridspec(nrow, ncol, left=0.06, right=0.98, top=0.86, bottom=0.08,
                              hspace=0.55 if nrow > 1 else 0.3, wspace=0.12)
        first = None
        for i, r in enumerate(chunk):
            ax = fig.add_subplot(gs[i // ncol, i % ncol], sharey=first)
            first = first or ax
            g = df[df["recipe"] == r].sort_values("size")
            c = colors[r]
            hi = np.where(np.isfinite(g["hi"]), g["hi"], yhi)
            ax.fill_between(g["size"], g["lo"], hi, color=c, alpha=0.2, lw=0)
            ax.plot(g["size"], g["s"], "-", color=c)
            inside = ~g["extrapolated"].to_numpy(bool)
            ax.plot(g["size"][inside], g["s"][inside], "o", color=c, ms=3)
            ax.axvspan(s_lo, s_hi, color="0.9", zorder=0)
            ax.axhline(1, color="0.4", lw=0.7, ls="--")
            ax.axvline(ctx.size, color="0.3", lw=0.7, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(ylo, yhi)
            ax.set_xlim(s_lo / 1.3, max(float(ctx.size), s_hi) * 1.3)
            style.log_ticks(ax)
            style.ratio_ticks(ax, ylo, yhi)
            last = g.iloc[-1]
            ax.set_title(f"{style.short(r, 46)}\nat target: "
                         f"{style.fmt_interval(last['s'], last['lo'], last['hi'], 2)}, "
                         f"{verdict(last['lo'], last['hi'])}", fontsize=7)
            if i % ncol == 0:
                ax.set_ylabel("savings ratio s")
            else:
                ax.tick_params(axis="y", labelleft=False)
            if i + ncol >= len(chunk):
                ax.set_xlabel("params N")
        figs.append(fig)
    return figs
