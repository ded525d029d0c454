r"""Study 2 — front-loading savings, the trend across sizes and the crossover size.

Source (procedural pretraining, Jiang, Shinnick et al. 2026): front-loading 0.1–0.3%
procedural data reaches the baseline's loss with 55% (C4 prose), 67% (CodeParrot code) and
86% (DeepMind-Math) of the data, at up to 1.3B parameters.

Ours: for every front-loaded recipe of the reference grid, the savings ratio
:math:`s = D_r / D_b` on prose validation loss (:func:`scaling.predict.predict_savings`) at
each of the grid's sizes with the baseline budget :math:`D_b = k N` (``RATIO`` tokens per
parameter, the largest ratio inside the grid at every size), and the trend beyond the grid
with its *crossover size* — the first size at which :math:`s(N) - 1` changes sign, with a
bootstrap interval (:func:`scaling.predict.crossover.crossover_size`, which says why that
interval is too narrow far beyond the grid).
"""

from __future__ import annotations

import numpy as np

from scaling.predict import PredictError, predict_savings
from scaling.predict.crossover import N_MAX as CROSSOVER_N_MAX
from scaling.predict.crossover import crossover_size
from scaling.units import format_count

from .common import BASELINE, LEVEL, Context, errbars, fmt_interval

#: Baseline budget in tokens per parameter for the in-grid trend (5 × 197k ≈ 1M, the grid's
#: largest budget; every size has runs up to at least this ratio).
RATIO = 5.0
#: Also reported: the Chinchilla ratio (20), beyond the grid's budgets at its larger sizes.
RATIO_CHINCHILLA = 20.0
#: Largest size searched for a crossover.
N_MAX = CROSSOVER_N_MAX
#: Sizes the paper reports at, for the extrapolated answer.
PAPER_SIZE = 1.3e9
#: The command that makes the code/math target store.
TARGETS_COMMAND = "scaling grid runs/grids/cpu-targets.toml --out runs/targets --jobs 2"
PAPER = {"prose": 0.55, "code": 0.67, "math": 0.86}


def front_recipes(grid, base: str = "prose=1") -> list[str]:
    """The grid's recipes that front-load something onto ``base``."""
    return [r for r in grid.recipes if r.startswith(base + ";front=")]


def _per_size(ctx: Context, grid, recipe, baseline, sizes, ratio):
    rows = []
    for n in sizes:
        try:
            p = predict_savings(grid, recipe, baseline, size=float(n), tokens=ratio * float(n),
                                bootstrap=ctx.bootstrap, level=LEVEL, seed=ctx.seed,
                                skills=False)
        except PredictError as e:
            rows.append({"size": float(n), "error": str(e)})
            continue
        s = p.summary()
        rows.append({"size": float(n), "tokens": ratio * float(n),
                     "savings_ratio": s["savings_ratio"], "interval": s["interval"],
                     "extrapolated": s["extrapolated"], "loss_baseline": s["loss_baseline"],
                     "loss_recipe": s["loss_recipe"], "warnings": s["warnings"]})
    return rows


def _target_block(ctx: Context, grid, baseline: str, recipes: list[str], domain: str):
    out = {}
    for r in recipes:
        sizes = np.intersect1d(grid.sizes(r), grid.sizes(baseline))
        entry = {"per_size": _per_size(ctx, grid, r, baseline, sizes, RATIO)}
        try:
            p = predict_savings(grid, r, baseline, size=PAPER_SIZE, tokens="20x",
                                bootstrap=ctx.bootstrap, level=LEVEL, seed=ctx.seed,
                                skills=False)
            s = p.summary()
            entry["at_paper_size"] = {"size": PAPER_SIZE, "tokens_per_param": 20.0,
                                      "savings_ratio": s["savings_ratio"],
                                      "interval": s["interval"],
                                      "extrapolated": s["extrapolated"],
                                      "warnings": s["warnings"]}
        except PredictError as e:
            entry["at_paper_size"] = {"error": str(e)}
        if len(sizes) >= 2:
            for ratio in (RATIO, RATIO_CHINCHILLA):
                try:
                    c = crossover_size(grid, r, baseline, ratio, N_MAX, bootstrap=ctx.bootstrap,
                                       level=LEVEL, seed=ctx.seed)
                except PredictError as e:
                    entry[f"crossover_{ratio:g}x"] = {"error": str(e)}
                    continue
                entry[f"crossover_{ratio:g}x"] = {**c.summary(), "text": c.report()}
                entry.setdefault("curve", {})[f"{ratio:g}x"] = c.curve
        out[r] = entry
    return {"domain": domain, "baseline": baseline, "paper": PAPER.get(domain),
            "recipes": out}


