"""Page 1, the summary: runs per recipe × size and the headline savings with intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...units import format_count
from .. import style
from ..context import Missing, ReportContext
from ..style import new_page
from .common import recipe_colors, skill_panels, target_text


def summary_page(ctx: ReportContext) -> list:
    """Grid (runs per recipe × size) and the headline savings with intervals."""
    grids = sorted(ctx.runs["grid"].dropna().astype(str).unique()) if len(ctx.runs) else []
    counts = ctx.runs["status"].value_counts().to_dict() if len(ctx.runs) else {}
    status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no runs"
    fig = new_page("scaling report: summary",
                   f"runs: {ctx.path}  ·  grid {', '.join(grids) or '?'}  ·  {status}")
    notes = list(ctx.problems)
    try:
        sav = ctx.savings
    except Missing as e:
        sav = {}
        if ctx.grid is not None:
            notes.append(f"no headline savings: {e}")
    if not sav and _skill_arms(ctx) is not None:
        # no recipe to compare with a baseline, but skill experiments: say what they are
        return [_skills_summary(fig, ctx, notes)]
    if ctx.grid is None:
        style.text_block(fig, 0.05, 0.85, ["Nothing to fit yet:"] + [f"• {p}" for p in notes],
                         width=120, size=11)
        return [fig]
    # rows: baseline first, then recipes by savings (best first)
    others = sorted([r for r in ctx.recipes if r != ctx.baseline],
                    key=lambda r: (sav[r].savings_ratio if r in sav else np.inf, r))
    rows = ([ctx.baseline] if ctx.baseline in ctx.recipes else []) + others
    n = len(rows)
    # the table and forest plot take at least 40% of the page height (a small grid spreads its
    # few rows rather than leave the page empty), and at most what leaves room for the notes
    top = 0.86
    bottom = max(0.20, min(0.46, top - 0.034 * (n + 1)))
    ax_t = fig.add_axes([0.03, bottom, 0.56, top - bottom])
    ax_s = fig.add_axes([0.62, bottom, 0.35, top - bottom], sharey=ax_t)
    fs = 9.0 if n <= 6 else 7.5
    x_s = _runs_table(ax_t, ctx, rows, fs)
    bounded = [r for r in rows if r in sav and sav[r].at_bound]
    _savings_forest(ax_s, ax_t, ctx, rows, sav, bounded, x_s, fs)
    lines = _summary_notes(ctx, sav, others, bounded, notes)
    style.text_block(fig, 0.03, bottom - 0.06, lines, width=170, size=8,
                     max_lines=int((bottom - 0.08) / 0.018))
    return [fig]


def _runs_table(ax_t, ctx: ReportContext, rows: list[str], fs: float) -> float:
    """Runs and end points per recipe × size, one row per recipe; returns the x where the
    savings column starts."""
    sizes, pts, n = ctx.sizes, ctx.grid.points, len(rows)
    ax_t.axis("off")
    ax_t.set_ylim(n - 0.5, -1.2)
    col_x = [0.0] + [0.44 + 0.07 * i for i in range(len(sizes))]
    ax_t.text(0.0, -1, "recipe", weight="bold", fontsize=8, va="center")
    for i, s in enumerate(sizes):
        ax_t.text(col_x[i + 1], -1, format_count(s), weight="bold", fontsize=8, va="center",
                  ha="center")
    for j, r in enumerate(rows):
        p = pts[pts["recipe"] == r]
        ax_t.text(0.0, j, style.wrap_recipe(r + ("  (baseline)" if r == ctx.baseline else ""),
                                            44), fontsize=fs, va="center", linespacing=1.1,
                  color=recipe_colors(ctx)[r] if r == ctx.baseline else "0.1")
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
    return x_s


def _savings_forest(ax_s, ax_t, ctx: ReportContext, rows: list[str], sav: dict,
                    bounded: list[str], x_s: float, fs: float) -> None:
    """The forest plot of the headline savings, and each row's ratio, interval and verdict
    in the table's last column."""
    ax_s.axvline(1.0, color="0.4", lw=0.8, ls="--")
    short_verdict = {"saves data": "saves", "costs data": "costs",
                     "no resolved difference": "unresolved", "no interval": "no interval"}
    for j, r in enumerate(rows):
        if r not in sav:
            continue
        p = sav[r]
        lo, hi = p.interval
        c = recipe_colors(ctx)[r]
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


