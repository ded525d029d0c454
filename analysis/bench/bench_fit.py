"""Benchmark of the fitting layer.

1. Chinchilla grid fit: the vectorised multi-start of ``scaling.fit`` (all 4,500 starts of
   Besiroglu et al. 2024 as one batch, then an L-BFGS-B polish) against a plain Python loop of
   ``scipy.optimize.minimize(method="L-BFGS-B")`` over the same 4,500 starts, same objective,
   gradient, bounds and options. Both must reach the same best objective (1e-6 relative);
   target: ≥ 50× faster.
2. 1,000 grokking curves of 30 points (half sigmoids, half flat noise): target < 5 s.

Timings are medians of ``--repeat`` runs in this process (the reference loop runs once: it
takes tens of seconds). Run: ``.venv/bin/python analysis/bench/bench_fit.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from scaling.fit import chinchilla, fit_grok, fit_law, forms, optim, sigmoid_log


def law_data(seed=0):
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e10, 6),
                                           np.geomspace(1e7, 1e12, 6), indexing="ij"))
    L = chinchilla(N, D, 1.8, 480, 2100, 0.35, 0.37) * (1 + 0.005 * rng.standard_normal(36))
    return N, D, L


def reference_loop(N, D, L, options=optim.LBFGS_OPTIONS):
    """A plain loop: one scipy L-BFGS-B run per start of the 4,500-start grid.

    ``options`` default to the ones :mod:`scaling.fit.optim` polishes with (tight ftol: scipy's
    default ftol is absolute for objectives below 1 and stops early on Huber sums ~1e-4);
    ``options=None`` runs scipy's defaults.
    """
    X = optim.design("chinchilla", N, D)
    logL = np.log(L)
    bounds = [tuple(b) for b in forms.LAW_SPECS["chinchilla"]["bounds"]]
    best = (np.inf, None)
    for start in forms.start_grid("chinchilla"):
        res = minimize(optim._f_and_grad, start, args=("chinchilla", X, logL, None,
                                                       optim.HUBER_DELTA),
                       jac=True, method="L-BFGS-B", bounds=bounds,
                       options=options)
        if res.fun < best[0]:
            best = (float(res.fun), res.x)
    return best


def grok_data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.geomspace(1e5, 1e9, 30)
    curves, tokens, values = [], [], []
    for i in range(n):
        if i % 2:
            mid = np.exp(rng.uniform(np.log(1e6), np.log(1e8)))
            v = sigmoid_log(t, 0.02, 0.95, mid, rng.uniform(0.2, 0.8))
        else:
            v = np.full(30, 0.05)
        curves += [f"c{i}"] * 30
        tokens.append(t)
        values.append(v + 0.02 * rng.standard_normal(30))
    return pd.DataFrame({"curve": curves, "tokens": np.concatenate(tokens),
                         "value": np.concatenate(values)})


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    N, D, L = law_data()
    t_fast, res = timed(lambda: fit_law(N, D, L), args.repeat)
    t0 = time.perf_counter()
    f_ref, x_ref = reference_loop(N, D, L)
    t_ref = time.perf_counter() - t0
    rel = abs(res.objective - f_ref) / abs(f_ref)
    print("chinchilla grid fit, 36 points, 4,500 starts")
    print(f"  vectorised (scaling.fit.fit_law, median of {args.repeat}): {t_fast:8.3f} s   "
          f"best objective {res.objective:.12g}")
    print(f"  scipy L-BFGS-B loop over the same starts:              {t_ref:8.3f} s   "
          f"best objective {f_ref:.12g}")
    print(f"  speed-up {t_ref / t_fast:.1f}x (target >= 50x); objective relative difference "
          f"{rel:.2e} (target <= 1e-6); params (E, A, B, alpha, beta) "
          f"{np.round(list(res.values.values()), 5).tolist()}")
    t_boot, _ = timed(lambda: fit_law(N, D, L, bootstrap=200), max(1, args.repeat // 2))
    print(f"  with 200 bootstrap resamples: {t_boot:.3f} s")
    t0 = time.perf_counter()
    f_def, _ = reference_loop(N, D, L, options=None)
    t_def = time.perf_counter() - t0
    print(f"  (scipy loop with scipy's default options: {t_def:.3f} s, best objective "
          f"{f_def:.12g}, relative difference {abs(res.objective - f_def) / f_def:.2e}, "
          f"speed-up {t_def / t_fast:.1f}x)")

    df = grok_data()
    fit_grok(df.iloc[:300], engine="numpy")  # warm-up (imports)
    t_grok, g = timed(lambda: fit_grok(df, engine="numpy"), args.repeat)
    counts = g.curves["status"].value_counts().to_dict()
    print(f"grokking: 1,000 curves x 30 points in {t_grok:.3f} s (median of {args.repeat}; "
          f"target < 5 s); verdicts {counts}")


if __name__ == "__main__":
    main()
