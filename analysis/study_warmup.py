"""Study 1 — procedural warm-up and skills: needle recall after a warm-up, trained as a task.

Source (procedural pretraining, Jiang, Shinnick et al. 2026): a Dyck warm-up before training
on needle-in-a-haystack lifts held-out recall from 10% to 98% (diagnostic protocol: GPT-2
style, 2 layers, 4 heads, width 16, embeddings reset to their mean at the switch, per-token
teacher-forced accuracy on the answer).

Ours (the skills store, ``runs/skills``, spec ``runs/grids/skills.toml``): needle
``needle(k=2,key=3)`` trained from scratch, and after a 500k-token warm-up on ``dyck``,
``shuffle_dyck``, ``stack`` or ``set`` (two-stage, embeddings reset to their mean), at widths
16 and 32, 3 seeds each, 256 held-out items per evaluation. The task budget is the same for
every recipe (1.5M tokens); the store counts a run's tokens from its first step, so a warm-up
run's task tokens are ``tokens − switch`` (:func:`analysis.common.switch_tokens`), and the
comparison is made at the last evaluation of every run, where the task tokens agree to a step.

- accuracy at that fixed task budget, exact match and per-token, mean over seeds with a 90%
  interval over seeds and items (:func:`analysis.common.seed_item_bootstrap`), and the
  difference warm-up − scratch (independent resamples; a Welch t interval over the seed means
  beside it, since 3 seeds give the bootstrap little spread to see);
- grokking of the task-phase curves (:func:`scaling.fit.fit_grok`, tokens = task tokens,
  resolution = 1/items) and the speed-up of each warm-up over scratch
  (:func:`scaling.fit.speedup`), or a one-sided bound where only one side groks.

The reference grid's zero-shot probes (never trained on) are summarised in one line.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .common import (
    LEVEL,
    Context,
    final_accuracy,
    final_records,
    fmt_interval,
    fmt_speedup,
    grok_compare,
    percentile_interval,
    seed_t_interval,
)

#: The paper's needle recall, no warm-up → Dyck warm-up.
PAPER_NEEDLE = (0.10, 0.98)
SCRATCH = "scratch"
METRICS = {"exact_match": "exact match", "token_accuracy": "per-token"}


def warmup_of(recipe: str) -> str:
    """``dyck`` for ``needle(…)=1;front=dyck:0.25:reset:emb=mean``, ``scratch`` without one."""
    m = re.search(r"front=([a-z_]+)", recipe)
    return m.group(1) if m else SCRATCH


def needle_curves(ctx: Context) -> pd.DataFrame:
    """The task-phase needle curves of the skills store (tokens = task tokens)."""
    c = ctx.skill_curves()
    # runs that train the needle alone (the mixture's needle is another study's)
    alone = c["recipe"].str.fullmatch(r"needle\([^)]*\)=1(;front=.*)?")
    c = c[alone & c["skill"].str.startswith("needle") & (c["task_tokens"] >= 0)]
    return c.assign(warmup=c["recipe"].map(warmup_of))


def reference_line(ctx: Context) -> dict | None:
    """The reference grid's zero-shot probes at the end of every run (never trained on)."""
    try:
        fin = final_records(ctx.metrics(), "skill")
    except Exception:  # noqa: BLE001 — no reference store: nothing to summarise
        return None
    if fin.empty:
        return None
    nd = fin[fin["name"] == "needle"]
    best = fin.loc[fin["value"].idxmax()]
    return {"needle_correct": int(np.round(nd["value"] * ctx.probe_n).sum()),
            "needle_items": int(ctx.probe_n * len(nd)), "runs": int(fin["run_id"].nunique()),
            "best_probe": str(best["name"]), "best_accuracy": float(best["value"])}


