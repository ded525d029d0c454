"""The report's pages. Each builder takes a :class:`~.context.ReportContext` and returns a
list of figures; a builder whose inputs are missing raises :class:`~.context.Missing`, and
:func:`scaling.report.build_report` draws a page that says so instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..units import format_count
from . import style
from .context import Missing, ReportContext
from .style import new_page, plt


def _colors(ctx: ReportContext):
    return style.recipe_colors(ctx.recipes, ctx.baseline)


def _target_text(ctx: ReportContext) -> str:
    return (f"target: {format_count(ctx.size)} non-embedding parameters, baseline budget "
            f"{ctx.tokens_rule}; loss on '{ctx.domain}'; {int(ctx.level * 100)}% intervals")


# --------------------------------------------------------------------------- 1 summary


def summary_page(ctx: ReportContext) -> list:
    """Grid (runs per recipe × size) and the headline savings with intervals."""
    grids = sorted(ctx.runs["grid"].dropna().astype(str).unique()) if len(ctx.runs) else []
    counts = ctx.runs["status"].value_counts().to_dict() if len(ctx.runs) else {}
    status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no runs"
    fig = new_page("scaling report: summary",
                   f"runs: {ctx.path}  ·  grid {', '.join(grids) or '?'}  ·  {status}")
    notes = list(ctx.problems)
    if ctx.grid is None:
        style.text_block(fig, 0.05, 0.85, ["Nothing to fit yet:"] + [f"• {p}" for p in notes],
                         width=120, size=11)
        return [fig]
    recipes, sizes = ctx.recipes, ctx.sizes
    try:
        sav = ctx.savings
    except Missing as e:
        sav = {}
        notes.append(f"no headline savings: {e}")
    # rows: baseline first, then recipes by savings (best first)
    others = sorted([r for r in recipes if r != ctx.baseline],
                    key=lambda r: (sav[r].savings_ratio if r in sav else np.inf, r))
    rows = ([ctx.baseline] if ctx.baseline in recipes else []) + others
    n = len(rows)
    # the table and forest plot take at least 40% of the page height (a small grid spreads its
    # few rows rather than leave the page empty), and at most what leaves room for the notes
    top = 0.86
    bottom = max(0.20, min(0.46, top - 0.034 * (n + 1)))
    ax_t = fig.add_axes([0.03, bottom, 0.56, top - bottom])
    ax_s = fig.add_axes([0.62, bottom, 0.35, top - bottom], sharey=ax_t)
    ax_t.axis("off")
    ax_t.set_ylim(n - 0.5, -1.2)
    pts = ctx.grid.points
    fs = 9.0 if n <= 6 else 7.5
    col_x = [0.0] + [0.44 + 0.07 * i for i in range(len(sizes))]
    ax_t.text(0.0, -1, "recipe", weight="bold", fontsize=8, va="center")
    for i, s in enumerate(sizes):
        ax_t.text(col_x[i + 1], -1, format_count(s), weight="bold", fontsize=8, va="center",
                  ha="center")
    for j, r in enumerate(rows):
        p = pts[pts["recipe"] == r]
        ax_t.text(0.0, j, style.wrap_recipe(r + ("  (baseline)" if r == ctx.baseline else ""),
                                            44), fontsize=fs, va="center", linespacing=1.1,
                  color=_colors(ctx)[r] if r == ctx.baseline else "0.1")
        for i, s in enumerate(sizes):
            q = p[np.isclose(p["params"], s)]
            txt = f"{q['run'].nunique()}r/{len(q)}p" if len(q) else "–"
            ax_t.text(col_x[i + 1], j, txt, fontsize=fs - 0.5, va="center", ha="center",
                      color="0.2" if len(q) else "0.6")
    x_s = col_x[-1] + 0.07
    ax_t.text(x_s, -1, "s [interval]  verdict", weight="bold", fontsize=8, va="center")
    ax_t.set_xlim(-0.01, x_s + 0.34)
    ax_t.set_title("runs per size (r = runs, p = end points incl. decay branches)",
                   fontsize=8, loc="left")
    # forest plot of the headline savings
    ax_s.axvline(1.0, color="0.4", lw=0.8, ls="--")
    short_verdict = {"saves data": "saves", "costs data": "costs",
                     "no resolved difference": "unresolved", "no interval": "no interval"}
    bounded = [r for r in rows if r in sav and sav[r].at_bound]
    for j, r in enumerate(rows):
        if r not in sav:
            continue
        p = sav[r]
        lo, hi = p.interval
        c = _colors(ctx)[r]
        if np.isfinite(lo) and np.isfinite(hi):
            ax_s.plot([lo, hi], [j, j], color=c, lw=2, alpha=0.7)
        elif np.isfinite(lo):  # unbounded above: an arrow to the axis edge says so
            ax_s.annotate("", xy=(1.0, j), xycoords=("axes fraction", "data"), xytext=(lo, j),
                          arrowprops=dict(arrowstyle="->", color=c, lw=1.5, alpha=0.7))
        ax_s.plot([p.savings_ratio], [j], "o", color=c, ms=5,
                  mfc="white" if p.extrapolated else c)
        mark = " ‡" if r in bounded else ""
        ax_t.text(x_s, j, f"{style.fmt_interval(p.savings_ratio, lo, hi)}  "
                  f"{short_verdict[p.verdict]}{mark}", fontsize=fs - 0.5, va="center",
                  ha="left", weight="bold" if p.verdict in ("saves data", "costs data")
                  else "normal")
    ax_s.set_xscale("log")
    ax_s.grid(False, axis="y")
    ax_s.tick_params(axis="y", left=False, labelleft=False)
    ax_s.set_xlabel("savings ratio s = D_recipe / D_baseline  (< 1 saves data)")
    ax_s.set_title(f"headline savings at {format_count(ctx.size)} params, "
                   f"{ctx.tokens_rule}", fontsize=8.5, loc="left")
    if sav:
        vals = np.array([v for p in sav.values() for v in (*p.interval, p.savings_ratio)])
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if vals.size:
            ax_s.set_xlim(min(vals.min(), 0.9) / 1.3, max(vals.max(), 1.1) * 1.3)
    style.ratio_ticks(ax_s, *ax_s.get_xlim(), axis="x")
    lines = [_target_text(ctx) + ". Hollow dots: extrapolated beyond the grid's sizes "
             "(interval widened).",
             "Verdicts follow the interval: 'saves data' only when all of it is below 1, "
             "'costs data' only when all of it is above 1, else 'no resolved difference'."]
    if sav:
        tally = pd.Series([p.verdict for p in sav.values()]).value_counts()
        lines.append("Verdicts: " + ", ".join(f"{tally.get(v, 0)} {v}" for v in
                                              ("saves data", "costs data",
                                               "no resolved difference"))
                     + (f", {tally['no interval']} no interval" if "no interval" in tally
                        else "") + ".")
    if bounded:
        who: dict[str, int] = {}
        for r in bounded:
            for w in sav[r].bound_text().split("; "):
                who[w] = who.get(w, 0) + 1
        lines.append("‡ a law behind the number has a parameter at a bound of the search (the "
                     "data do not pin it down; see the L(N, D) page): "
                     + "; ".join(f"{w} for {k} recipe{'s' if k > 1 else ''}"
                                 for w, k in who.items()) + ".")
    shown = [r for r in others if r in sav]
    if len(shown) > 4:  # a big grid: the lowest ratio; a small one: every recipe's answer
        shown = shown[:1]
        lines.append("Lowest savings ratio:")
    lines += [f"• {sav[r].sentence()}." for r in shown]
    lines += [f"• {x}" for x in notes + ctx.fit_errors]
    style.text_block(fig, 0.03, bottom - 0.06, lines, width=170, size=8,
                     max_lines=int((bottom - 0.08) / 0.018))
    return [fig]


# --------------------------------------------------------------------------- 2 loss curves


def _main_curves(ctx: ReportContext) -> pd.DataFrame:
    m = ctx.metrics
    vl = m[(m["kind"] == "val_loss") & (m["name"] == ctx.domain) & (m["tokens"] > 0)]
    if "branch" in vl.columns:
        vl = vl[vl["branch"].isna()]
    from ..predict.grid import canonical

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
                    y = law.predict(np.full_like(d, n), d) if law.form == "chinchilla" else \
                        law.predict(d)
                    if law.form == "power" and not np.isclose(n, ctx.fits[r].size or n):
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


# --------------------------------------------------------------------------- 3 L(N, D) fit


def law_fit_page(ctx: ReportContext) -> list:
    """The baseline's L(N, D) fit with residuals, and every recipe's parameter table."""
    ctx.need_grid()
    laws = ctx.laws
    b = ctx.baseline if ctx.baseline in laws else next(iter(laws))
    law = laws[b]
    if law.form != "chinchilla":
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
        rho = float(lw.correlation.loc["alpha", "beta"]) if lw.form == "chinchilla" else None
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


# --------------------------------------------------------------------------- 4 grokking


def _skill_order(ctx: ReportContext) -> list[str]:
    e = ctx.emergence
    b = e[e["recipe"] == ctx.baseline].set_index("skill")["midpoint"]
    skills = sorted(e["skill"].unique())
    return sorted(skills, key=lambda k: (np.nan_to_num(b.get(k, np.nan), nan=np.inf),
                                         e.loc[e["skill"] == k, "midpoint"].min(), k))


def _shown_recipes(ctx: ReportContext, k: int = 5) -> list[str]:
    """The baseline and the ``k`` recipes that grok earliest on average (log midpoints)."""
    e = ctx.emergence
    mean = e.assign(lm=np.log(e["midpoint"])).groupby("recipe")["lm"].mean()
    others = [r for r in mean.sort_values().index if r != ctx.baseline][:k]
    return ([ctx.baseline] if ctx.baseline in set(e["recipe"]) else []) + others


def grok_pages(ctx: ReportContext) -> list:
    """Per-skill accuracy curves with their sigmoid fits (largest size with probes)."""
    t, res = ctx.skill_table, ctx.grok
    skills = _skill_order(ctx)
    shown = _shown_recipes(ctx)
    colors = _colors(ctx)
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


def emergence_page(ctx: ReportContext) -> list:
    """One row per skill, a dot per recipe at its grokking time (left = earlier)."""
    e, t = ctx.emergence, ctx.skill_table
    skills = _skill_order(ctx)
    recipes = [r for r in ctx.recipes if r in set(e["recipe"])]
    colors, markers = _colors(ctx), style.recipe_markers(ctx.recipes, ctx.baseline)
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


# --------------------------------------------------------------------------- 5 aggregation


def aggregation_page(ctx: ReportContext) -> list:
    """Skill curves → loss power law: the loss fitted both ways, both exponents."""
    a = ctx.aggregate
    res = a["result"]
    fig = new_page("Aggregation: skill curves → loss power law",
                   f"baseline {a['recipe']} at {format_count(a['size'])} params (run "
                   f"{a['run']}): its loss curve fitted as E + B·D^-β and as floor + "
                   "Σ w_k (1 − acc_k(D))")
    loss = a["loss"]
    D = loss["tokens"].to_numpy(float)
    ax = fig.add_axes([0.06, 0.12, 0.40, 0.72])
    ax.plot(D, loss["value"], "o", color="black", ms=4, label="measured loss")
    dd = np.geomspace(D.min(), D.max(), 100)
    beta_p, beta_s = _aggregate_exponents(res)
    ax.plot(dd, res.predict(dd, model="power"), "-", color="tab:blue",
            label=f"power law: {beta_p} (R² {res.r2_power:.3f})")
    lo, hi = res.predict_interval(dd)
    ax.fill_between(dd, lo, hi, color="tab:blue", alpha=0.15, lw=0)
    ax.plot(dd, res.predict(dd, model="skills"), "--", color="tab:red",
            label=f"skill sum: {beta_s} (R² {res.r2_skills:.3f})")
    ax.set_xscale("log")
    style.log_ticks(ax)
    ax.set_xlabel("tokens D")
    ax.set_ylabel(f"val loss ({ctx.domain})")
    ax.legend(frameon=False, fontsize=7.5)
    ax.set_title("loss curve, both fits", fontsize=8.5, loc="left")
    sk = res.skills
    ax2 = fig.add_axes([0.55, 0.52, 0.42, 0.32])
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
    ax2.legend(fontsize=6.5, frameon=False, ncol=2, loc="upper left")
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
    return [fig]


def _aggregate_exponents(res) -> tuple[str, str]:
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


# --------------------------------------------------------------------------- 6 savings vs N


def savings_size_page(ctx: ReportContext) -> list:
    """Savings ratio vs model size, the grid's range and the extrapolation to the target."""
    df = ctx.savings_by_size
    recipes = [r for r in ctx.recipes if r in set(df["recipe"])]
    colors = _colors(ctx)
    from ..predict.result import verdict

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


