"""Study 5 — format: multi-digit addition in plain vs scratchpad format, grokking speed.

Source (Yao Fu 2023, "speed of grokking"): a more detailed format (scratchpad) makes a skill
emerge earlier. Ours: the probes ``add_plain`` and ``add_scratchpad`` are scored in every
run of the grid. Their accuracy curves (longest runs of every recipe and size) are fitted
with :func:`scaling.fit.fit_grok` (sigmoid in log-tokens; grokked / not yet / never by model
comparison), and the speed-up of scratchpad over plain is the ratio of midpoints
(:func:`scaling.fit.speedup`), paired by training recipe and size. Where neither format
groks, the evidence is the final accuracies (Wilson intervals) and the fits' verdicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scaling.errors import ScalingError
from scaling.fit import fit_grok, speedup
from scaling.fit.data import skill_resolution
from scaling.units import format_count

from .common import LEVEL, Context, final_records, fmt_interval, pooled_accuracy

PROBES = ("add_plain", "add_scratchpad")


def curves(ctx: Context) -> pd.DataFrame:
    """``curve, tokens, value, resolution, recipe, skill`` of the two addition probes:
    ``recipe`` holds the probe (the format), ``skill`` the training recipe and size (the
    pairing key)."""
    m = ctx.metrics()
    m = m[(m["kind"] == "skill") & m["name"].isin(PROBES)]
    if "branch" in m.columns:
        m = m[m["branch"].isna()]
    if m.empty:
        return pd.DataFrame(columns=["curve", "tokens", "value", "recipe", "skill"])
    longest = m.groupby("run_id")["tokens"].transform("max")
    top = longest.groupby([m["recipe"], m["n_params"]]).transform("max")
    m = m[longest >= 0.99 * top]
    return pd.DataFrame({"curve": m["run_id"].astype(str) + "/" + m["name"],
                         "tokens": m["tokens"].astype(float), "value": m["value"].astype(float),
                         "resolution": skill_resolution(m), "recipe": m["name"].astype(str),
                         "skill": m["recipe"].astype(str) + " @ " +
                         m["n_params"].map(lambda n: format_count(float(n)))})


def run(ctx: Context) -> dict:
    c = curves(ctx)
    res = {"study": 5, "name": "format: plain vs scratchpad addition", "command": ctx.cmd(5)}
    if c.empty:
        res["verdicts"] = {}
        res["note"] = "no add_plain/add_scratchpad records in the store"
        return res
    try:
        g = fit_grok(c, level=LEVEL)
    except ScalingError as e:
        res["fit_error"] = str(e)
        g = None
    verdicts = {}
    if g is not None:
        for p in PROBES:
            sel = g.curves[g.curves["recipe"] == p]
            verdicts[p] = {k: int(v) for k, v in sel["status"].value_counts().items()}
            verdicts[p]["curves"] = int(len(sel))
        sp = speedup(g.select(recipe="add_plain"), g.select(recipe="add_scratchpad"),
                     by="skill", level=LEVEL)
        ok = sp[np.isfinite(sp["speedup"])] if "speedup" in sp.columns else sp
        res["speedups"] = ok.to_dict("records")
    res["verdicts"] = verdicts
    fin = final_records(ctx.metrics(), "skill")
    fin = fin[fin["name"].isin(PROBES)]
    top = fin.groupby(["recipe", "n_params"])["run_tokens"].transform("max")
    fin = fin[fin["run_tokens"] >= 0.99 * top]
    pooled = pooled_accuracy(fin.assign(recipe="all"), ctx.probe_n, LEVEL)
    res["final_by_size"] = pooled.to_dict("records")
    res["max_accuracy"] = {p: float(c[c["recipe"] == p]["value"].max()) for p in PROBES}
    res["figures"] = {"curves": _figure(ctx, c)}
    return res


def _figure(ctx: Context, c: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for p, col in zip(PROBES, ("C0", "C3"), strict=True):
        d = c[c["recipe"] == p]
        t = d.groupby(np.round(np.log10(d["tokens"]), 1))["value"].mean()
        ax.plot(10 ** t.index.to_numpy(float), t.to_numpy(float), "o-", ms=3, color=col,
                label=f"{p} (mean over runs)")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1)
    ax.set_xlabel("tokens")
    ax.set_ylabel("accuracy")
    ax.set_title("addition probes, longest run of every recipe and size")
    ax.legend(fontsize=7)
    return ctx.figure(fig, "study5_format")


def markdown(res: dict) -> str:
    lines = ["## 5. Format: plain vs scratchpad addition\n",
             "Source: a scratchpad format makes arithmetic grok earlier (speed-up > 1). Ours: "
             "sigmoid fits of the `add_plain` and `add_scratchpad` probe curves of the longest "
             f"run of every recipe and size; command `{res['command']}`.\n"]
    if not res.get("verdicts"):
        lines.append(res.get("note", "no fits") + "\n")
        return "\n".join(lines)
    for p, v in res["verdicts"].items():
        st = ", ".join(f"{k}: {n}" for k, n in v.items() if k != "curves")
        lines.append(f"- `{p}`: {v['curves']} curves fitted — {st}; highest accuracy seen "
                     f"{res['max_accuracy'][p]:.3g}.")
    sp = res.get("speedups") or []
    if sp:
        lines.append("\n| training recipe @ size | scratchpad speed-up (plain midpoint / "
                     "scratchpad midpoint) |\n|---|---|")
        for e in sp:
            lines.append(f"| `{e['skill']}` | {fmt_interval(e['speedup'], e['lower'], e['upper'])}"
                         " |")
    else:
        lines.append("\nNo training recipe and size where both formats grok: no speed-up can be "
                     "measured at this scale.")
    lines.append("\nFinal accuracy pooled over all recipes' longest runs (Wilson 90%):\n\n"
                 "| size | add_plain | add_scratchpad |\n|---|---|---|")
    fb = pd.DataFrame(res["final_by_size"])
    for n, g in fb.groupby("n_params"):
        g = g.set_index("probe")
        cells = [fmt_interval(g.loc[p, "accuracy"], g.loc[p, "lower"], g.loc[p, "upper"])
                 + f" (n={int(g.loc[p, 'items'])})" if p in g.index else "n/a" for p in PROBES]
        lines.append(f"| {format_count(n)} | " + " | ".join(cells) + " |")
    lines.append("")
    for f in res.get("figures", {}).values():
        lines.append(f"![study 5]({f})\n")
    return "\n".join(lines)