def run(ctx: Context) -> dict:
    res = {"study": 1, "name": "procedural warm-up and skills", "command": ctx.cmd(1),
           "paper_needle": list(PAPER_NEEDLE), "reference": reference_line(ctx)}
    c = needle_curves(ctx) if ctx.skills is not None else pd.DataFrame()
    if c.empty:
        res["note"] = f"no needle runs in the skills store {ctx.skills}"
        return res
    res["store"] = str(ctx.skills)
    res["task"] = sorted(c["skill"].str.replace("/token", "").unique())
    tab, boot = final_accuracy(c, ["width", "warmup", "metric"], LEVEL, seed=ctx.seed)
    res["final"] = tab.to_dict("records")
    res["budget"] = {"task_tokens": [float(tab["task_tokens_range"].str[0].min()),
                                     float(tab["task_tokens_range"].str[1].max())],
                     "switch": sorted(float(x) for x in c["switch"].unique())}
    diffs = []
    for r in tab[tab["warmup"] != SCRATCH].itertuples():
        key0 = (r.width, SCRATCH, r.metric)
        if key0 not in boot:
            continue
        d = boot[(r.width, r.warmup, r.metric)] - boot[key0]
        s0 = tab[(tab["width"] == r.width) & (tab["warmup"] == SCRATCH)
                 & (tab["metric"] == r.metric)].iloc[0]
        lo, hi = percentile_interval(d, LEVEL)
        tlo, thi = seed_t_interval(r.values, s0["values"], LEVEL)
        diffs.append({"width": r.width, "warmup": r.warmup, "metric": r.metric,
                      "difference": float(r.accuracy - s0["accuracy"]), "lower": lo,
                      "upper": hi, "t_interval": [tlo, thi],
                      "p_not_above_0": float(np.mean(d <= 0))})
    res["differences"] = diffs
    # grokking on exact match: the per-token curves' first rise (to the ~10% of a guessed
    # character, within the first 100k task tokens) is the answer format, not recall
    e = c[c["metric"] == "exact_match"]
    frame = pd.DataFrame({"curve": e["curve"], "tokens": e["task_tokens"], "value": e["value"],
                          "resolution": e["resolution"], "recipe": e["warmup"],
                          "skill": e["width"].map(lambda w: f"{w:.0f}")})
    res["grok"] = grok_compare(frame, SCRATCH, LEVEL)
    res["figures"] = {"needle": _figure(ctx, c)}
    return res


