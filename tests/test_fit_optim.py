"""The batched solver (scaling.fit.optim): the staged screen, single-precision screening, per-row
data and bounds (the grokking sigmoids), and no scipy on a fit that needs no polish."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from scaling.fit import chinchilla, forms, optim


def law_points(seed=0, noise=0.01, sizes=12, budgets=20, E=1.8):
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e5, 1e8, sizes),
                                           np.geomspace(1e6, 1e10, budgets), indexing="ij"))
    L = chinchilla(N, D, E, 480, 2100, 0.35, 0.37) * (1 + noise * rng.standard_normal(N.size))
    return N, D, L


@pytest.mark.parametrize("seed,noise,E", [(0, 0.01, 1.8), (1, 0.002, 1.8), (2, 0.03, 0.5),
                                          (3, 0.005, 1e-3)])
def test_staged_screen_finds_the_optimum_of_a_flat_screen(seed, noise, E):
    # the staged, single-precision screen against the flat double-precision one it replaced
    # (12 steps from every start, the best 5% continued)
    N, D, L = law_points(seed, noise, sizes=6, budgets=8, E=E)
    X, logL = optim.design("chinchilla", N, D), np.log(L)
    bounds = np.array(forms.CHINCHILLA.bounds, float)
    grid = forms.CHINCHILLA.start_grid()
    th, f, info = optim.multistart("chinchilla", grid, X, logL, bounds)
    th0, f0, _ = optim.multistart("chinchilla", grid, X, logL, bounds,
                                  screen=((12, 0.05, "double"),))
    assert f == pytest.approx(f0, rel=1e-10)
    assert info["n_starts"] == 4500 and len(info["f"]) == 225


def test_single_precision_ranks_the_starts_as_double_does():
    N, D, L = law_points()
    X, logL = optim.design("chinchilla", N, D), np.log(L)
    bounds = np.array(forms.CHINCHILLA.bounds, float)
    grid = forms.CHINCHILLA.start_grid()[::5]
    _, f64, _ = optim.batch_lm("chinchilla", grid, X, logL, bounds, max_iter=3)
    th32, f32, _ = optim.batch_lm("chinchilla", grid, X, logL, bounds, max_iter=3,
                                  precision="single")
    assert th32.dtype == np.float64 and f32.dtype == np.float64  # handed back in double
    ok = np.isfinite(f64)
    assert np.median(np.abs(f32[ok] / f64[ok] - 1)) < 1e-4  # the paths part only where the
    # damped steps differ in rounding (a start on a ridge)
    top64, top32 = (set(np.argsort(f)[:45]) for f in (f64, f32))
    assert len(top64 & top32) >= 40


def test_per_row_data_and_bounds_solve_each_row_on_its_own():
    # the grokking sigmoids: every row its own curve (data, mask, box); a batch of rows gives
    # what each row gives alone
    from scaling.fit.grok import _batch_sigmoid, _bounds

    rng = np.random.default_rng(0)
    x = np.tile(np.log(np.geomspace(1e5, 1e9, 20)), (3, 1))
    mids = np.array([14.0, 16.0, 18.0])
    y = 0.05 + 0.9 / (1 + np.exp(-(x - mids[:, None]) / 0.5)) + 0.02 * rng.standard_normal(x.shape)
    mask = np.ones_like(x)
    mask[2, 15:] = 0.0  # a shorter curve: padding left out of its residuals
    lo, hi = _bounds(x.min(1), x.max(1), y.min(1), y.max(1))
    start = np.stack([np.full(3, 0.05), np.full(3, 0.9), mids + 1.0, np.log(np.full(3, 0.8))],
                     axis=1)
    th, rss = _batch_sigmoid(start, x, y, mask, lo, hi)
    for i in range(3):
        th1, rss1 = _batch_sigmoid(start[i:i + 1], x[i:i + 1], y[i:i + 1], mask[i:i + 1],
                                   lo[i:i + 1], hi[i:i + 1])
        assert np.array_equal(th1[0], th[i]) and rss1[0] == rss[i]
    assert np.abs(th[:2, 2] - mids[:2]).max() < 0.1


def test_fit_law_needs_no_scipy_when_the_search_converges(tmp_path):
    # scipy (~0.3 s of a command's start) is imported by the L-BFGS-B polish only
    N, D, L = law_points()
    csv = tmp_path / "law.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(csv, index=False)
    code = ("import sys, json, contextlib, io\n"
            "from scaling.cli import main\n"
            f"sys.argv = ['scaling', 'fit', 'law', {str(csv)!r}, '--json']\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            "    main()\n"
            "print(json.dumps({'fit': json.loads(out.getvalue()), 'scipy': sorted(\n"
            "    m for m in sys.modules if m.split('.')[0] == 'scipy')}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ,
                                            "SCALING_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["fit"]["bootstrap"] == 200 and got["fit"]["params"]["alpha"] == pytest.approx(
        0.35, abs=0.02)
    assert got["scipy"] == []


def test_polish_still_runs_and_limits_scipys_blas():
    N, D, L = law_points(sizes=4, budgets=5)
    X, logL = optim.design("chinchilla", N, D), np.log(L)
    bounds = np.array(forms.CHINCHILLA.bounds, float)
    res = optim.polish("chinchilla", np.array([0.5, 6.0, 7.5, 0.3, 0.3]), X, logL, bounds)
    f = optim.objective("chinchilla", res.x, X, logL)[0]
    assert res.fun == pytest.approx(f) and res.fun < optim.objective(
        "chinchilla", np.array([0.5, 6.0, 7.5, 0.3, 0.3]), X, logL)[0]
