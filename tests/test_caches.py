"""The disk caches of predict: law fits (scaling.fit.cache) and a store's tables
(scaling.predict.points): a hit gives exactly what the computation gives, a change is a miss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scaling.cli import app
from scaling.fit import cache, chinchilla, fit_law, laws
from scaling.predict import load_points
from scaling.predict.simulate import BASELINE_LAW, RECIPE_LAW, simulate_table


def points(seed=0, noise=0.005):
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e5, 1e7, 4),
                                           np.geomspace(1e6, 1e9, 5), indexing="ij"))
    L = chinchilla(N, D, 1.8, 480, 2100, 0.35, 0.37) * (1 + noise * rng.standard_normal(20))
    runs = np.array([f"r{i // 2}" for i in range(20)])  # two points per run
    return N, D, L, runs


def test_fit_cache_hit_is_the_fit_and_changes_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_CACHE", str(tmp_path))
    N, D, L, runs = points()
    direct = fit_law(N, D, L, runs=runs, bootstrap=30, seed=3)
    first = cache.fit_law_cached(N, D, L, runs=runs, bootstrap=30, seed=3)
    assert len(list((tmp_path / "fits").glob("*.npz"))) == 1

    def no_refit(*a, **k):
        raise AssertionError("refitted although cached")

    monkeypatch.setattr(laws, "fit_law", no_refit)
    hit = cache.fit_law_cached(N, D, L, runs=runs, bootstrap=30, seed=3)
    for res in (first, hit):
        assert res.summary() == direct.summary()
        assert res.report() == direct.report()
        pd.testing.assert_frame_equal(res.params, direct.params)
        pd.testing.assert_frame_equal(res.bootstrap, direct.bootstrap)
        pd.testing.assert_frame_equal(res.correlation, direct.correlation)
        pd.testing.assert_frame_equal(res.data, direct.data)
        np.testing.assert_array_equal(res.theta, direct.theta)
        np.testing.assert_array_equal(res.cov, direct.cov)
        assert res.predict_interval(1e8, 1e10) == direct.predict_interval(1e8, 1e10)
    # another seed, another point, other runs: each a miss (which would refit)
    for kw in ({"seed": 4}, {"L": L * (1 + 1e-9 * (np.arange(20) == 7))},
               {"runs": np.array([f"r{i}" for i in range(20)])}):
        args = {"N": N, "D": D, "L": L, "runs": runs, "bootstrap": 30, "seed": 3, **kw}
        with pytest.raises(AssertionError, match="refitted"):
            cache.fit_law_cached(**args)
    # a damaged entry is a miss, not an error
    for p in (tmp_path / "fits").glob("*.npz"):
        p.write_bytes(b"not an npz")
    with pytest.raises(AssertionError, match="refitted"):
        cache.fit_law_cached(N, D, L, runs=runs, bootstrap=30, seed=3)


def test_store_tables_cache_is_exact_and_follows_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_CACHE", str(tmp_path / "cache"))
    csv = tmp_path / "runs.csv"
    simulate_table({"prose=1": BASELINE_LAW, "prose=1;front=dyck:0.01": RECIPE_LAW},
                   skills={"prose=1": {"copy": 5e5}, "prose=1;front=dyck:0.01": {"copy": 2e5}},
                   noise=0.002).to_csv(csv, index=False)
    store = tmp_path / "grid"
    assert CliRunner().invoke(app, ["import", str(csv), "--out", str(store)]).exit_code == 0
    cold = load_points(store)
    assert len(list((tmp_path / "cache" / "store-tables").iterdir())) == 1
    warm = load_points(store)
    pd.testing.assert_frame_equal(warm.points, cold.points)
    pd.testing.assert_frame_equal(warm.skill_records, cold.skill_records)
    assert (warm.domain, warm.source) == (cold.domain, cold.source)
    # a run's metrics change: the store is read again and the change is seen
    run = sorted(p for p in store.iterdir() if p.is_dir())[0]
    m = run / "metrics.jsonl"
    lines = m.read_text().splitlines()
    m.write_text("\n".join(lines[:-1]) + "\n")  # drop the last record
    again = load_points(store)
    assert len(list((tmp_path / "cache" / "store-tables").iterdir())) == 2
    from scaling.store import load_runs

    fresh = load_runs(store).metrics
    assert len(again.skill_records) == int((fresh["kind"] == "skill").sum())


def test_cache_is_on_only_inside_the_prediction_layer(tmp_path, monkeypatch):
    from scaling.fit import fit_law_frame

    monkeypatch.setenv("SCALING_CACHE", str(tmp_path))
    N, D, L, runs = points()
    frame = pd.DataFrame({"params": N, "tokens": D, "loss": L, "run": runs})
    fit_law_frame(frame, points="all")  # `scaling fit law` and the library: no cache
    assert not (tmp_path / "fits").exists()
    with cache.enable():
        fit_law_frame(frame, points="all")
    assert len(list((tmp_path / "fits").glob("*.npz"))) == 1


def test_lm_solves_are_cached_inside_the_prediction_layer(tmp_path, monkeypatch):
    from scaling.fit import forms, optim

    monkeypatch.setenv("SCALING_CACHE", str(tmp_path))
    N, D, L, _ = points()
    X, logL = optim.design("chinchilla", N, D), np.log(L)
    bounds = np.array(forms.CHINCHILLA.bounds)
    starts = forms.CHINCHILLA.start_grid()[::15]
    direct = optim.batch_lm_chunked("chinchilla", starts, X, logL, bounds, max_iter=20)
    assert not (tmp_path / "lm").exists()  # outside the prediction layer: no cache
    with cache.enable():
        first = optim.batch_lm_chunked("chinchilla", starts, X, logL, bounds, max_iter=20)

        def no_solve(*a, **k):
            raise AssertionError("solved again although cached")

        monkeypatch.setattr(optim, "_batch_lm_chunks", no_solve)
        hit = optim.batch_lm_chunked("chinchilla", starts, X, logL, bounds, max_iter=20)
        with pytest.raises(AssertionError, match="solved again"):  # another option: a miss
            optim.batch_lm_chunked("chinchilla", starts, X, logL, bounds, max_iter=21)
        with pytest.raises(AssertionError, match="solved again"):  # other data: a miss
            optim.batch_lm_chunked("chinchilla", starts, X, logL * 1.001, bounds, max_iter=20)
    for a, b, c in zip(direct, first, hit, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
