r"""Study 2 — front-loading savings, the trend across sizes and the crossover size.

Source (procedural pretraining, Jiang, Shinnick et al. 2026): front-loading 0.1–0.3%
procedural data reaches the baseline's loss with 55% (C4 prose), 67% (CodeParrot code) and
86% (DeepMind-Math) of the data, at up to 1.3B parameters.

Ours: for every front-loaded recipe of the reference grid, the savings ratio
:math:`s = D_r / D_b` on prose validation loss (:func:`scaling.predict.predict_savings`) at
each of the grid's sizes with the baseline budget :math:`D_b = k N` (``RATIO`` tokens per
parameter, the largest ratio inside the grid at every size), and the trend beyond the grid
through the per-recipe Chinchilla laws :math:`L(N, D)`: :math:`s(N)` on a log grid of sizes
for the point fit and for each paired bootstrap sample. The *crossover size* is the first
:math:`N \ge N_{min}` at which :math:`s(N) - 1` changes sign (costs → saves, or saves → costs,
whichever way the trend at the smallest size points); its interval is the percentiles of the
per-sample crossovers of the samples that start on the same side, with samples that never
turn within :data:`N_MAX` counted as larger than any size. The bootstrap-only interval ignores
the error of the law's *form* far beyond the grid (the widening ``predict`` applies at one
target size is not applied along the curve), so it is narrower than the truth.
"""

from __future__ import annotations

import numpy as np

from scaling.predict import PredictError, predict_savings
from scaling.predict.savings import choose_fits, pair_savings, quantiles
from scaling.units import format_count

from .common import BASELINE, LEVEL, Context, errbars, fmt_interval

#: Baseline budget in tokens per parameter for the in-grid trend (5 × 197k ≈ 1M, the grid's
#: largest budget; every size has runs up to at least this ratio).
RATIO = 5.0
#: Also reported: the Chinchilla ratio (20), beyond the grid's budgets at its larger sizes.
RATIO_CHINCHILLA = 20.0
#: Largest size searched for a crossover.
N_MAX = 1e11
#: Sizes the paper reports at, for the extrapolated answer.
PAPER_SIZE = 1.3e9
#: The command that makes the code/math target store.
TARGETS_COMMAND = "scaling grid runs/grids/cpu-targets.toml --out runs/targets --jobs 2"
PAPER = {"prose": 0.55, "code": 0.67, "math": 0.86}


def front_recipes(grid, base: str = "prose=1") -> list[str]:
    """The grid's recipes that front-load something onto ``base``."""
    return [r for r in grid.recipes if r.startswith(base + ";front=")]


def savings_curve(grid, recipe: str, baseline: str, sizes, ratio: float, bootstrap: int,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:math:`s(N)` at ``D_b = ratio·N`` for each size: the point fit (shape ``(n,)``) and
    the paired bootstrap samples (shape ``(n, B)``), through the per-recipe Chinchilla laws
    the prediction layer fits (same fits as :func:`predict_savings`, cached on the grid)."""
    fits = choose_fits(grid, recipe, baseline, bootstrap, seed, LEVEL)
    if fits.form != "chinchilla":
        raise PredictError(f"{recipe}: runs at one size only; no trend across sizes")
    point, samples = [], []
    for n in sizes:
        p = pair_savings(fits.baseline, fits.recipe, float(n), ratio * float(n))
        point.append(p.s)
        samples.append(p.samples)
    return np.asarray(point, float), np.vstack(samples)


def crossover(sizes, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First size at which ``s - 1`` changes sign relative to the smallest size, along
    axis 0 of ``s`` (shape ``(n,)`` or ``(n, B)``): the sizes (``inf`` where the sign never
    turns) and the side the trend starts on (``+1``: costs data at the smallest size, so the
    turn is to saving; ``-1``: saves data first). NaN values never count as a turn."""
    s = np.asarray(s, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        side = np.sign(np.log(s))
    start = side[0]
    turned = (side != start) & ~np.isnan(side) & (side != 0)
    first = np.argmax(turned, axis=0)
    out = np.where(turned.any(axis=0), np.asarray(sizes, float)[first], np.inf)
    return out, start


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
            curve = np.geomspace(float(sizes[0]), N_MAX, 81)
            for ratio in (RATIO, RATIO_CHINCHILLA):
                try:
                    s_pt, s_smp = savings_curve(grid, r, baseline, curve, ratio,
                                                ctx.bootstrap, ctx.seed)
                except PredictError as e:
                    entry[f"crossover_{ratio:g}x"] = {"error": str(e)}
                    continue
                cx, side = crossover(curve, s_pt)
                cs, sides = crossover(curve, s_smp)
                # the interval is over the samples that start on the point fit's side
                same = sides == side
                lo, hi = quantiles(cs[same], LEVEL) if same.any() else (np.nan, np.nan)
                entry[f"crossover_{ratio:g}x"] = {
                    "tokens_per_param": ratio, "size": float(cx), "interval": [lo, hi],
                    "direction": "costs→saves" if side > 0 else "saves→costs",
                    "fraction_same_start": float(np.mean(same)),
                    "fraction_crossing": float(np.mean(np.isfinite(cs[same]))) if same.any()
                    else 0.0,
                    "searched_up_to": N_MAX, "s_at_smallest": float(s_pt[0]),
                    "s_at_n_max": float(s_pt[-1])}
                entry.setdefault("curve", {})[f"{ratio:g}x"] = {
                    "sizes": curve.tolist(), "s": s_pt.tolist(),
                    "lower": [quantiles(x, LEVEL)[0] for x in s_smp],
                    "upper": [quantiles(x, LEVEL)[1] for x in s_smp]}
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
                cells.append(_fmt_cross(c) if "size" in c else "n/a")
            lines.append(f"| `{r}` | " + " | ".join(cells) + " |")
        lines.append("")
    for dom, f in res["figures"].items():
        lines.append(f"![study 2 {dom}]({f})\n")
    return "\n".join(lines)


def _fmt_cross(c: dict) -> str:
    def f(v):
        return f"> {format_count(N_MAX)}" if v is None or not np.isfinite(v) else format_count(v)
    lo, hi = c["interval"]
    tail = f"[{f(lo)}, {f(hi)}] ({c['fraction_crossing']:.0%} of samples turn)"
    if c["size"] is None:
        side = c["direction"].split("→")[0]
        return f"{side} data at every N ≤ {format_count(N_MAX)} (no turn); samples {tail}"
    return f"{c['direction']} at {f(c['size'])} {tail}"


__all__ = ["crossover", "front_recipes", "markdown", "run", "savings_curve"]