# --------------------------------------------------------------------------- 7 midtraining


def midtraining_page(ctx: ReportContext) -> list:
    """Savings over the midtraining (start × weight) design, at the target and in the grid."""
    from ..predict.result import verdict
    from ..recipe import parse_recipe

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


# --------------------------------------------------------------------------- 8 backtest


def backtest_page(ctx: ReportContext) -> list:
    """Held-out largest size: predicted vs observed losses and savings, with coverage."""
    bt = ctx.backtest
    colors = _colors(ctx)
    fig = new_page("Backtest: predict the largest size from the others",
                   f"held out: every run at {format_count(bt.held_out_size)} params; laws "
                   f"fitted to the smaller sizes; {int(bt.level * 100)}% intervals")
    loss = [c for c in bt.cases if c["kind"] == "loss"]
    sav = [c for c in bt.cases if c["kind"] == "savings"]
    ax = fig.add_axes([0.07, 0.30, 0.40, 0.55])
    for c in loss:
        lo, hi = c["interval"]
        col = colors.get(c["recipe"], "0.4")
        ax.plot([c["observed"]] * 2, [lo, hi], color=col, lw=0.8, alpha=0.6)
        ax.plot([c["observed"]], [c["predicted"]], "o" if c["covered"] else "x", color=col,
                ms=4)
    if loss:
        # the limits hold every point and every interval (nothing is cut at the axes)
        v = np.array([x for c in loss for x in (c["observed"], c["predicted"], *c["interval"])])
        v = v[np.isfinite(v)]
        pad = 0.03 * (v.max() - v.min())
        lim = [v.min() - pad, v.max() + pad]
        ax.plot(lim, lim, color="0.4", lw=0.8, ls="--")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
    ax.set_xlabel("observed loss (held-out runs)")
    ax.set_ylabel("predicted loss")
    ax.set_title(f"loss: {len(loss)} end points, mean rel. error {bt.loss_rel_error:.2%}, "
                 f"coverage {bt.coverage_loss:.0%}", fontsize=8.5, loc="left")
    ax2 = fig.add_axes([0.56, 0.30, 0.40, 0.55])
    if sav:
        v = np.array([x for c in sav for x in (c["truth"], c["predicted"], *c["interval"])])
        v = v[np.isfinite(v) & (v > 0)]
        lim = [v.min() / 1.15, v.max() * 1.15]
        for c in sav:
            lo, hi = c["interval"]
            col = colors.get(c["recipe"], "0.4")
            if np.isfinite(hi):
                ax2.plot([c["truth"]] * 2, [lo, hi], color=col, lw=1, alpha=0.7)
            else:  # unbounded above: an arrow to the top edge
                ax2.annotate("", xy=(c["truth"], 1.0), xycoords=("data", "axes fraction"),
                             xytext=(c["truth"], lo),
                             arrowprops=dict(arrowstyle="->", color=col, lw=1, alpha=0.7))
            ax2.plot([c["truth"]], [c["predicted"]], "o" if c["covered"] else "x", color=col,
                     ms=5)
        ax2.plot(lim, lim, color="0.4", lw=0.8, ls="--")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlim(lim)
        ax2.set_ylim(lim)
        style.ratio_ticks(ax2, *lim, axis="x")
        style.ratio_ticks(ax2, *lim, axis="y")
        ax2.set_title(f"savings: {len(sav)} recipes, mean abs. error "
                      f"{bt.savings_abs_error:.3g}, coverage {bt.coverage_savings:.0%}",
                      fontsize=8.5, loc="left")
    else:
        ax2.axis("off")
        ax2.text(0.0, 0.9, "no savings cases:\n" + "\n".join(style.wrap(w, 60) for w in
                                                              bt.warnings[:4]),
                 fontsize=8, va="top", transform=ax2.transAxes)
    # legend: what the marks mean, then one colour per recipe
    keys = [plt.Line2D([], [], color="0.3", marker="o", ls="none", ms=5),
            plt.Line2D([], [], color="0.3", marker="x", ls="none", ms=5),
            plt.Line2D([], [], color="0.3", lw=1),
            plt.Line2D([], [], color="0.4", lw=0.8, ls="--")]
    labels = ["prediction inside its interval", "outside its interval",
              f"{int(bt.level * 100)}% interval", "perfect prediction"]
    shown = [r for r in ctx.recipes if any(c["recipe"] == r for c in bt.cases)]
    keys += [plt.Line2D([], [], color=colors.get(r, "0.4"), marker="o", ls="none", ms=5)
             for r in shown]
    labels += [style.short(r, 40) + (" (baseline)" if r == ctx.baseline else "")
               for r in shown]
    fig.legend(keys, labels, loc="upper left", bbox_to_anchor=(0.06, 0.225), ncol=4,
               fontsize=7, frameon=False, handletextpad=0.4, columnspacing=1.2)
    ax2.set_xlabel("true savings (held-out runs)")
    ax2.set_ylabel("predicted savings")
    lines = [f"Overall coverage of the {int(bt.level * 100)}% intervals: {bt.coverage:.0%} "
             f"of {len(bt.cases)} cases (dots inside, × outside their interval)."]
    b = bt.bias()
    if b["loss"] is not None and b["savings"] is not None:
        lines.append(f"Direction: losses predicted {b['loss']:+.1%} on average; savings "
                     f"{b['savings']:+.3g} on average, {b['savings_above']} of "
                     f"{b['n_savings']} above their truth.")
    lines += [f"• {w}" for w in bt.warnings]
    style.text_block(fig, 0.07, 0.085, lines, width=170, size=7.5, max_lines=4)
    return [fig]


