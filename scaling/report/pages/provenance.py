"""Page 10, methods and provenance: versions, seeds, run ids, methods, what was held out."""

from __future__ import annotations

import hashlib
import platform
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page
from .common import target_text


def provenance_pages(ctx: ReportContext, extra: dict | None = None) -> list:
    """Versions, seeds, config hashes, methods, and what was held out."""
    runs = ctx.runs
    ids = sorted(runs["run_id"].dropna().astype(str)) if len(runs) else []
    lines = _provenance_lines(ctx, ids) + _METHODS + [_held_out(ctx)]
    if extra:
        lines += ["", "Report options: " + ", ".join(f"{k}={v}" for k, v in extra.items())]
    fig = new_page("Methods and provenance")
    used = style.text_block(fig, 0.04, 0.89, lines, width=150, size=8)
    figs = [fig]
    if len(runs):
        figs += _run_table(fig, runs, used)
    return figs


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "not installed"


def _provenance_lines(ctx: ReportContext, ids: list[str]) -> list[str]:
    """Versions, the store and its fingerprint, seeds, target and baseline."""
    pk = ["scaling", "numpy", "scipy", "pandas", "lmfit", "matplotlib", "torch"]
    runs = ctx.runs
    fp = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    seeds = sorted({int(s) for s in runs["seed"].dropna()}) if len(runs) else []
    return [
        "Versions: python " + platform.python_version() + "; "
        + "; ".join(f"{p} {_version(p)}" for p in pk),
        f"Store: {ctx.path}  ·  {len(ids)} run directories  ·  fingerprint of the sorted run "
        f"ids (config hashes) {fp}",
        f"Training seeds in the grid: {', '.join(map(str, seeds)) or 'none'}  ·  bootstrap "
        f"seed {ctx.seed}, {ctx.bootstrap} resamples per law, intervals at "
        f"{int(ctx.level * 100)}%",
        f"Target domain: {ctx.domain}  ·  baseline: {ctx.baseline}  ·  "
        + (target_text(ctx) if ctx.size else "no target"),
    ]


#: How every section computes what it draws.
_METHODS = [
    "",
    "Methods:",
    "• Loss laws: L(N, D) = E + A/N^α + B/D^β per recipe, fitted in log space with a Huber "
    "loss (δ = 1e-3) from a grid of starts; points = end points of runs and WSD decay "
    "branches; bootstrap over runs (over end points when a recipe has < 8 runs).",
    "• Savings: s = D_r / D_b where L_r(N, D_r) = L_b(N, D_b), by closed-form inversion; "
    "bootstrap samples paired and pushed through the inversion; beyond the grid's sizes "
    "the interval is widened by the drift of a leave-largest-size-out refit.",
    "• Grokking: sigmoid in log-tokens with floor and ceiling per (run, skill) exact-match "
    "curve; verdict grokked / not yet / never by BIC against flat and linear fits; "
    "grokking time = midpoint; a recipe groks a skill when most of its seeds do. Recipes "
    "are compared at the largest nominal size with skill records, each at every shape it "
    "has there; a skill's tokens count from when its data starts (a task after a warm-up: "
    "its task tokens).",
    "• Aggregation: a run's held-out loss on its own training mixture (Σ p_d L_d; the "
    "baseline's, or each arm's with ≥ 3 skills where there is no baseline) as a power law "
    "and as a non-negative sum of (1 − accuracy) skill terms with Zipf-form weights over "
    "the learning order.",
]


def _held_out(ctx: ReportContext) -> str:
    return ("• Backtest (what was held out): "
            + (f"every run at the largest size {format_count(ctx.sizes[-1])}; laws refitted on "
               "the smaller sizes; truths from the held-out runs alone."
               if len(ctx.sizes) >= 3 else "nothing (needs ≥ 3 sizes)."))


def _run_table(fig, runs: pd.DataFrame, used: int) -> list:
    """The run table (run id = config hash, size, seed, status, recipe) below the text of
    ``fig`` (``used`` lines), continued on as many pages as it needs: those pages."""
    t = runs.assign(n=pd.to_numeric(runs["n_params"], errors="coerce")).sort_values(
        ["recipe", "n", "seed", "run_id"], na_position="last")
    rows = [f"{str(r.run_id)[:10]:<11}{format_count(r.n) if r.n == r.n else '?':>7} "
            f"s{'' if r.seed != r.seed else int(r.seed)}  {str(r.status)[:4]:<5}"
            f"{style.short(str(r.recipe), 44)}" for r in t.itertuples()]
    y0 = 0.89 - used * 0.0185 - 0.05
    per_col = max(int((y0 - 0.04) / 0.0135), 5)
    cols, x = 2, [0.04, 0.52]
    fig.text(0.04, y0 + 0.02, "Runs: config hash (run id), size, seed, status, recipe",
             fontsize=8.5, weight="bold")
    first = rows[:per_col * cols]
    for c in range(cols):
        chunk = first[c * per_col:(c + 1) * per_col]
        if chunk:
            fig.text(x[c], y0, "\n".join(chunk), fontsize=6.5, family="monospace",
                     va="top", linespacing=1.25)
    rest = rows[per_col * cols:]
    # at most 2 × 62 rows a page, spread evenly over the pages (no last page of 20 rows)
    n_pages = int(np.ceil(len(rest) / (2 * 62)))
    per_page = int(np.ceil(len(rest) / n_pages)) if n_pages else 1
    col = int(np.ceil(per_page / 2))
    figs = []
    for k in range(0, len(rest), per_page):
        f2 = new_page("Methods and provenance: runs (continued)")
        part = rest[k:k + per_page]
        for c in range(2):
            chunk = part[c * col:(c + 1) * col]
            if chunk:
                f2.text(x[c], 0.89, "\n".join(chunk), fontsize=6.5, family="monospace",
                        va="top", linespacing=1.25)
        figs.append(f2)
    return figs
