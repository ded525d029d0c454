r"""Study 3 — midtraining: start time × mixture weight of code, in-domain gain and forgetting.

Source (Liu, Neubig, Xiong 2025): mixing specialised data in mid-way, start time and weight
interact — an early start tolerates a high weight, a late start needs a low one (a
*plasticity window*).

Ours: recipes ``prose=1;mid=code:W@S`` with W ∈ {0.2, 0.5}, S ∈ {0.3, 0.7} (one seed, four
budgets, five sizes). Each recipe's Chinchilla law :math:`L(N, D)` is fitted on the code
validation loss (in-domain) and on the prose validation loss (forgetting), bootstrapped over
runs (:func:`scaling.predict.independent.fit_recipe`, the prediction layer's fits). At the
grid's largest size and budget the study reports

- code loss of each (W, S) and of the static mixture ``code=0.2,prose=0.8``;
- forgetting :math:`\Delta_{prose} = L^{prose}_r - L^{prose}_{b}` against ``prose=1``;
- the interaction :math:`I = (L_{0.5,0.7} - L_{0.2,0.7}) - (L_{0.5,0.3} - L_{0.2,0.3})` on each
  domain: the extra effect of the high weight when it starts late. A plasticity window shows
  as :math:`I > 0` on code (the high weight helps less when late) or on prose (it costs more).

Intervals pair bootstrap sample i of every law (independent resamples of each recipe's runs).
"""

from __future__ import annotations

import re

import numpy as np

from scaling.errors import ScalingError
from scaling.fit import forms
from scaling.predict.independent import fit_recipe, quantiles
from scaling.units import format_count

from .common import BASELINE, LEVEL, Context, errbars, fmt_interval

STATIC = "code=0.2,prose=0.8"
MID = re.compile(r"^prose=1;mid=code:([0-9.]+)@([0-9.]+)$")


def mid_recipes(grid) -> dict[tuple[float, float], str]:
    """``{(weight, start): recipe}`` of the grid's ``prose=1;mid=code:W@S`` recipes."""
    out = {}
    for r in grid.recipes:
        m = MID.match(r)
        if m:
            out[(float(m.group(1)), float(m.group(2)))] = r
    return out


def law_loss(grid, recipe: str, N: float, D: float, bootstrap: int, seed: int):
    """Point and bootstrap samples of a recipe's fitted loss at (N, D)."""
    law = fit_recipe(grid, recipe, "chinchilla", bootstrap, seed, LEVEL)
    p = law.values
    point = float(forms.chinchilla(N, D, p["E"], p["A"], p["B"], p["alpha"], p["beta"]))
    s = law.samples() if law.n_bootstrap else None
    smp = (np.asarray(forms.chinchilla(N, D, s["E"], s["A"], s["B"], s["alpha"], s["beta"]),
                      float).reshape(-1) if s else np.array([point]))
    return point, smp


def _measured(grid, recipe: str, N: float, D: float) -> float | None:
    """The measured end-point loss of the recipe's run at (N, D), if there is one."""
    pts = grid.of(recipe)
    pts = pts[np.isclose(pts["params"], N, rtol=1e-6) & np.isclose(pts["tokens"], D, rtol=0.02)]
    return float(pts["loss"].mean()) if len(pts) else None


def _pair(a: np.ndarray, b: np.ndarray):
    k = min(a.size, b.size)
    return a[:k], b[:k]


def run(ctx: Context) -> dict:
    res = {"study": 3, "name": "midtraining", "command": ctx.cmd(3)}
    gp = ctx.grid("prose")
    mids = mid_recipes(gp)
    if not mids:
        res["note"] = "no prose=1;mid=code:W@S runs in the store"
        return res
    try:
        gc = ctx.grid("code")
    except ScalingError as e:
        res["note"] = f"no code validation loss in the store: {e}"
        return res
    # the largest size and budget every midtraining cell was trained at (the merged larger
    # runs of other recipes must not pull the comparison outside the cells' data)
    N = float(min(gp.sizes(r).max() for r in mids.values()))
    at = gp.points[gp.points["recipe"].isin(mids.values())
                   & np.isclose(gp.points["params"], N, rtol=1e-9)]
    D = float(at["tokens"].max())
    res.update(size=N, tokens=D)
    cells, code_s, prose_s = {}, {}, {}
    pb, pb_s = law_loss(gp, BASELINE, N, D, ctx.bootstrap, ctx.seed)
    for (w, s), r in sorted(mids.items()):
        try:
            c, c_s = law_loss(gc, r, N, D, ctx.bootstrap, ctx.seed + 1)
            p, p_s = law_loss(gp, r, N, D, ctx.bootstrap, ctx.seed + 1)
        except ScalingError as e:
            cells[r] = {"weight": w, "start": s, "error": str(e)}
            continue
        a, b = _pair(p_s, pb_s)
        cells[r] = {"measured_code": _measured(gc, r, N, D),
                    "measured_prose": _measured(gp, r, N, D), **{"weight": w, "start": s, "code_loss": c, "code_interval": quantiles(c_s, LEVEL),
                    "prose_loss": p, "prose_interval": quantiles(p_s, LEVEL),
                    "forgetting": p - pb, "forgetting_interval": quantiles(a - b, LEVEL)}}
        code_s[(w, s)], prose_s[(w, s)] = (c, c_s), (p, p_s)
    res["baseline_prose_loss"] = {"value": pb, "interval": quantiles(pb_s, LEVEL)}
    if STATIC in gc.recipes:
        try:
            c, c_s = law_loss(gc, STATIC, N, D, ctx.bootstrap, ctx.seed + 2)
            res["static_code_loss"] = {"recipe": STATIC, "value": c,
                                       "interval": quantiles(c_s, LEVEL)}
        except ScalingError as e:
            res["static_code_loss"] = {"recipe": STATIC, "error": str(e)}
    res["cells"] = cells
    res["interaction"] = {}
    keys = [(0.5, 0.7), (0.2, 0.7), (0.5, 0.3), (0.2, 0.3)]
    for dom, d in (("code", code_s), ("prose", prose_s)):
        if all(k in d for k in keys):
            pt = (d[keys[0]][0] - d[keys[1]][0]) - (d[keys[2]][0] - d[keys[3]][0])
            k = min(d[x][1].size for x in keys)
            sm = (d[keys[0]][1][:k] - d[keys[1]][1][:k]) - (d[keys[2]][1][:k]
                                                            - d[keys[3]][1][:k])
            res["interaction"][dom] = {"value": pt, "interval": quantiles(sm, LEVEL),
                                       "p_positive": float(np.mean(sm > 0))}
    res["figures"] = {"grid": _figure(ctx, res)}
    return res