# --------------------------------------------------------------------------- 9 provenance


def provenance_pages(ctx: ReportContext, extra: dict | None = None) -> list:
    """Versions, seeds, config hashes, methods, and what was held out."""
    import hashlib
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def ver(pkg):
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "not installed"

    pk = ["scaling", "numpy", "scipy", "pandas", "lmfit", "matplotlib", "torch"]
    runs = ctx.runs
    ids = sorted(runs["run_id"].dropna().astype(str)) if len(runs) else []
    fp = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    seeds = sorted({int(s) for s in runs["seed"].dropna()}) if len(runs) else []
    lines = [
        "Versions: python " + platform.python_version() + "; "
        + "; ".join(f"{p} {ver(p)}" for p in pk),
        f"Store: {ctx.path}  ·  {len(ids)} run directories  ·  fingerprint of the sorted run "
        f"ids (config hashes) {fp}",
        f"Training seeds in the grid: {', '.join(map(str, seeds)) or 'none'}  ·  bootstrap "
        f"seed {ctx.seed}, {ctx.bootstrap} resamples per law, intervals at "
        f"{int(ctx.level * 100)}%",
        f"Target domain: {ctx.domain}  ·  baseline: {ctx.baseline}  ·  "
        + (_target_text(ctx) if ctx.size else "no target"),
        "",
        "Methods:",
        "• Loss laws: L(N, D) = E + A/N^α + B/D^β per recipe, fitted in log space with a Huber "
        "loss (δ = 1e-3) from a grid of starts; points = end points of runs and WSD decay "
        "branches; bootstrap over runs (over end points when a recipe has < 8 runs).",
        "• Savings: s = D_r / D_b where L_r(N, D_r) = L_b(N, D_b), by closed-form inversion; "
        "bootstrap samples paired and pushed through the inversion; beyond the grid's sizes "
        "the interval is widened by the drift of a leave-largest-size-out refit.",
        "• Grokking: sigmoid in log-tokens with floor and ceiling per (run, skill) curve; "
        "verdict grokked / not yet / never by BIC against flat and linear fits; grokking "
        "time = midpoint. Emergence and curves use the largest size with probes.",
        "• Aggregation: the baseline's loss curve as a power law and as a non-negative sum of "
        "(1 − accuracy) skill terms with Zipf-form weights over the learning order.",
        "• Backtest (what was held out): "
        + (f"every run at the largest size {format_count(ctx.sizes[-1])}; laws refitted on "
           "the smaller sizes; truths from the held-out runs alone."
           if len(ctx.sizes) >= 3 else "nothing (needs ≥ 3 sizes)."),
    ]
    if extra:
        lines += ["", "Report options: " + ", ".join(f"{k}={v}" for k, v in extra.items())]
    fig = new_page("Methods and provenance")
    used = style.text_block(fig, 0.04, 0.89, lines, width=150, size=8)
    figs = [fig]
    # run table: run id (= config hash), recipe, size, seed, status
    if len(runs):
        t = runs.assign(n=pd.to_numeric(runs["n_params"], errors="coerce")).sort_values(
            ["recipe", "n", "seed", "run_id"], na_position="last")
        rows = [f"{str(r.run_id)[:10]:<11}{format_count(r.n) if r.n == r.n else '?':>7} "
                f"s{'' if r.seed != r.seed else int(r.seed)}  {str(r.status)[:4]:<5}"
                f"{style.short(str(r.recipe), 44)}" for r in t.itertuples()]
        y0 = 0.89 - used * 0.0185 - 0.05
        per_col = max(int((y0 - 0.04) / 0.0135), 5)
        cols, x = 2, [0.04, 0.52]
        fig.text(0.04, y0 + 0.02, "Runs: config hash (run id), size, seed, status, recipe",
                 fontsize=8.5, weight="bold")
        first = rows[:per_col * cols]
        for c in range(cols):
            chunk = first[c * per_col:(c + 1) * per_col]
            if chunk:
                fig.text(x[c], y0, "\n".join(chunk), fontsize=6.5, family="monospace",
                         va="top", linespacing=1.25)
        rest = rows[per_col * cols:]
        # at most 2 × 62 rows a page, spread evenly over the pages (no last page of 20 rows)
        n_pages = int(np.ceil(len(rest) / (2 * 62)))
        per_page = int(np.ceil(len(rest) / n_pages)) if n_pages else 1
        col = int(np.ceil(per_page / 2))
        for k in range(0, len(rest), per_page):
            f2 = new_page("Methods and provenance: runs (continued)")
            part = rest[k:k + per_page]
            for c in range(2):
                chunk = part[c * col:(c + 1) * col]
                if chunk:
                    f2.text(x[c], 0.89, "\n".join(chunk), fontsize=6.5, family="monospace",
                            va="top", linespacing=1.25)
            figs.append(f2)
    return figs
