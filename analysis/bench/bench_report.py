"""Time ``scaling report`` on a reference-shaped store (or a real one with ``--runs``).

The simulated store mirrors the reference grid's shape (DESIGN.md / cpu-reference.toml):
4 sizes 12k–200k, 16 recipes (baseline, a static mix, 4 front-loaded domains with
reset/keep variants, 2 × 2 midtraining starts × weights, MeCo), WSD decay branches, 8 skill
probes per run at 12 checkpoints. Prints the build time, its ratio to one bootstrapped
Chinchilla fit measured in the same process (the machine is shared: compare ratios), and the
acceptance budget (60 s).

    .venv/bin/python analysis/bench/bench_report.py [--runs DIR] [--repeat 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from scaling.fit import fit_law_frame
from scaling.predict.simulate import BASELINE_LAW, simulate_grid, simulate_store
from scaling.report import build_report
from scaling.store import RunWriter

SIZES = (12e3, 35e3, 90e3, 200e3)
SKILLS = ("copy", "reverse", "sort", "add_plain", "add_scratchpad", "mod_add", "brackets",
          "needle")
RECIPES = (["prose=1", "code=0.2,prose=0.8"]
           + [f"prose=1;front={d}:0.01" for d in ("dyck", "shuffle_dyck", "stack", "set")]
           + ["prose=1;front=dyck:0.01:reset", "prose=1;front=dyck:0.01:reset:keep=attn",
              "prose=1;front=stack:0.01:reset", "prose=1;front=stack:0.01:reset:keep=mlp"]
           + [f"prose=1;mid=code:{w}@{s}" for w in (0.1, 0.3) for s in (0.5, 0.8)]
           + ["prose=1;meco=0.9", "prose=1;front=set:0.01:reset"])


def make_store(out: Path) -> None:
    rng = np.random.default_rng(0)
    laws = {r: {**BASELINE_LAW, "B": BASELINE_LAW["B"] * (1 - 0.025 * i)}
            for i, r in enumerate(RECIPES)}
    simulate_store(laws, out, sizes=SIZES, seed=0)
    for i, r in enumerate(RECIPES):
        for n in SIZES:
            D = 120 * n
            w = RunWriter.in_grid(out, {"recipe": r, "n_params": n, "n_params_total": None,
                                        "seed": 0, "tokens": D, "source": "simulate_store"})
            recs = []
            for j, t in enumerate(np.geomspace(0.01, 1, 12) * D):
                for k, sk in enumerate(SKILLS):
                    mid = D * 0.03 * 1.6 ** k * (1 - 0.03 * i)
                    acc = 0.02 + 0.96 / (1 + (t / mid) ** (-1 / 0.35))
                    recs.append({"step": 500 + j, "tokens": float(t), "kind": "skill",
                                 "name": sk, "value": float(np.clip(
                                     acc + 0.01 * rng.standard_normal(), 0, 1))})
            w.log_many(recs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--bootstrap", type=int, default=100)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = a.runs
        if runs is None:
            runs = Path(tmp) / "runs"
            make_store(runs)
        table = simulate_grid({"x": BASELINE_LAW}, seed=3)
        ref = []
        for _ in range(3):
            t0 = time.perf_counter()
            fit_law_frame(table.drop(columns="recipe"), bootstrap=a.bootstrap)
            ref.append(time.perf_counter() - t0)
        times = []
        for k in range(a.repeat):
            res = build_report(runs, Path(tmp) / f"r{k}.pdf", bootstrap=a.bootstrap)
            times.append(res.seconds)
        t, r = statistics.median(times), statistics.median(ref)
        print(f"store: {runs} ({'simulated, reference-shaped' if a.runs is None else 'given'})")
        print(f"report: {res.n_pages} pages; build {t:.1f} s (median of {a.repeat}; "
              f"runs {', '.join(f'{x:.1f}' for x in times)}); budget 60 s")
        print(f"one Chinchilla fit with {a.bootstrap} resamples: {r:.2f} s; report / fit = "
              f"{t / r:.0f}×")
        if res.missing:
            print("not drawn:", "; ".join(res.missing))


if __name__ == "__main__":
    main()
