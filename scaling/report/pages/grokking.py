"""Page 4, per-skill grokking curves: accuracy with the sigmoid fits and each verdict."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page, plt
from .common import panel_title, skill_colors, skill_panels

#: Panels per page (columns × rows) and recipes drawn per panel.
NCOL, NROW, SHOWN = 4, 3, 6
VERDICT = {"grokked": "grokked", "not_yet": "not yet", "never": "never"}


def _shown_recipes(ctx: ReportContext, recipes: list[str], k: int = SHOWN - 1) -> list[str]:
    """All of a panel's recipes, or, beyond ``k + 1``, the baseline and the ``k`` recipes that
    grok earliest on average: the mean over skills of each skill's mean ln-midpoint of the
    recipe's grokked curves (any seed that groks counts here: it ranks, it is no verdict)."""
    if len(recipes) <= k + 1:
        return [r for r in ctx.skill_recipes if r in recipes]
    c = ctx.grok.curves
    c = c[c["grokked"] & c["recipe"].isin(recipes)]
    lm = c.assign(lm=np.log(c["midpoint"])).groupby(["recipe", "skill"])["lm"].mean()
    mean = lm.groupby("recipe").mean().reindex(sorted(recipes))
    others = [r for r in mean.sort_values().index if r != ctx.baseline][:k]
    return ([ctx.baseline] if ctx.baseline in recipes else []) + others


def verdict_text(statuses) -> str:
    """``3/3 grokked`` or ``1/3 grokked · 2 never``: the verdicts of one recipe's curves."""
    st = list(statuses)
    parts = [f"{st.count('grokked')}/{len(st)} grokked"] + [
        f"{st.count(s)} {VERDICT[s]}" for s in ("not_yet", "never") if st.count(s)]
    return " · ".join(parts)


def recipe_labels(recipes: list[str], width: int = 22) -> dict[str, str]:
    """Short names of a panel's recipes for its verdict lines: what sets each apart from the
    others — a recipe that extends another shown one (``prose=1;front=dyck:0.01`` after
    ``prose=1``) by its extension, and of several such extensions what they do not share at
    the end (``front=dyck`` of ``front=dyck:0.25:reset:emb=mean``) — cut to ``width``;
    nothing for a panel of one recipe (the legend names it)."""
    if len(recipes) < 2:
        return {r: "" for r in recipes}
    import os

    rest = {}
    for r in recipes:
        base = max((b for b in recipes if b != r and r.startswith(b + ";")), key=len,
                   default=None)
        rest[r] = r[len(base) + 1:] if base else None
    tails = [x for x in rest.values() if x]
    if len(tails) > 1:  # and what they share at the end, from a separator on
        shared = os.path.commonprefix([x[::-1] for x in tails])[::-1]
        cut = next((i for i, ch in enumerate(shared) if ch in ";,:"), None)
        if cut is not None and all(len(x) > len(shared) - cut for x in tails):
            n = len(shared) - cut
            rest = {r: x[:-n] if x else x for r, x in rest.items()}
    return {r: style.short(x or r, width) + ": " for r, x in rest.items()}


