"""Study 5 — format: 3-digit addition answer-only vs scratchpads, speed of grokking.

Source (Yao Fu 2023, "speed of grokking"): the same 3-digit additions are learned faster
with a more detailed scratchpad; the speed of grokking measures the format's quality.

Ours (the skills store, ``runs/skills``): ``add(digits=3,pad=…)`` trained alone in four
formats — ``plain`` (answer only), ``sums`` (each column's sum), ``steps`` (each column's
operands, carry in and sum), ``full`` (also the written digit and the carry out) — 3 seeds
each, 1.5M tokens, width 32, 256 held-out items per evaluation. An item is right when the
whole generated answer (scratchpad and sum) matches. Each run's exact-match curve is fitted
by :func:`scaling.fit.fit_grok` (resolution 1/256); the speed-up of each scratchpad over
plain is the ratio of midpoints (:func:`scaling.fit.speedup`: seeds averaged in ln-tokens,
interval from the fits and the seed spread), or a one-sided bound where plain never groks.
Final accuracies carry a 90% interval over seeds and items.

The reference grid's zero-shot addition probes are summarised in one line.
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
)

FORMATS = ("plain", "sums", "steps", "full")
PLAIN = "plain"
REFERENCE_PROBES = ("add_plain", "add_scratchpad")


def format_of(skill: str) -> str | None:
    m = re.match(r"add\(digits=3,pad=([a-z]+)\)", skill)
    return m.group(1) if m else None


def addition_curves(ctx: Context) -> pd.DataFrame:
    c = ctx.skill_curves()
    fmt = c["skill"].map(format_of)
    c = c.assign(format=fmt)[fmt.notna()]
    # only the runs that train on addition alone (the mixture's add is 2-digit anyway)
    return c[c["recipe"].str.fullmatch(r"add\(digits=3,pad=[a-z]+\)=1")]


def reference_line(ctx: Context) -> dict | None:
    try:
        fin = final_records(ctx.metrics(), "skill")
    except Exception:  # noqa: BLE001 — no reference store
        return None
    fin = fin[fin["name"].isin(REFERENCE_PROBES)]
    if fin.empty:
        return None
    return {"runs": int(fin["run_id"].nunique()), "max_accuracy": float(fin["value"].max()),
            "correct": int(np.round(fin["value"] * ctx.probe_n).sum()),
            "items": int(ctx.probe_n * len(fin))}


def run(ctx: Context) -> dict:
    res = {"study": 5, "name": "format: 3-digit addition, plain vs scratchpads",
           "command": ctx.cmd(5), "reference": reference_line(ctx)}
    c = addition_curves(ctx) if ctx.skills is not None else pd.DataFrame()
    if c.empty:
        res["note"] = f"no 3-digit addition runs in the skills store {ctx.skills}"
        return res
    res["store"] = str(ctx.skills)
    tab, _ = final_accuracy(c, ["format", "metric"], LEVEL, seed=ctx.seed)
    res["final"] = tab.to_dict("records")
    e = c[c["metric"] == "exact_match"]
    frame = pd.DataFrame({"curve": e["curve"], "tokens": e["tokens"], "value": e["value"],
                          "resolution": e["resolution"], "recipe": e["format"],
                          "skill": "add 3 digits"})
    res["grok"] = grok_compare(frame, PLAIN, LEVEL)
    res["max_accuracy"] = {f: float(e.loc[e["format"] == f, "value"].max())
                           for f in FORMATS if (e["format"] == f).any()}
    res["figures"] = {"curves": _figure(ctx, c)}
    return res


def _figure(ctx: Context, c: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (metric, label) in zip(axes, (("exact_match", "exact match (whole answer)"),
                                          ("token_accuracy", "per-token (answer span)")),
                                   strict=True):
        for i, f in enumerate(FORMATS):
            d = c[(c["format"] == f) & (c["metric"] == metric) & (c["tokens"] > 0)]
            if d.empty:
                continue
            for _, s in d.groupby("run"):
                s = s.sort_values("tokens")
                ax.plot(s["tokens"], s["value"], "-", color=f"C{i}", lw=0.6, alpha=0.4)
            m = d.groupby("tokens")["value"].mean()
            ax.plot(m.index, m.to_numpy(float), "o-", ms=2.5, color=f"C{i}", lw=1.4, label=f)
        ax.set_xscale("log")
        top = c.loc[c["metric"] == metric, "value"].max()
        ax.set_ylim(-0.01, min(1.0, max(0.2, 1.15 * top)))
        ax.set_xlabel("tokens")
        ax.set_title(f"3-digit addition: {label}", fontsize=9)
    axes[0].set_ylabel("held-out accuracy")
    axes[0].legend(fontsize=7, title="format", title_fontsize=7)
    fig.suptitle("thin: seeds, thick: mean over seeds", fontsize=8)
    return ctx.figure(fig, "study5_format")


def markdown(res: dict) -> str:
    lines = ["## 5. Format: plain vs scratchpad addition\n",
             "Source: the same 3-digit additions grok earlier with a more detailed scratchpad "
             f"(speed-up > 1). Command: `{res['command']}`.\n"]
    ref = res.get("reference")
    if ref:
        lines.append(f"On `runs/reference` the zero-shot addition probes were never learned "
                     f"({ref['correct']} of {ref['items']} items right over {ref['runs']} runs, "
                     f"best {ref['max_accuracy']:.3g}). Below: the skills store, where "
                     "addition is the training data.\n")
    if "final" not in res:
        lines.append(res.get("note", "no skills runs") + "\n")
        return "\n".join(lines)
    fin = pd.DataFrame(res["final"])
    lines.append("`add(digits=3,pad=F)` trained alone (width 32, 3 seeds, 1.5M tokens). Exact "
                 "match: the whole generated answer, scratchpad and sum, is right. Per-token "
                 "accuracy counts the scratchpad's tokens too, so it is not comparable across "
                 "formats. At the last evaluation, mean over seeds with a 90% interval over "
                 "seeds and items:\n\n| format | exact match | seeds | per-token |\n"
                 "|---|---|---|---|")
    for f, g in fin.groupby("format", sort=False):
        g = g.set_index("metric")
        ex, tk = g.loc["exact_match"], g.loc["token_accuracy"]
        lines.append(f"| {f} | {fmt_interval(ex['accuracy'], ex['lower'], ex['upper'])} | "
                     + ", ".join(f"{v:.3f}" for v in ex["values"]) + " | "
                     f"{fmt_interval(tk['accuracy'], tk['lower'], tk['upper'])} |")
    gk = res["grok"]
    sp = {e["recipe"]: e for e in gk["speedups"]}
    lines.append("\nGrokking of the exact-match curves (a format has a midpoint when most of "
                 "its seeds grok) and the speed-up over plain (plain midpoint / format "
                 "midpoint; 90% interval from the fits and the seed spread; where plain never "
                 "groks, a one-sided bound from its last evaluation):\n\n"
                 "| format | grokked / not yet / never | ceiling of the grokked curves | "
                 "midpoint (tokens) | speed-up over plain |\n|---|---|---|---|---|")
    order = {f: i for i, f in enumerate(FORMATS)}
    for g in sorted(gk["groups"], key=lambda x: order.get(x["recipe"], 99)):
        mid = (fmt_interval(g["midpoint"], *g["midpoint_interval"]) if g.get("midpoint")
               else "—")
        e = sp.get(g["recipe"])
        ceil = ", ".join(f"{x:.3f}" for x in g["ceilings"]) or "—"
        lines.append(f"| {g['recipe']} | {g['grokked']} / {g['not_yet']} / {g['never']} | "
                     f"{ceil} | {mid} | {fmt_speedup(e) if e else '—'} |")
    pl = fin[(fin["format"] == PLAIN) & (fin["metric"] == "exact_match")]
    base = [g for g in gk["groups"] if g["recipe"] == PLAIN]
    if base and not base[0].get("midpoint") and len(pl):
        p = pl.iloc[0]
        lines.append(f"\nPlain never groks within {base[0]['end']:,.0f} tokens: its final exact "
                     f"match is {p['accuracy']:.3g} (90% upper end {p['upper']:.3g}).")
    lines.append("")
    for f in res.get("figures", {}).values():
        lines.append(f"![study 5]({f})\n")
    return "\n".join(lines)
