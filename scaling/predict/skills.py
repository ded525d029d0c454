r"""Per-skill view: how much earlier each probe groks under the recipe than under the baseline.

For each probe k, sigmoid-in-log-tokens fits (:func:`scaling.fit.fit_grok`) of the recipe's
and the baseline's accuracy curves at the largest model size where both have skill records
give grokking midpoints; the speed-up is their ratio (:func:`scaling.fit.speedup`)

.. math:: \mathrm{speedup}_k = t_{1/2}^{b}(k) / t_{1/2}^{r}(k),

with an interval from the midpoints' standard errors (and the spread between seeds).
``> 1``: the recipe groks the skill earlier.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScalingError
from ..fit import fit_grok, load_grok_table, speedup
from ..fit.data import skill_table
from ..jsonsafe import finite_or_none as _f
from ..units import format_count
from .points import LawPoints, canonical


def skill_speedups(grid: LawPoints, recipe: str, baseline: str, level: float = 0.9
                   ) -> tuple[list[dict], list[str]]:
    """Per-probe speed-ups of ``recipe`` over ``baseline`` (entries, warnings)."""
    if grid.path is None or recipe == baseline:
        return [], []
    sk = grid.skill_records
    if sk is not None:  # the records load_points already read (same frame as load_grok_table)
        if sk.empty:
            return [], []
        table = skill_table(sk)
    else:
        try:
            table = load_grok_table(grid.path)
        except ScalingError:
            return [], []  # a store without probes: nothing to say
    table = table.assign(recipe=table["recipe"].map(canonical))
    table = table[table["recipe"].isin([recipe, baseline])]
    sizes = grid.points.drop_duplicates("run").set_index("run")["params"]
    table = table.assign(params=table["run"].map(sizes))
    both = [n for n, g in table.groupby("params") if g["recipe"].nunique() == 2]
    if not both:
        return [], []
    n = max(both)
    table = table[table["params"] == n]
    # the longest runs of each recipe at that size hold the whole curve; shorter runs end
    # before late skills emerge and only add poorly determined midpoints
    longest = table.groupby("run")["tokens"].max()
    table = table.assign(run_tokens=table["run"].map(longest))
    top = table.groupby("recipe")["run_tokens"].transform("max")
    table = table[np.isclose(table["run_tokens"], top)]
    try:
        res = fit_grok(table.drop(columns=["params", "run_tokens"]), level=level)
        with np.errstate(over="ignore"):
            sp = speedup(res.select(recipe=baseline), res.select(recipe=recipe), by="skill",
                         level=level)
    except ScalingError as e:
        return [], [f"skill curves could not be compared: {e}"]
    out, notes = [], []
    for r in sp.to_dict("records"):
        ok = np.isfinite(r["speedup"])
        entry = {"skill": r["skill"], "size": float(n),
                 "speedup": float(r["speedup"]) if ok else None,
                 "interval": [float(r["lower"]), float(r["upper"])] if ok else None,
                 "midpoint_recipe": _f(r["midpoint_other"]),
                 "midpoint_baseline": _f(r["midpoint_baseline"])}
        if ok:
            word = "earlier" if r["speedup"] >= 1 else "later"
            factor = r["speedup"] if r["speedup"] >= 1 else 1 / r["speedup"]
            entry["text"] = (f"{r['skill']} emerges {factor:.3g}× {word} "
                             f"[{r['lower']:.3g}, {r['upper']:.3g}] (speed-up; size "
                             f"{format_count(n)})")
        else:
            who = [name for name, m in (("recipe", r["midpoint_other"]),
                                        ("baseline", r["midpoint_baseline"]))
                   if not np.isfinite(m)]
            entry["text"] = (f"{r['skill']}: not grokked by the {' nor the '.join(who)} within "
                             f"the grid (size {format_count(n)}); no speed-up")
        out.append(entry)
    return out, notes


