"""Savings and loss predictions beyond the grid on simulated grids: errors and coverage.

Two methods on the same simulated grids (``scaling.predict.simulate.simulate_joint_grid``:
5 sizes 25k–400k, 5 budgets of 5–80 tokens per parameter, ``--seeds`` seeds, log-normal noise
``--noise``; a baseline law and a recipe whose tokens are worth ``k(N) = k·(N/1e5)^γ``
baseline tokens):

- ``independent`` — one Chinchilla law per recipe, savings by inverting one law at the
  other's loss, bootstrap + extrapolation widening (``scaling.predict.independent``);
- ``joint`` — the joint multi-recipe law (``scaling.fit.joint``) with the interval parts of
  ``scaling.predict.joint`` (bootstrap, admissible variants, nested-backtest extrapolation).

Scenarios (``--scenarios``):

- ``headline``: k = 1/0.7, γ = 0 (the law is right); target 10× the largest size at 20 tokens
  per parameter; savings error and 90% coverage for both methods;
- ``drift``: γ = −0.1 (the data effect shrinks with scale); targets 5× and 20×;
- ``bent``: γ = 0 but the data term bends beyond 10M effective tokens (exponent β → β + 0.1),
  a law the fits do not contain; targets 5× and 20×.

For each target: median |s − s_true| and the coverage of the 90% intervals of the savings
and of the losses (recipe and baseline at the target, against the noise-free true law).

    .venv/bin/python analysis/bench/bench_predict_coverage.py --draws 400 --scenarios headline
    .venv/bin/python analysis/bench/bench_predict_coverage.py --draws 200 --scenarios drift,bent

Grids run in blocks of 50 on ``--jobs`` worker processes (default ``$SCALING_JOBS`` or the
cores); each grid's numbers depend on its seed only.

Measured (torch CPU capability AVX512, 2 cores shared with other jobs, ``--jobs 2``; ~2 s
wall per headline grid with both methods, ~1 s per drift/bent grid): headline, 400 grids —
joint median |error| 0.0027, coverage 0.943 (bootstrap part alone 0.930; grids 0–199 alone
0.960, 200–399 0.925), median width 0.020 in ln s; independent 0.057, 0.945, 0.483. Drift,
200 grids, 5×/20× — median 0.015/0.023, coverage savings 0.955/0.970, losses 0.988/0.998.
Bent, 200 grids — 0.0024/0.0024, savings 0.965/0.965, losses 0.995/0.940. Also in the README
("Savings from a joint law").
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scaling.fit.joint import fit_joint
from scaling.predict.independent import savings_at
from scaling.predict.joint import joint_savings
from scaling.predict.points import load_points, one_blas_thread
from scaling.predict.simulate import (
    BASELINE_LAW,
    JOINT_SIZES,
    joint_loss,
    joint_true_savings,
    simulate_joint_grid,
)
from scaling.workers import pmap

K = 1 / 0.7
SCENARIOS = {
    "headline": {"gamma": 0.0, "bend": None, "factors": (10,)},
    "drift": {"gamma": -0.1, "bend": None, "factors": (5, 20)},
    "bent": {"gamma": 0.0, "bend": (1e7, 0.1), "factors": (5, 20)},
}


def _independent(frame, N, D, bootstrap, seed):
    g = load_points(frame)
    a = savings_at(g, "rec", "base", N, D, bootstrap=bootstrap, seed=seed)
    return a.savings_ratio, a.interval, a.loss_recipe_interval, a.loss_baseline_interval


def _draw(k: int, sc: dict, noise: float, seeds: int, bootstrap: int, compare: bool):
    """One simulated grid (seed ``k``): the chosen variant and a row per target factor."""
    frame = simulate_joint_grid({"base": (1.0, 0.0), "rec": (K, sc["gamma"])},
                                seeds=seeds, noise=noise, seed=k, bend=sc["bend"])
    law = fit_joint(frame, "base", bootstrap=bootstrap, seed=k)
    nested, rows = None, {}
    for f in sc["factors"]:
        N = f * JOINT_SIZES[-1]
        D = 20.0 * N
        s_true = joint_true_savings(BASELINE_LAW, N, D, K, sc["gamma"], bend=sc["bend"])
        L_r = joint_loss(BASELINE_LAW, N, D, K, sc["gamma"], bend=sc["bend"])
        L_b = joint_loss(BASELINE_LAW, N, D, bend=sc["bend"])
        a = joint_savings(law, "rec", N, D, seed=k, nested=nested)
        nested = a.parts.get("extrapolation", {}).get("nested")
        row = {"joint_err": a.savings_ratio - s_true,
               "joint_cov": a.interval[0] <= s_true <= a.interval[1],
               "joint_cov_boot": _inside(a.parts["bootstrap"]["interval"], s_true),
               "joint_cov_var": _inside(a.parts["variants"]["interval"], s_true),
               "joint_loss_cov": (_inside(a.loss_recipe_interval, L_r)
                                  + _inside(a.loss_baseline_interval, L_b)) / 2,
               "joint_width": np.log(a.interval[1] / a.interval[0])}
        if compare:
            s, iv, lr, lb = _independent(frame, N, D, bootstrap, k)
            row.update(ind_err=s - s_true, ind_cov=_inside(iv, s_true),
                       ind_loss_cov=(_inside(lr, L_r) + _inside(lb, L_b)) / 2,
                       ind_width=np.log(iv[1] / iv[0]) if iv[0] > 0 else np.inf)
        rows[f] = row
    return law.variant.name, rows


def run(name: str, draws: int, noise: float, seeds: int, bootstrap: int, compare: bool,
        jobs: int | None = None):
    sc = SCENARIOS[name]
    rows = {f: [] for f in sc["factors"]}
    chosen = {}
    t0 = time.perf_counter()
    # grids in blocks of 50 on worker processes (each grid's numbers depend on its seed only),
    # with a partial summary after each block
    for start in range(0, draws, 50):
        block = range(start, min(start + 50, draws))
        for variant, per in pmap(lambda k: _draw(k, sc, noise, seeds, bootstrap, compare),
                                 block, jobs):
            chosen[variant] = chosen.get(variant, 0) + 1
            for f, row in per.items():
                rows[f].append(row)
        _summary(name, sc, rows, chosen, block[-1] + 1, noise, seeds, bootstrap,
                 time.perf_counter() - t0)


def _summary(name, sc, rows, chosen, draws, noise, seeds, bootstrap, dt):
    print(f"\n[{name}] k = {K:.4g}, gamma = {sc['gamma']:g}, bend = {sc['bend']}; {draws} grids "
          f"of 5 sizes, noise {noise}, {seeds} seeds, bootstrap {bootstrap}; "
          f"{dt / draws:.1f} s wall per grid", flush=True)
    print("  variants chosen: " + "; ".join(f"{v}: {n}" for v, n in sorted(
        chosen.items(), key=lambda t: -t[1])))
    for f, rs in rows.items():
        col = {key: np.array([r[key] for r in rs], float) for key in rs[0]}
        print(f"  target {f}x the largest size (N = {f * JOINT_SIZES[-1]:.3g}, 20 tokens/param):")
        for m, label in (("joint", "joint law  "), ("ind", "independent")):
            if f"{m}_err" not in col:
                continue
            e = col[f"{m}_err"]
            print(f"    {label}: savings |error| median {np.median(np.abs(e)):.4f} (mean signed "
                  f"{np.mean(e):+.4f}); 90% coverage savings {np.mean(col[f'{m}_cov']):.3f}, "
                  f"losses {np.mean(col[f'{m}_loss_cov']):.3f}; median interval width "
                  f"{np.median(col[f'{m}_width']):.3f} in ln s")
        print(f"      joint parts: coverage with the bootstrap only "
              f"{np.mean(col['joint_cov_boot']):.3f}, + variants "
              f"{np.mean(col['joint_cov_var']):.3f}, + extrapolation "
              f"{np.mean(col['joint_cov']):.3f}", flush=True)


def _inside(iv, x) -> float:
    lo, hi = iv
    return float(lo <= x <= hi)


@one_blas_thread
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=200, help="simulated grids per scenario")
    ap.add_argument("--noise", type=float, default=0.003, help="log-normal noise sd")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per (size, budget)")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--scenarios", default="headline,drift,bent")
    ap.add_argument("--jobs", type=int, default=None,
                    help="worker processes (default: $SCALING_JOBS or the cores)")
    ap.add_argument("--compare-all", action="store_true",
                    help="run the independent fits in every scenario (default: headline)")
    a = ap.parse_args()
    import torch

    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}")
    for name in a.scenarios.split(","):
        run(name, a.draws, a.noise, a.seeds, a.bootstrap,
            compare=a.compare_all or name == "headline", jobs=a.jobs)


if __name__ == "__main__":
    main()
