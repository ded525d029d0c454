"""Calibrate and check the savings intervals on simulated grids (known per-recipe laws).

For ``--sims`` simulated grids (``scaling.predict.simulate``), predicts the savings at 10× the
largest grid size and 20 tokens per parameter, and prints the error against the exact savings
and the coverage of the 90% interval for several values of the widening constant ``c``
(``scaling.predict.savings.WIDEN_C``: extra sd ``c·δ·d`` in ln s beyond the grid).

    .venv/bin/python analysis/bench/bench_predict_coverage.py --sims 100 --noise 0.001

Measured (2-core CPU, 100 grids, noise 0.001, 3 seeds): median |error| 0.018 (mean 0.022,
90th percentile 0.046); coverage 94% for c in [0, 0.75], 96% for c = 1. With noise 0.003
(40 grids): median |error| 0.062, coverage 97.5% for c in [0, 1].
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scaling.predict.grid import load_grid, one_blas_thread
from scaling.predict.savings import _drift, choose_fits, pair_savings, quantiles, savings_at
from scaling.predict.simulate import BASELINE_LAW, RECIPE_LAW, simulate_grid, true_savings

REC, BASE = "prose=1;front=dyck:0.01", "prose=1"


@one_blas_thread
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=20)
    ap.add_argument("--noise", type=float, default=0.003)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--c", default="0,0.5,1,1.5,2")
    a = ap.parse_args()
    cs = [float(x) for x in a.c.split(",")]
    laws = {BASE: BASELINE_LAW, REC: RECIPE_LAW}
    sizes = (25e3, 50e3, 100e3, 200e3)
    N = 10 * sizes[-1]
    D = 20 * N
    truth = true_savings(BASELINE_LAW, RECIPE_LAW, N, D)
    errs, hits = [], {c: [] for c in cs}
    t0 = time.perf_counter()
    for k in range(a.sims):
        g = load_grid(simulate_grid(laws, sizes=sizes, seeds=a.seeds, noise=a.noise, seed=k))
        fits = choose_fits(g, REC, BASE, a.bootstrap, k, 0.9)
        ans = savings_at(g, REC, BASE, N, D, bootstrap=a.bootstrap, seed=k, widen=False,
                         fits=fits)
        ratio = 20.0
        at_max = pair_savings(fits.baseline, fits.recipe, sizes[-1], ratio * sizes[-1])
        dr = _drift(g, fits, REC, BASE, ratio, 0.0, 0.0, at_max)
        d = np.log(N / sizes[-1])
        z = np.random.default_rng(k + 7).standard_normal(ans.samples.size)
        errs.append(ans.savings_ratio - truth)
        for c in cs:
            lo, hi = quantiles(ans.samples * np.exp(c * dr["delta"] * d * z), 0.9)
            hits[c].append(lo <= truth <= hi)
    dt = time.perf_counter() - t0
    e = np.abs(errs)
    print(f"truth s = {truth:.4f} at N = {N:g}, D_b = {D:g}; {a.sims} grids, noise {a.noise}, "
          f"{a.seeds} seeds; {dt / a.sims:.2f} s per grid")
    print(f"|error|: median {np.median(e):.4f}, mean {e.mean():.4f}, 90th pct "
          f"{np.quantile(e, 0.9):.4f}; mean signed {np.mean(errs):+.4f}")
    for c in cs:
        print(f"c = {c:4.2f}: coverage of the 90% interval {np.mean(hits[c]):.1%}")


if __name__ == "__main__":
    main()