def _summary_notes(ctx: ReportContext, sav: dict, others: list[str], bounded: list[str],
                   notes: list[str]) -> list[str]:
    """The lines under the table: how to read it, the verdicts' tally, the laws at a bound,
    the headline sentences and the problems."""
    lines = [target_text(ctx) + ". Hollow dots: extrapolated beyond the grid's sizes "
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
    return lines


def _skill_arms(ctx: ReportContext) -> pd.DataFrame | None:
    """One row per arm (recipe × shape) of the skill pages: runs, tokens, skills and how its
    exact-match curves and skills were judged; None without skill records."""
    try:
        t, cur, e = ctx.skill_table, ctx.grok.curves, ctx.emergence
    except Missing:
        return None
    rows = []
    for (r, n), g in t.groupby(["recipe", "params"], sort=False):
        c = cur[(cur["recipe"] == r) & (cur["params"] == n)]
        st = c["status"].value_counts()
        a = e[(e["recipe"] == r) & (e["params"] == n)]
        rows.append({"recipe": r, "shape": g["shape"].iloc[0], "params": float(n),
                     "runs": g["run"].nunique(), "tokens": float((g["tokens"] + g["start"])
                                                                 .max()),
                     "task": float(g["tokens"].max()), "skills": a["skill"].nunique(),
                     "grokked": int((a["status"] == "grokked").sum()),
                     "curves": f"{st.get('grokked', 0)} / {st.get('not_yet', 0)} / "
                               f"{st.get('never', 0)}"})
    # in the order the skill pages draw them
    first: dict[tuple, int] = {}
    for i, (k, n) in enumerate(skill_panels(ctx)):
        for r in e.loc[(e["skill"] == k) & (e["params"] == n), "recipe"]:
            first.setdefault((r, n), i)
    out = pd.DataFrame(rows)
    pos = [first.get((r, n), len(first)) for r, n in zip(out["recipe"], out["params"],
                                                         strict=True)]
    return out.assign(pos=pos).sort_values(["pos", "recipe"]).drop(columns="pos")


def _skills_summary(fig, ctx: ReportContext, notes: list[str]):
    """The summary of a store without a law comparison: its skill experiments, one row per
    recipe × shape, and what the skill pages found."""
    arms = _skill_arms(ctx)
    colors = style.recipe_colors(ctx.skill_recipes, ctx.baseline)
    e = ctx.emergence
    head = (f"No recipe here is compared with a baseline on a loss law (see the notes below); "
            f"the store holds skill experiments: {len(arms)} recipe × shape arms, "
            f"{int(arms['runs'].sum())} completed runs, {e['skill'].nunique()} skills. The "
            f"skill pages fit every exact-match curve (grokked / not yet / never, by BIC) and "
            f"say when each arm groks each skill ({int((e['status'] == 'grokked').sum())} of "
            f"{len(e)} arm × skill pairs grok: most of their seeds do).")
    style.text_block(fig, 0.03, 0.88, [head], width=175, size=8.5)
    rows, cols = [], []
    for a in arms.itertuples():
        rows.append([style.wrap_recipe(a.recipe, 60), a.shape, format_count(a.params), str(a.runs),
                     format_count(a.tokens) + ("" if a.task == a.tokens else
                                               f" ({format_count(a.task)} task)"),
                     f"{a.grokked} of {a.skills}", a.curves])
        cols.append([style.darker(colors.get(a.recipe, "0.1"), 0.25)] + [None] * 6)
    bottom = style.text_table(fig, 0.03, 0.80, 0.94,
                              ["recipe", "shape", "params", "runs", "tokens",
                               "skills grokked", "curves grokked / not yet / never"],
                              rows, cols, size=8.0)
    lines = ["Tokens: a run's own count; a task trained after a warm-up is judged on its task "
             "tokens (in brackets). A skill is grokked by an arm when most of its seeds' "
             "curves grok."] + [f"• {x}" for x in notes]
    style.text_block(fig, 0.03, bottom - 0.03, lines, width=170, size=8,
                     max_lines=max(int((bottom - 0.06) / 0.018), 3))
    return fig
