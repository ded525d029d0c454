"""Page 3, the L(N, D) fit: the baseline's points, law and residuals; every recipe's
parameter table with intervals and identifiability warnings."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import Missing, ReportContext
from ..style import new_page


def law_fit_page(ctx: ReportContext) -> list:
    """The baseline's L(N, D) fit with residuals, and every recipe's parameter table."""
    ctx.need_grid()
    laws = ctx.laws
    b = ctx.baseline if ctx.baseline in laws else next(iter(laws))
    law = laws[b]
    if not law.law_form.uses_size:
        raise Missing(f"an L(N, D) fit needs runs at ≥ 2 model sizes; the grid has "
                      f"{ctx._sizes_text()} (power laws L(D) per size are used instead, on "
                      "the loss-curve page)")
    fig = new_page("The L(N, D) fit: residuals and parameters",
                   f"L(N, D) = E + A/N^α + B/D^β, Huber fit in log space, bootstrap over runs "
                   f"({ctx.bootstrap} resamples); left: the baseline {b}")
    d = law.data if law.data is not None else ctx.grid.of(b)
    sc = style.size_colors(ctx.sizes)
    ax = fig.add_axes([0.06, 0.52, 0.33, 0.33])
    ax2 = fig.add_axes([0.06, 0.10, 0.33, 0.32], sharex=ax)
    for n, g in d.groupby("params"):
        c = sc.get(float(n), "0.4")
        ax.plot(g["tokens"], g["loss"], "o", ms=3.5, color=c, label=format_count(n))
        dd = np.geomspace(d["tokens"].min() / 1.5, d["tokens"].max() * 3, 60)
        ax.plot(dd, law.predict(np.full_like(dd, n), dd), "-", color=c, lw=1)
        lo, hi = law.predict_interval(np.full_like(dd, n), dd)
        ax.fill_between(dd, lo, hi, color=c, alpha=0.15, lw=0)
        res = 100 * (g["loss"].to_numpy() / law.predict(g["params"].to_numpy(float),
                                                        g["tokens"].to_numpy(float)) - 1)
        ax2.plot(g["tokens"], res, "o", ms=3.5, color=c)
    ax2.axhline(0, color="0.3", lw=0.8)
    ax.set_xscale("log")
    style.log_ticks(ax)
    ax.set_ylabel(f"val loss ({ctx.domain})")
    ax.legend(title="params", fontsize=7, title_fontsize=7, frameon=False)
    ax.set_title(f"{style.short(b, 40)}: points, law and {int(ctx.level * 100)}% band",
                 fontsize=8.5, loc="left")
    ax2.set_ylabel("residual (% of fitted loss)")
    ax2.set_xlabel("tokens D")
    ax2.set_title("residuals", fontsize=8.5, loc="left")
    # parameter table of every recipe (monospace columns sized to their contents)
    cols = ["E", "A", "B", "alpha", "beta"]
    rows, colors, warn = [], [], {}
    for r, lw in laws.items():
        cells = [style.wrap_recipe(r, 24)]
        tint = [None]
        for c in cols:
            cell, bad = _param_cell(lw, c)
            cells.append(cell)
            tint.append("firebrick" if bad else None)
        rho = lw.alpha_beta_correlation if lw.law_form.uses_size else None
        cells.append("–" if rho is None else f"{rho:+.2f}")
        tint.append("firebrick" if rho is not None and abs(rho) > 0.9 else None)
        rows.append(cells)
        colors.append(tint)
        for w in lw.warnings:  # the same warning for many recipes is said once
            warn.setdefault(w, []).append(r)
    y0 = style.text_table(fig, 0.43, 0.87, 0.55, ["recipe", "E", "A", "B", "α", "β", "ρ(α,β)"],
                          rows, colors, size=7.5, wrap_first=16)
    pct = int(ctx.level * 100)
    lines = [f"Values with {pct}% bootstrap intervals. In red: a parameter at a bound of the "
             "search (the data do not pin it down; no interval then, or a one-sided one, ≤ or "
             "≥), and ρ(α,β) when |ρ| > 0.9 (α and β hard to separate on this design).",
             "Identifiability and fit warnings:"]
    for w, rs in warn.items():
        who = (f"all {len(rs)} recipes" if len(rs) == len(laws) and len(rs) > 1 else
               ", ".join(rs) if len(rs) <= 3 else f"{len(rs)} recipes ({rs[0]}, …)")
        lines.append(f"• {who}: {w}")
    if not warn:
        lines.append("• none")
    room = y0 - 0.03
    style.text_block(fig, 0.43, y0 - 0.01, lines, width=118, size=6.8,
                     max_lines=max(3, int(room / 0.0155)))
    return [fig]


def _param_cell(law, name: str) -> tuple[str, bool]:
    """Two lines for the parameter table: the value, then its interval as it may be read
    (``[lo, hi]``, one-sided ``≤ hi`` / ``≥ lo``, or "at lower bound" with no interval); and
    whether the parameter sits at (or its interval runs into) a bound of the search."""
    if name not in law.names:
        return "–", False
    p = law.params.set_index("name").loc[name]
    v, lo, hi = float(p["value"]), float(p["ci_low"]), float(p["ci_high"])
    at, kind = law.at_bound.get(name), law.ci_kind[name]
    if kind == "unbounded":
        return f"{style.num(v, 3)}\n{f'at {at} bound' if at else 'no interval'}", True
    if kind == "none":
        return f"{style.num(v, 3)}\nno interval", at is not None
    top = style.num(v, 3) + (f" (at {at} bound)" if at else "")
    if kind == "upper-only":
        return f"{top}\n≤ {style.num(hi)}" + ("" if at else " (1-sided)"), True
    if kind == "lower-only":
        return f"{top}\n≥ {style.num(lo)}" + ("" if at else " (1-sided)"), True
    return f"{top}\n{style.num_pair(lo, hi)}", at is not None
