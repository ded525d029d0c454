"""What every page uses: the recipes' colours, the target sentence, the order of skills."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext


def recipe_colors(ctx: ReportContext):
    return style.recipe_colors(ctx.recipes, ctx.baseline)


def target_text(ctx: ReportContext) -> str:
    return (f"target: {format_count(ctx.size)} non-embedding parameters, baseline budget "
            f"{ctx.tokens_rule}; loss on '{ctx.domain}'; {int(ctx.level * 100)}% intervals")


def skill_order(ctx: ReportContext) -> list[str]:
    e = ctx.emergence
    b = e[e["recipe"] == ctx.baseline].set_index("skill")["midpoint"]
    skills = sorted(e["skill"].unique())
    return sorted(skills, key=lambda k: (np.nan_to_num(b.get(k, np.nan), nan=np.inf),
                                         e.loc[e["skill"] == k, "midpoint"].min(), k))
