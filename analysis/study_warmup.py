"""Study 1 — procedural warm-up and skills: probe accuracies after front-loading.

Source (procedural pretraining, Jiang, Shinnick et al. 2026): Dyck pretraining before prose
lifts needle-in-a-haystack recall from 10% to 98% (and helps other algorithmic probes).

Ours: every run of the reference grid is scored on the probes (``needle``, ``copy``,
``reverse``, ``sort``, ``brackets``, ``add_plain``, ``add_scratchpad``, ``mod_add``;
``probe_n`` items each). For the baseline and each front-loaded recipe (``dyck``,
``shuffle_dyck``, ``stack``, ``set``; continuous, ``reset`` and ``keep=`` protocols) the final
accuracy of the longest runs at each size, pooled over seeds, with a Wilson interval on the
pooled items; and the per-probe grokking speed-up over the baseline
(:func:`scaling.predict.skills.skill_speedups`: ratio of sigmoid midpoints) where both grok.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scaling.predict.skills import skill_speedups
from scaling.units import format_count

from .common import (
    BASELINE,
    LEVEL,
    Context,
    errbars,
    final_records,
    fmt_interval,
    pooled_accuracy,
)
from .study_frontload import front_recipes

#: The paper's needle recall, baseline → Dyck-warmed.
PAPER_NEEDLE = (0.10, 0.98)


def probe_table(ctx: Context, recipes: list[str]) -> pd.DataFrame:
    """Pooled final accuracies (recipe, n_params, probe) of each recipe's longest runs."""
    fin = final_records(ctx.metrics(), "skill")
    fin = fin[fin["recipe"].isin(recipes)]
    if fin.empty:
        return pd.DataFrame(columns=["recipe", "n_params", "probe", "accuracy", "lower",
                                     "upper", "runs", "items"])
    top = fin.groupby(["recipe", "n_params"])["run_tokens"].transform("max")
    fin = fin[fin["run_tokens"] >= 0.99 * top]
    return pooled_accuracy(fin, ctx.probe_n, LEVEL)


def run(ctx: Context) -> dict:
    grid = ctx.grid("prose")
    recipes = [BASELINE] + front_recipes(grid)
    tab = probe_table(ctx, recipes)
    sizes = sorted(tab["n_params"].unique()) if len(tab) else []
    # the largest size at which the baseline and most front-loaded recipes have probes
    cover = tab.groupby("n_params")["recipe"].nunique() if len(tab) else pd.Series(dtype=int)
    size = float(cover[cover == cover.max()].index.max()) if len(cover) else None
    speed = {}
    for r in recipes[1:]:
        entries, notes = skill_speedups(grid, r, BASELINE, LEVEL)
        speed[r] = {"entries": entries, "notes": notes}
    grokked = {r: [e["skill"] for e in v["entries"] if e.get("speedup") is not None]
               for r, v in speed.items()}
    at = tab[tab["n_params"] == size] if size is not None else tab
    needle = {r: g.iloc[0].to_dict() for r, g in at[at["probe"] == "needle"].groupby("recipe")}
    res = {"study": 1, "name": "procedural warm-up and skills", "size": size,
           "sizes": [float(s) for s in sizes], "paper_needle": list(PAPER_NEEDLE),
           "needle_at_size": needle, "probes": tab.to_dict("records"),
           "speedups": speed, "grokked_pairs": grokked, "command": ctx.cmd(1),
           "max_accuracy": float(tab["accuracy"].max()) if len(tab) else None}
    res["figures"] = {"probes": _figure(ctx, at, size)} if len(at) else {}
    return res


def _figure(ctx: Context, at: pd.DataFrame, size) -> str:
    import matplotlib.pyplot as plt

    probes = sorted(at["probe"].unique())
    recipes = list(dict.fromkeys([BASELINE] + sorted(at["recipe"].unique())))
    fig, ax = plt.subplots(figsize=(11, 3.6))
    w = 0.8 / max(len(recipes), 1)
    cmap = plt.get_cmap("tab20")
    for i, r in enumerate(recipes):
        g = at[at["recipe"] == r].set_index("probe").reindex(probes)
        x = np.arange(len(probes)) + i * w
        acc = g["accuracy"].to_numpy(float)
        ax.bar(x, acc, w, color="k" if r == BASELINE else cmap(i % 20),
               label=r if r == BASELINE else r.split(";", 1)[1])
        ax.errorbar(x, acc, yerr=errbars(acc, g["lower"], g["upper"]), fmt="none", ecolor="0.4",
                    lw=0.7)
    ax.set_xticks(np.arange(len(probes)) + 0.4 - w / 2, probes)
    ax.set_ylabel("final probe accuracy (Wilson 90%)")
    ax.set_ylim(0, 1)
    ax.set_title(f"probe accuracy at the end of the longest runs, N = "
                 f"{format_count(size) if size else '?'}")
    ax.legend(fontsize=6, ncol=4)
    return ctx.figure(fig, "study1_probes")


def markdown(res: dict) -> str:
    lines = ["## 1. Procedural warm-up and skills\n",
             f"Source: needle-in-a-haystack recall {PAPER_NEEDLE[0]:.0%} → {PAPER_NEEDLE[1]:.0%} "
             "with Dyck pretraining. Ours: final probe accuracy of the longest runs (1M tokens), "
             "pooled over seeds, Wilson 90% intervals on the pooled items, at N = "
             f"{format_count(res['size']) if res['size'] else 'n/a'}. Command: "
             f"`{res['command']}`.\n"]
    if not res["probes"]:
        lines.append("No probe records in the store.\n")
        return "\n".join(lines)
    lines.append("| recipe | needle accuracy |\n|---|---|")
    for r, e in res["needle_at_size"].items():
        lines.append(f"| `{r}` | {fmt_interval(e['accuracy'], e['lower'], e['upper'])} "
                     f"({int(e['items'])} items) |")
    tab = pd.DataFrame(res["probes"])
    tab = tab[tab["probe"] == "needle"]
    if len(tab):
        sizes = sorted(tab["n_params"].unique())
        lines.append("\nNeedle accuracy at every size (Wilson 90%):\n\n| recipe | "
                     + " | ".join(format_count(n) for n in sizes) + " |\n"
                     + "|---" * (len(sizes) + 1) + "|")
        for r, g in tab.groupby("recipe"):
            g = g.set_index("n_params")
            lines.append(f"| `{r}` | " + " | ".join(
                fmt_interval(g.loc[n, "accuracy"], g.loc[n, "lower"], g.loc[n, "upper"])
                if n in g.index else "n/a" for n in sizes) + " |")
    mx = res["max_accuracy"]
    lines.append(f"\nHighest final accuracy of any probe, recipe and size: {mx:.3g}. "
                 "Probes grokked by both a front-loaded recipe and the baseline (a speed-up "
                 "exists): " + (", ".join(f"`{r}`: {', '.join(v)}" for r, v in
                                         res["grokked_pairs"].items() if v) or "none") + ".\n")
    sp = [(r, e) for r, v in res["speedups"].items() for e in v["entries"]
          if e.get("speedup") is not None]
    if sp:
        lines.append("| recipe | probe | speed-up (baseline midpoint / recipe midpoint) |\n"
                     "|---|---|---|")
        for r, e in sp:
            lines.append(f"| `{r}` | {e['skill']} | {fmt_interval(e['speedup'], *e['interval'])}"
                         " |")
        lines.append("")
    for f in res.get("figures", {}).values():
        lines.append(f"![study 1]({f})\n")
    return "\n".join(lines)