def _figure(ctx: Context, res: dict) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, title in ((axes[0], "code", "in-domain code loss"),
                           (axes[1], "forgetting", "forgetting: Δ prose loss vs prose=1")):
        for w, col in ((0.2, "C0"), (0.5, "C3")):
            pts = sorted((c["start"], c) for c in res["cells"].values()
                         if c.get("weight") == w and "error" not in c)
            if not pts:
                continue
            x = np.array([p[0] for p in pts])
            v = np.array([p[1][f"{key}_loss" if key == "code" else key] for p in pts])
            iv = np.array([p[1][f"{key}_interval"] for p in pts], float)
            ax.errorbar(x + (0.01 if w == 0.5 else 0), v, yerr=errbars(v, iv[:, 0], iv[:, 1]),
                        marker="o", capsize=3, color=col, label=f"weight {w}")
        if key == "code" and "value" in res.get("static_code_loss", {}):
            ax.axhline(res["static_code_loss"]["value"], color="k", ls=":", lw=0.8,
                       label=STATIC)
        if key == "forgetting":
            ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("start of midtraining (fraction of the run)")
        ax.set_title(title + f" (N={format_count(res['size'])}, D={format_count(res['tokens'])})")
        ax.legend(fontsize=7)
    return ctx.figure(fig, "study3_midtraining")


def markdown(res: dict) -> str:
    lines = ["## 3. Midtraining (code)\n",
             "Source: start time and weight interact (early tolerates a high weight, late needs "
             "a low one). Ours: per-recipe Chinchilla laws on code and prose validation loss, "
             "read at the grid's largest size and budget; 90% paired-bootstrap intervals (the "
             "measured single-run losses are in results.json, `measured_*`). "
             f"Command: `{res['command']}`.\n"]
    if "cells" not in res:
        lines.append(res.get("note", "not measured") + "\n")
        return "\n".join(lines)
    lines.append(f"At N = {format_count(res['size'])}, D = {format_count(res['tokens'])}; "
                 "baseline prose loss "
                 f"{fmt_interval(res['baseline_prose_loss']['value'], *res['baseline_prose_loss']['interval'], 4)}"
                 + (f"; static `{STATIC}` code loss "
                    f"{fmt_interval(res['static_code_loss']['value'], *res['static_code_loss']['interval'], 4)}"
                    if "value" in res.get("static_code_loss", {}) else "") + ".\n")
    lines.append("| weight | start | code loss | prose loss | forgetting Δprose |\n"
                 "|---|---|---|---|---|")
    for c in res["cells"].values():
        if "error" in c:
            lines.append(f"| {c['weight']} | {c['start']} | fit failed: {c['error']} | | |")
            continue
        lines.append(f"| {c['weight']} | {c['start']} | "
                     f"{fmt_interval(c['code_loss'], *c['code_interval'], 4)} | "
                     f"{fmt_interval(c['prose_loss'], *c['prose_interval'], 4)} | "
                     f"{fmt_interval(c['forgetting'], *c['forgetting_interval'], 3)} |")
    for dom, i in res.get("interaction", {}).items():
        lines.append(f"\nInteraction on {dom} loss, I = (L[0.5@0.7] − L[0.2@0.7]) − "
                     f"(L[0.5@0.3] − L[0.2@0.3]) = {fmt_interval(i['value'], *i['interval'], 3)}"
                     f" (share of bootstrap samples with I > 0: {i['p_positive']:.0%}).")
    lines.append("")
    for f in res.get("figures", {}).values():
        lines.append(f"![study 3]({f})\n")
    return "\n".join(lines)