def grok_pages(ctx: ReportContext) -> list:
    """Accuracy curves of every skill and shape (one panel each), one colour per recipe,
    every seed drawn with its sigmoid fit; the verdicts of each recipe's curves in the
    panel's corner."""
    t, res = ctx.skill_table, ctx.grok
    t = t[t["metric"] == "exact_match"]
    panels = skill_panels(ctx)
    colors = skill_colors(ctx)
    curves = res.curves.set_index("curve")
    per_page = NCOL * NROW
    several = ctx.several_shapes
    at = "" if several else f" at {format_count(float(t['params'].iloc[0]))} params"
    clock = " (tokens of the task itself where a warm-up came first)" \
        if (t["start"] > 0).any() else ""
    trimmed = t.groupby(["skill", "params"])["recipe"].nunique().max() > SHOWN
    figs = []
    for p0 in range(0, len(panels), per_page):
        page = panels[p0:p0 + per_page]
        n_pages = -(-len(panels) // per_page)
        fig = new_page("Per-skill grokking curves" + (f" ({p0 // per_page + 1} of {n_pages})"
                                                      if n_pages > 1 else ""),
                       f"exact-match accuracy on held-out items vs tokens{clock}{at}; dots: "
                       "measured (one series per seed), lines: sigmoid-in-log-tokens fits, "
                       "| marks the grokking time (midpoint) of grokked curves; in each panel "
                       "the verdicts of every recipe's curves (grokked / not yet / never, by "
                       "BIC against a flat and a linear curve)"
                       + ("; panels name the model shape (layers×width)" if several else "")
                       + (f"; a panel of more than {SHOWN} recipes shows the baseline and the "
                          f"{SHOWN - 1} that grok earliest" if trimmed else ""))
        top = 0.895 - 0.021 * len(fig.texts[-1].get_text().split("\n"))  # below the subtitle
        nrow = max(2, -(-len(page) // NCOL))
        gs = fig.add_gridspec(nrow, NCOL, left=0.06, right=0.98, top=top, bottom=0.15,
                              hspace=0.5 if nrow > 2 else 0.4, wspace=0.25)
        on_page = []
        for i, (k, n) in enumerate(page):
            ax = fig.add_subplot(gs[i // NCOL, i % NCOL])
            here = t[(t["skill"] == k) & (t["params"] == n)]
            shown = _shown_recipes(ctx, sorted(set(here["recipe"])))
            names = recipe_labels(shown)
            lines = []
            for r in shown:
                c = colors.get(r, "0.5")
                g = here[here["recipe"] == r]
                for cv, h in g.groupby("curve"):
                    h = h[h["tokens"] > 0].sort_values("tokens")
                    ax.plot(h["tokens"], h["value"], "o", ms=2.2, color=c, alpha=0.55)
                    row = curves.loc[cv]
                    if np.isfinite(row["midpoint"]) and len(h):
                        x = np.geomspace(h["tokens"].min(), h["tokens"].max(), 80)
                        ax.plot(x, res.predict(cv, x), "-", color=c, lw=1.1)
                        if row["grokked"]:
                            ax.axvline(row["midpoint"], color=c, lw=0.8, ls=":", ymax=0.12)
                lines.append((names[r] + verdict_text(curves.loc[g["curve"].unique(),
                                                               "status"]), style.darker(c)))
                if r not in on_page:
                    on_page.append(r)
            for j, (txt, c) in enumerate(lines):
                ax.text(0.02, 0.97 - 0.085 * j, txt, transform=ax.transAxes, fontsize=6.5,
                        color=c, va="top", ha="left")
            ax.set_xscale("log")
            style.log_ticks(ax)
            # a skill that stays low is drawn on its own scale (its rise of a few items shows),
            # with room above its points for the verdict lines
            room = 1 - 0.085 * len(lines) - 0.04
            hi = min(1.05, max(0.25, 1.15 * float(here["value"].max()) / room))
            ax.set_ylim(-0.05 * hi, hi)
            ax.set_title(style.short(panel_title(ctx, k, n), 44), fontsize=8.5)
            if i % NCOL == 0:
                ax.set_ylabel("accuracy")
            ax.set_xlabel("tokens")
        on_page = [r for r in ctx.skill_recipes if r in on_page]
        handles = [plt.Line2D([], [], color=colors.get(r, "0.5"), marker="o", lw=1, ms=4)
                   for r in on_page]
        fig.legend(handles, [style.short(r, 60) + (" (baseline)" if r == ctx.baseline else "")
                             for r in on_page], loc="lower center",
                   ncol=min(3, max(len(on_page), 1)), fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 0.005))
        figs.append(fig)
    return figs