def _figure(ctx: Context, block: dict, name: str) -> str:
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("tab10")
    for i, (r, e) in enumerate(block["recipes"].items()):
        rows = [x for x in e["per_size"] if "savings_ratio" in x and x["savings_ratio"]]
        if rows:
            n = np.array([x["size"] for x in rows])
            s = np.array([x["savings_ratio"] for x in rows])
            lo = np.array([x["interval"][0] or np.nan for x in rows])
            hi = np.array([x["interval"][1] or np.nan for x in rows])
            hi = np.where(np.isfinite(hi), hi, 10 * s)
            a1.errorbar(n * (1 + 0.04 * i), s, yerr=errbars(s, lo, hi), marker="o", ms=3,
                        capsize=2, color=cmap(i % 10), label=r.split(";", 1)[1])
        c = e.get("curve", {}).get(f"{RATIO:g}x")
        if c:
            a2.plot(c["sizes"], c["s"], color=cmap(i % 10), label=r.split(";", 1)[1])
            a2.fill_between(c["sizes"], [v if v is not None else np.nan for v in c["lower"]],
                            [min(v, 1e3) if v is not None else np.nan for v in c["upper"]],
                            color=cmap(i % 10), alpha=0.08)
    for a in (a1, a2):
        a.axhline(1, color="k", lw=0.8, ls="--")
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("non-embedding parameters N")
    a1.set_ylabel(f"savings ratio s (D_b = {RATIO:g}·N, {block['domain']} loss)")
    a1.set_title(f"at the grid's sizes (90% intervals); baseline {block['baseline']}")
    a2.set_title("extrapolated through L(N, D) (bootstrap band)")
    a2.set_ylim(0.1, 10)
    if block.get("paper"):
        a2.axhline(block["paper"], color="r", lw=0.8, ls=":")
        a2.axvline(PAPER_SIZE, color="r", lw=0.8, ls=":")
    a1.legend(fontsize=6)
    return ctx.figure(fig, name)


def run(ctx: Context) -> dict:
    """Savings of front-loaded recipes on prose (reference grid) and, when ``runs/targets``
    exists, on code and math targets."""
    grid = ctx.grid("prose")
    blocks = {"prose": _target_block(ctx, grid, BASELINE, front_recipes(grid), "prose")}
    figures = {"prose": _figure(ctx, blocks["prose"], "study2_frontload_prose")}
    if ctx.targets is not None and ctx.targets.exists():
        for dom in ("code", "math"):
            try:
                g = ctx.grid(dom, ctx.targets)
            except Exception as e:  # noqa: BLE001 — a missing domain is reported, not fatal
                blocks[dom] = {"domain": dom, "error": str(e)}
                continue
            base = f"{dom}=1"
            rec = front_recipes(g, base)
            if base not in g.recipes or not rec:
                blocks[dom] = {"domain": dom, "error": f"no {base} baseline or front-loaded "
                               f"{dom} recipes in {ctx.targets}"}
                continue
            blocks[dom] = _target_block(ctx, g, base, rec, dom)
            figures[dom] = _figure(ctx, blocks[dom], f"study2_frontload_{dom}")
    return {"study": 2, "name": "front-loading savings", "ratio_tokens_per_param": RATIO,
            "targets": blocks, "figures": figures, "command": ctx.cmd(2)}


def markdown(res: dict) -> str:
    """The study's section of RESULTS.md."""
    lines = ["## 2. Front-loading savings\n",
             "Source: 55% / 67% / 86% of the data (prose C4 / code / math), models up to 1.3B. "
             f"Ours: savings ratio s = D_r/D_b on the target's validation loss, baseline budget "
             f"D_b = {res['ratio_tokens_per_param']:g}·N at the grid's sizes (procedural tokens "
             "counted in D_r), 90% bootstrap intervals over runs; crossover = first N where "
             f"s − 1 changes sign along the extrapolated L(N,D) trend. Command: `{res['command']}`.\n"]
    if set(res["targets"]) == {"prose"}:
        lines.append("Code and math targets: not measured (no `runs/targets/` store; make it "
                     f"with `{TARGETS_COMMAND}`).\n")
    for dom, b in res["targets"].items():
        lines.append(f"### target: {dom}\n")
        if dom != "prose":
            lines.append(f"Runs: `{TARGETS_COMMAND}`.\n")
        if "error" in b:
            lines.append(f"Not measured: {b['error']}\n")
            continue
        lines.append(f"Paper: s = {b['paper']}. Baseline `{b['baseline']}`.\n")
        sizes = sorted({x["size"] for e in b["recipes"].values() for x in e["per_size"]})
        ncol = len(sizes)
        lines.append("| recipe | " + " | ".join(format_count(n) for n in sizes)
                     + " | s at 1.3B, 20 tok/param (extrapolated) | crossover N (5x) | "
                     "crossover N (20x) |")
        lines.append("|---" * (ncol + 4) + "|")
        for r, e in b["recipes"].items():
            by = {x["size"]: x for x in e["per_size"]}
            cells = []
            for n in sizes:
                x = by.get(n, {})
                cells.append(fmt_interval(x.get("savings_ratio"), *(x.get("interval")
                                                                   or [None, None]),
                                          missing="never") if "savings_ratio" in x else "n/a")
            ps = e.get("at_paper_size", {})
            cells.append(fmt_interval(ps.get("savings_ratio"), *(ps.get("interval")
                                                                 or [None, None]),
                                      missing="never"))
            for k in ("crossover_5x", "crossover_20x"):
                c = e.get(k, {})
                cells.append(c.get("text", "n/a"))
            lines.append(f"| `{r}` | " + " | ".join(cells) + " |")
        lines.append("")
    for dom, f in res["figures"].items():
        lines.append(f"![study 2 {dom}]({f})\n")
    return "\n".join(lines)


__all__ = ["front_recipes", "markdown", "run"]
