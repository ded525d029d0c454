"""What every page uses: the recipes' colours, the target sentence, the order of skills."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext


def recipe_colors(ctx: ReportContext):
    return style.recipe_colors(ctx.recipes, ctx.baseline)


def skill_colors(ctx: ReportContext):
    """Colours of the recipes with skill curves: the grid's colours (:func:`recipe_colors`),
    then the recipes that have no law point (tasks trained alone) after them."""
    return style.recipe_colors(ctx.skill_recipes, ctx.baseline)


def target_text(ctx: ReportContext) -> str:
    return (f"target: {format_count(ctx.size)} non-embedding parameters, baseline budget "
            f"{ctx.tokens_rule}; loss on '{ctx.domain}'; {int(ctx.level * 100)}% intervals")


def skill_panels(ctx: ReportContext) -> list[tuple[str, float]]:
    """The (skill, shape's params) pairs the skill pages draw, in order: panels that compare
    the same recipes together (the baseline's first, then those that compare the most
    recipes, the fewest panels, the earliest grokking), and within them by shape, then by
    the baseline's grokking time, the earliest of any recipe, and name."""
    e = ctx.emergence
    groups: dict[tuple, list] = {}
    for (k, n), g in e.groupby(["skill", "params"]):
        groups.setdefault(tuple(sorted(g["recipe"])), []).append((k, float(n)))

    def first(rows):
        return float(np.nan_to_num(rows["midpoint"].min(), nan=np.inf))

    def panel_key(p):
        k, n = p
        rows = e[(e["skill"] == k) & (e["params"] == n)]
        base = rows.loc[rows["recipe"] == ctx.baseline, "midpoint"]
        b = float(np.nan_to_num(base.iloc[0], nan=np.inf)) if len(base) else np.inf
        return (n, b, first(rows), k)

    def group_key(item):
        recipes, panels = item
        rows = e[e["recipe"].isin(recipes)]
        return (ctx.baseline not in recipes, -len(recipes), len(panels), first(rows), recipes)

    out = []
    for _, panels in sorted(groups.items(), key=group_key):
        out += sorted(panels, key=panel_key)
    return out


def panel_title(ctx: ReportContext, skill: str, params: float) -> str:
    """``needle`` — or ``needle(k=2,key=3) · 2×16`` when the skill pages hold several
    shapes."""
    if not ctx.several_shapes:
        return skill
    t = ctx.skill_table
    shape = t.loc[t["params"] == params, "shape"].iloc[0]
    return f"{skill} · {shape}"
