"""Page 2, loss curves per recipe with the fitted law at each size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...predict.points import canonical
from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page, plt


def _main_curves(ctx: ReportContext) -> pd.DataFrame:
    m = ctx.metrics
    vl = m[(m["kind"] == "val_loss") & (m["name"] == ctx.domain) & (m["tokens"] > 0)]
    if "branch" in vl.columns:
        vl = vl[vl["branch"].isna()]
    return vl.assign(recipe=vl["recipe"].astype(str).map(canonical),
                     params=pd.to_numeric(vl["n_params"], errors="coerce"))


def loss_pages(ctx: ReportContext) -> list:
    """Loss curves per recipe (colour = size) with the fitted law at each size."""
    ctx.need_grid()
    laws = ctx.laws
    curves = _main_curves(ctx)
    pts = ctx.grid.points
    sc = style.size_colors(ctx.sizes)
    figs = []
    recipes = ctx.recipes
    # at most 12 panels a page, spread evenly (16 recipes: 8 + 8, not 12 + a 4-panel page)
    per = int(np.ceil(len(recipes) / np.ceil(len(recipes) / 12))) if recipes else 1
    for k in range(0, len(recipes), per):
        chunk = recipes[k:k + per]
        fig = new_page("Loss curves and fitted laws" + (f" ({k // per + 1})" if
                                                          len(recipes) > per else ""),
                       f"validation loss on '{ctx.domain}' vs tokens; lines: training runs, "
                       "dots: run and decay-branch end points (the fit's points), dashed: the "
                       "recipe's fitted law at each size")
        ncol = min(4, len(chunk))
        gs = fig.add_gridspec(int(np.ceil(len(chunk) / ncol)), ncol, left=0.06,
                              right=0.98, top=0.86, bottom=0.11, hspace=0.45, wspace=0.25)
        for i, r in enumerate(chunk):
            ax = fig.add_subplot(gs[i // ncol, i % ncol])
            cr = curves[curves["recipe"] == r]
            for _run, g in cr.groupby("run_id"):
                g = g.sort_values("tokens")
                n = float(g["params"].iloc[0])
                ax.plot(g["tokens"], g["value"], color=sc.get(n, "0.5"), lw=0.7, alpha=0.6)
            p = pts[pts["recipe"] == r]
            for n, g in p.groupby("params"):
                ax.plot(g["tokens"], g["loss"], "o", ms=3, color=sc.get(float(n), "0.5"))
            law = laws.get(r)
            drawn = []  # the fitted lines' values: the y-range keeps them whole
            if law is not None:
                for n in ctx.grid.sizes(r):
                    g = p[np.isclose(p["params"], n)]
                    d = np.geomspace(g["tokens"].min() / 1.5, g["tokens"].max() * 1.5, 50)
                    sized = law.law_form.uses_size
                    y = law.predict(np.full_like(d, n), d) if sized else law.predict(d)
                    if not sized and not np.isclose(n, ctx.fits[r].size or n):
                        continue
                    ax.plot(d, y, "--", color=sc.get(float(n), "0.5"), lw=1.0)
                    drawn.append(y[np.isfinite(y)])
            ax.set_xscale("log")
            style.log_ticks(ax)
            ax.set_title(style.short(r, 44), fontsize=7.5,
                         color="black" if r != ctx.baseline else "0.0",
                         weight="bold" if r == ctx.baseline else "normal")
            if i % ncol == 0:
                ax.set_ylabel("val loss")
            if i + ncol >= len(chunk):
                ax.set_xlabel("tokens")
            if len(p) and len(cr):
                # the early, steep part of the training curves may run off the top; the points
                # and the fitted lines never do
                yl = np.concatenate([p["loss"].to_numpy(float)] + drawn)
                ax.set_ylim(yl.min() * 0.97, max(min(cr["value"].max(),
                                                     p["loss"].max() * 1.6), yl.max() * 1.03))
        handles = [plt.Line2D([], [], color=c, marker="o", lw=1, ms=4) for c in sc.values()]
        fig.legend(handles, [format_count(s) + " params" for s in sc], loc="lower center",
                   ncol=len(sc), fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.01))
        figs.append(fig)
    return figs
