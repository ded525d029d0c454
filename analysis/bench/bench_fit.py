"""Benchmark of the fitting layer.

1. ``scaling fit law`` end to end against a plain scipy loop. The command (a fresh process:
   interpreter start, imports, CSV reading, the 4,500-start search of Besiroglu et al. 2024,
   the default 200-resample bootstrap, printing) is timed on a 240-point CSV (12 sizes × 20
   budgets of a Chinchilla law with 1% noise); the reference is a plain Python loop of
   ``scipy.optimize.minimize(method="L-BFGS-B")`` over the same 4,500 starts on the same 240
   points, same objective, gradient, bounds and options (no bootstrap: the loop does less
   work than the command). Both must reach the same best objective (1e-6 relative);
   target: the command takes ≤ 1/50 of the loop's time. The loop runs with one BLAS thread
   by default, as the command does (``--loop-threads default`` leaves the environment as it
   is: on a busy 2-core machine OpenBLAS's spinning threads made each L-BFGS-B run ~10x
   slower, which flatters the command).
2. 1,000 grokking curves of 30 points (half sigmoids, half flat noise): target < 5 s.

The machine's CPU capability is printed with the figures: the CPU flags (``/proc/cpuinfo``),
numpy's SIMD targets, and ``torch.backends.cpu.get_cpu_capability()`` read in a separate
process (torch honours ``ATEN_CPU_CAPABILITY``; numpy and scipy, which do the fitting, do not,
so a figure for an AVX2-only CPU must be measured on one, or emulated with ``--emulate-avx2``:
numpy's AVX512 kernels off (``NPY_DISABLE_CPU_FEATURES``: its dispatch falls back to AVX2/FMA3),
OpenBLAS's Haswell (AVX2) kernels, torch's AVX2 capability; the CPU's caches and clock stay
what they are). The timed command and the loop run in child processes with this process's
environment; the command gets an empty ``SCALING_CACHE`` so that nothing is reused between runs.

Run: ``.venv/bin/python analysis/bench/bench_fit.py [--emulate-avx2]`` (about 3 minutes on 2
cores: the loop).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scaling.fit import chinchilla, fit_grok, forms, optim, sigmoid_log

TARGET = 50.0  # the loop's time / the command's time

#: The environment ``--emulate-avx2`` runs under (module docstring).
AVX2_ENV = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
            "OPENBLAS_CORETYPE": "Haswell", "ATEN_CPU_CAPABILITY": "avx2"}


def law_csv(path: Path, seed: int = 0) -> Path:
    """240 points: 12 sizes (100k–100M) × 20 budgets (1M–10B), Chinchilla + 1% noise."""
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e5, 1e8, 12),
                                           np.geomspace(1e6, 1e10, 20), indexing="ij"))
    L = chinchilla(N, D, 1.8, 480, 2100, 0.35, 0.37) * (1 + 0.01 * rng.standard_normal(N.size))
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(path, index=False)
    return path


def reference_loop(N, D, L, options=optim.LBFGS_OPTIONS):
    """A plain loop: one scipy L-BFGS-B run per start of the 4,500-start grid.

    ``options`` default to the ones :mod:`scaling.fit.optim` polishes with (tight ftol: scipy's
    default ftol is absolute for objectives below 1 and stops early on Huber sums ~1e-4);
    ``options=None`` runs scipy's defaults. Returns ``(best objective, its parameters)``.
    """
    from scipy.optimize import minimize

    X = optim.design("chinchilla", N, D)
    logL = np.log(L)
    bounds = [tuple(b) for b in forms.CHINCHILLA.bounds]
    best = (np.inf, None)
    for start in forms.CHINCHILLA.start_grid():
        res = minimize(optim._f_and_grad, start, args=("chinchilla", X, logL, None,
                                                       optim.HUBER_DELTA),
                       jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        if res.fun < best[0]:
            best = (float(res.fun), res.x)
    return best


def cpu_capability() -> str:
    """CPU model and flags, numpy's SIMD targets, torch's capability (child process)."""
    flags, model = set(), "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    try:  # the targets numpy's kernels dispatch to (X86_V4: AVX512)
        from numpy._core._multiarray_umath import __cpu_features__

        simd = [k for k in ("AVX2", "X86_V4", "AVX512_SPR") if __cpu_features__.get(k)]
    except ImportError:
        simd = []
    try:
        from threadpoolctl import threadpool_info

        blas = ",".join(sorted({str(i.get("architecture")) for i in threadpool_info()
                                if i.get("user_api") == "blas"})) or "?"
    except ImportError:
        blas = "?"
    emulated = " (AVX2 emulated: " + " ".join(f"{k}={v}" for k, v in AVX2_ENV.items()) + ")" \
        if all(os.environ.get(k) == v for k, v in AVX2_ENV.items()) else ""
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu."
                            "get_cpu_capability())"], capture_output=True, text=True)
    torch_cap = probe.stdout.strip() if probe.returncode == 0 else "torch not importable"
    return (f"{model}; {os.cpu_count()} cores; flags {' '.join(isa) or 'none of avx2/avx512'}; "
            f"numpy SIMD {' '.join(simd) or '?'}; OpenBLAS kernels {blas}; torch capability "
            f"{torch_cap}{emulated}")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_command(csv: Path, repeat: int) -> tuple[float, float, dict]:
    """Median wall and CPU seconds of ``scaling fit law CSV --json`` in a fresh process (the
    interpreter's start and imports included), and its JSON."""
    walls, cpus, out = [], [], {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "SCALING_CACHE": cache}
            c0, t0 = _children_cpu(), time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "scaling", "fit", "law", str(csv),
                                   "--json"], capture_output=True, text=True, env=env)
            walls.append(time.perf_counter() - t0)
            cpus.append(_children_cpu() - c0)
        if proc.returncode != 0:
            raise SystemExit(f"scaling fit law failed: {proc.stderr.strip()}")
        out = json.loads(proc.stdout)
    return float(np.median(walls)), float(np.median(cpus)), out


