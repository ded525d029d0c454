"""Page 8, midtraining: savings over the start × weight design of mid-training recipes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...predict.result import verdict
from ...recipe import parse_recipe
from ...units import format_count
from .. import style
from ..context import Missing, ReportContext
from ..style import new_page


def midtraining_page(ctx: ReportContext) -> list:
    """Savings over the midtraining (start × weight) design, at the target and in the grid."""
    sav = ctx.savings
    rows = []
    for r, p in sav.items():
        try:
            rec = parse_recipe(r)
        except Exception:  # noqa: BLE001 - names that are not --mix strings have no mid
            continue
        if rec.mid is not None:
            rows.append({"recipe": r, "domain": rec.mid.domain, "start": rec.mid.start,
                         "weight": rec.mid.weight, "s": p.savings_ratio,
                         "lo": p.interval[0], "hi": p.interval[1]})
    if not rows:
        raise Missing("no midtraining recipes (…;mid=DOMAIN:WEIGHT@START) in the grid")
    df = pd.DataFrame(rows)
    figs = []
    fig = new_page("Midtraining: start × weight",
                   f"savings ratio s at {format_count(ctx.size)} params ({ctx.tokens_rule}) "
                   f"of prose=1 with a mid-training domain from START (fraction of training) "
                   f"at WEIGHT; cells: s [{int(ctx.level * 100)}% interval] and the verdict "
                   "it supports; colour: ln s of the point estimate (blue below 1)")
    doms = sorted(df["domain"].unique())
    for j, dom in enumerate(doms[:2]):
        g = df[df["domain"] == dom]
        starts, weights = sorted(g["start"].unique()), sorted(g["weight"].unique())
        Z = np.full((len(weights), len(starts)), np.nan)
        txt = {}
        for r in g.itertuples():
            a, b = weights.index(r.weight), starts.index(r.start)
            Z[a, b] = r.s
            txt[a, b] = (style.fmt_interval(r.s, r.lo, r.hi, 3).replace(" [", "\n[")
                         + "\n" + verdict(r.lo, r.hi))
        w = 0.42 if len(doms) > 1 else 0.8
        ax = fig.add_axes([0.08 + j * 0.48, 0.14, w, 0.68])
        lz = np.log(Z)
        vmax = max(float(np.nanmax(np.abs(lz))) if np.isfinite(lz).any() else 0.1, 0.05)
        im = ax.imshow(lz, cmap="RdBu_r", vmin=-vmax, vmax=vmax, origin="lower",
                       aspect="auto")
        for (a, b), s in txt.items():
            dark = np.isfinite(lz[a, b]) and abs(lz[a, b]) > 0.55 * vmax
            ax.text(b, a, s, ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
        ax.set_xticks(range(len(starts)), [f"{s:g}" for s in starts])
        ax.set_yticks(range(len(weights)), [f"{w:g}" for w in weights])
        ax.set_xlabel("start (fraction of training)")
        ax.set_ylabel("weight of the mid-training domain")
        ax.set_title(f"mid-training domain: {dom}", fontsize=9, loc="left")
        ax.grid(False)
        cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
        cb.set_label("ln s of the point estimate  (< 0: s < 1)")
    figs.append(fig)
    return figs