def _figure(ctx: Context, c: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    widths = sorted(c["width"].unique())
    recipes = [SCRATCH] + sorted(set(c["warmup"]) - {SCRATCH})
    fig, axes = plt.subplots(2, len(widths), figsize=(5 * len(widths), 6.4), squeeze=False,
                             sharex=True)
    for i, (metric, label) in enumerate(METRICS.items()):
        for j, w in enumerate(widths):
            ax = axes[i, j]
            for k, r in enumerate(recipes):
                d = c[(c["width"] == w) & (c["warmup"] == r) & (c["metric"] == metric)
                      & (c["task_tokens"] > 0)]
                col = "k" if r == SCRATCH else f"C{k - 1}"
                for _, s in d.groupby("run"):
                    s = s.sort_values("task_tokens")
                    ax.plot(s["task_tokens"], s["value"], "-", color=col, lw=0.6, alpha=0.35)
                m = d.groupby("task_tokens")["value"].mean()
                ax.plot(m.index, m.to_numpy(float), "o-", ms=2.5, color=col, lw=1.4,
                        label=r if r == SCRATCH else f"after {r}")
            ax.set_xscale("log")
            top = c.loc[c["metric"] == metric, "value"].max()
            ax.set_ylim(-0.01, min(1.0, max(0.2, 1.15 * top)))
            ax.set_title(f"width {w:.0f}: needle {label}", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"held-out {label}")
            if i == 1:
                ax.set_xlabel("task tokens (after the warm-up)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("needle recall trained as a task (thin: seeds, thick: mean over seeds); "
                 f"the paper reaches {PAPER_NEEDLE[1]:.0%} after Dyck", fontsize=9)
    return ctx.figure(fig, "study1_needle")


def _pct(x) -> str:
    return f"{100 * x:.1f}%"


def markdown(res: dict) -> str:
    lines = ["## 1. Procedural warm-up and skills\n",
             f"Source: needle-in-a-haystack recall {PAPER_NEEDLE[0]:.0%} → "
             f"{PAPER_NEEDLE[1]:.0%} after Dyck pretraining, on a task trained after the "
             f"warm-up. Command: `{res['command']}`.\n"]
    ref = res.get("reference")
    if ref:
        lines.append(f"On `runs/reference` the probes were only asked zero-shot of prose models "
                     f"and never learned: needle {ref['needle_correct']} of "
                     f"{ref['needle_items']} items over {ref['runs']} runs; the best final "
                     f"probe score anywhere {ref['best_accuracy']:.3g} (`{ref['best_probe']}`). "
                     "Everything below is the skills store, where the task is trained.\n")
    if "final" not in res:
        lines.append(res.get("note", "no skills runs") + "\n")
        return "\n".join(lines)
    b = res["budget"]
    lines.append(
        f"Task `{', '.join(res['task'])}` (2 key→value pairs, 3-character values) trained "
        f"from scratch or after a {b['switch'][-1]:,.0f}-token warm-up (two-stage, embeddings "
        f"reset to their mean); accuracy at the last evaluation, after "
        f"{b['task_tokens'][0]:,.0f}–{b['task_tokens'][1]:,.0f} task tokens for every recipe "
        "(the warm-up's tokens not counted). Mean over 3 seeds; 90% interval over seeds and "
        "items (seeds resampled, each seed's accuracy drawn from the Jeffreys posterior of "
        "its 256 items; per-token accuracy counted per item). Δ = warm-up − scratch: "
        "bootstrap interval, then a Welch t interval over the seed means (2–4 degrees of "
        "freedom: the bootstrap cannot see more seed spread than 3 seeds show).\n")
    fin = pd.DataFrame(res["final"])
    dif = {(d["width"], d["warmup"], d["metric"]): d for d in res["differences"]}
    lines.append("| width | recipe | exact match | Δ exact [bootstrap] [t] | per-token | "
                 "Δ per-token [bootstrap] [t] |\n|---|---|---|---|---|---|")
    for (w, r), g in fin.groupby(["width", "warmup"], sort=False):
        g = g.set_index("metric")
        cells = []
        for m in METRICS:
            if m not in g.index:
                cells += ["n/a", ""]
                continue
            e = g.loc[m]
            cells.append(fmt_interval(e["accuracy"], e["lower"], e["upper"]))
            d = dif.get((w, r, m))
            cells.append("" if d is None else
                         f"{d['difference']:+.3f} [{d['lower']:+.3f}, {d['upper']:+.3f}] "
                         f"[{d['t_interval'][0]:+.3f}, {d['t_interval'][1]:+.3f}]")
        lines.append(f"| {w:.0f} | {r} | " + " | ".join(cells) + " |")
    ex = [d for d in res["differences"] if d["metric"] == "exact_match"]
    up = [d for d in ex if d["lower"] > 0]
    both = [d for d in up if d["t_interval"][0] > 0]
    tk = [d for d in res["differences"] if d["metric"] == "token_accuracy"]
    tup = [d for d in tk if d["lower"] > 0]
    down = [d for d in res["differences"] if d["upper"] < 0]
    best = fin[fin["metric"] == "exact_match"]["accuracy"].max()
    bestt = fin[fin["metric"] == "token_accuracy"]["accuracy"].max()
    lines.append(
        f"\nVerdict: the paper's direction (warm-up above scratch, bootstrap interval excluding "
        f"0) on exact match for {len(up)} of {len(ex)} warm-up × width cells"
        + (" (" + ", ".join(f"{d['warmup']} at width {d['width']:.0f}" for d in up) + ")"
           if up else "")
        + f"; {len(both)} of them also under the t interval. Per-token: {len(tup)} of "
        f"{len(tk)}"
        + (" (" + ", ".join(f"{d['warmup']} at width {d['width']:.0f}" for d in tup) + ")"
           if tup else "")
        + f". Intervals below 0 (a warm-up that hurts): {len(down)}. "
        "The highest mean exact match of "
        f"any recipe is {_pct(best)} and the highest per-token accuracy {_pct(bestt)}, "
        f"against the paper's {PAPER_NEEDLE[1]:.0%}"
        + (": at this budget no recipe learns the needle task, with or without a warm-up.\n"
           if best < 0.5 else ".\n"))
    gk = res["grok"]
    lines.append("Grokking of the task-phase exact-match curves (sigmoid in log task tokens; "
                 "*grokked / not yet / never* by BIC, resolution 1/256) and the speed-up over "
                 "scratch (scratch midpoint / warm-up midpoint; interval from the fits and the "
                 "seed spread). A recipe has a midpoint when most of its seeds grok; where only "
                 "one side has one, the bound uses the other side's last evaluation. The "
                 "per-token curves are not fitted: their first rise, to the ~10% of a guessed "
                 "character within 100k task tokens, is the answer format, not recall.\n\n"
                 "| width | recipe | grokked / not yet / never | midpoint (task tokens) | "
                 "speed-up over scratch |\n|---|---|---|---|---|")
    sp = {(e["recipe"], e["skill"]): e for e in gk["speedups"]}
    for g in sorted(gk["groups"], key=lambda x: (x["skill"], x["recipe"] != SCRATCH,
                                                 x["recipe"])):
        mid = (fmt_interval(g["midpoint"], *g["midpoint_interval"]) if g.get("midpoint")
               else "—")
        e = sp.get((g["recipe"], g["skill"]))
        lines.append(f"| {g['skill']} | {g['recipe']} | {g['grokked']} / {g['not_yet']} / "
                     f"{g['never']} | {mid} | {fmt_speedup(e) if e else '—'} |")
    lines.append("")
    for f in res.get("figures", {}).values():
        lines.append(f"![study 1]({f})\n")
    return "\n".join(lines)