def loop_child(csv: str, defaults: bool) -> None:
    """``--loop CSV``: run the reference loop here and print ``{"seconds", "objective"}``."""
    df = pd.read_csv(csv)
    c0, t0 = time.process_time(), time.perf_counter()
    f, _ = reference_loop(df["params"].to_numpy(float), df["tokens"].to_numpy(float),
                          df["loss"].to_numpy(float), options=None if defaults
                          else optim.LBFGS_OPTIONS)
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "objective": f}))


def time_loop(csv: Path, threads: str, defaults: bool = False) -> tuple[float, float, float]:
    """Wall and CPU seconds of the reference loop alone (its imports not counted; in a child
    process, like the command) and its best objective. ``threads="1"``: one BLAS thread, as
    the command uses; ``"default"``: the environment as it is."""
    args = [sys.executable, __file__, "--loop", str(csv)] + (["--scipy-defaults"] if defaults
                                                              else [])
    env = dict(os.environ)
    if threads != "default":
        env.update({k: threads for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                         "MKL_NUM_THREADS")})
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"reference loop failed: {proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    return out["seconds"], out["cpu"], out["objective"]


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
    ap.add_argument("--repeat", type=int, default=3, help="runs of the command (median)")
    ap.add_argument("--scipy-defaults", action="store_true",
                    help="also time the loop with scipy's default options")
    ap.add_argument("--loop-threads", choices=("1", "default"), default="1",
                    help="BLAS threads of the reference loop: 1 (as the command uses; its "
                    "best case on a shared machine) or the environment's default")
    ap.add_argument("--skip-grok", action="store_true", help="leave out the grokking part")
    ap.add_argument("--emulate-avx2", action="store_true",
                    help="run everything as on an AVX2-only CPU (module docstring)")
    ap.add_argument("--loop", metavar="CSV", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.emulate_avx2 and any(os.environ.get(k) != v for k, v in AVX2_ENV.items()):
        # numpy reads its switches when it loads: start again under them
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **AVX2_ENV})
    if args.loop:
        return loop_child(args.loop, args.scipy_defaults)

    print(f"machine: {cpu_capability()}")
    with tempfile.TemporaryDirectory() as tmp:
        csv = law_csv(Path(tmp) / "law240.csv")
        t_cli, c_cli, res = time_command(csv, args.repeat)
        t_ref, c_ref, f_ref = time_loop(csv, args.loop_threads)
        rel = abs(res["objective"] - f_ref) / abs(f_ref)
        ratio = t_ref / t_cli
        print("chinchilla fit, 240 points, 4,500 starts")
        print(f"  scaling fit law (CLI end to end, bootstrap {res['bootstrap']}, median of "
              f"{args.repeat}): {t_cli:8.3f} s wall, {c_cli:7.3f} s CPU   best objective "
              f"{res['objective']:.12g}")
        print(f"  scipy L-BFGS-B loop over the same starts (no bootstrap; BLAS threads "
              f"{args.loop_threads}): {t_ref:8.3f} s wall, {c_ref:7.3f} s CPU   best objective "
              f"{f_ref:.12g}")
        print(f"  ratio {ratio:.1f}x wall, {c_ref / c_cli:.1f}x CPU (target >= {TARGET:.0f}x: "
              f"{'met' if ratio >= TARGET else 'NOT met'}); objective relative difference "
              f"{rel:.2e} (target <= 1e-6); params (E, A, B, alpha, beta) "
              f"{np.round(list(res['params'].values()), 5).tolist()}")
        print(f"  load average while timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
              "(wall times of a busy machine are not comparable; the CPU ratio is steadier)")
        if args.scipy_defaults:
            t_def, c_def, f_def = time_loop(csv, args.loop_threads, defaults=True)
            print(f"  (scipy loop with scipy's default options: {t_def:.3f} s, best objective "
                  f"{f_def:.12g}, relative difference {abs(res['objective'] - f_def) / f_def:.2e},"
                  f" ratio {t_def / t_cli:.1f}x)")

    if not args.skip_grok:
        df = grok_data()
        fit_grok(df.iloc[:300], engine="numpy")  # warm-up (imports)
        t_grok, g = timed(lambda: fit_grok(df, engine="numpy"), args.repeat)
        counts = g.curves["status"].value_counts().to_dict()
        print(f"grokking: 1,000 curves x 30 points in {t_grok:.3f} s (median of {args.repeat}; "
              f"target < 5 s); verdicts {counts}")


if __name__ == "__main__":
    main()
