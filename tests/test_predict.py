"""Savings predictions on simulated grids from known per-recipe laws (exact truth known)."""

from __future__ import annotations

import numpy as np
import pytest

from scaling.errors import ScalingError
from scaling.predict import PredictError, independent
from scaling.predict import predict_savings as _predict_savings
from scaling.predict.independent import procedural_share
from scaling.predict.points import load_points
from scaling.predict.simulate import BASELINE_LAW, RECIPE_LAW, simulate_grid, true_savings
from scaling.recipe import RecipeError

REC, BASE = "prose=1;front=dyck:0.01", "prose=1"


def predict_savings(*args, **kw):
    """These tests check the independent per-recipe fits (``method="independent"``); the
    joint law's are in tests/test_fit_joint.py."""
    return _predict_savings(*args, method=kw.pop("method", "independent"), **kw)
LAWS = {BASE: BASELINE_LAW, REC: RECIPE_LAW}


@pytest.fixture(scope="module")
def grid():
    return load_points(simulate_grid(LAWS, seeds=2, noise=0.001, seed=3))


def test_in_grid_savings_match_truth(grid):
    # at the largest grid size the laws interpolate: the answer is close and not extrapolated
    res = predict_savings(grid, REC, size=200e3, tokens="20x", bootstrap=60)
    truth = true_savings(BASELINE_LAW, RECIPE_LAW, 200e3, 4e6)
    assert abs(res.savings_ratio - truth) < 0.03
    lo, hi = res.interval
    assert lo <= truth <= hi and hi - lo < 0.2
    assert not res.extrapolated
    assert res.baseline == BASE and res.tokens == 4e6 and res.form == "chinchilla"
    # loss_baseline is the baseline law at (N, D_b); D_r reaches it
    assert res.loss_baseline == pytest.approx(
        BASELINE_LAW["E"] + BASELINE_LAW["A"] / 200e3 ** 0.35 + 120 / 4e6 ** 0.3, rel=0.01)
    assert res.tokens_recipe == pytest.approx(res.savings_ratio * 4e6)


def test_default_target_is_10x_extrapolated_and_widened(grid, monkeypatch):
    res = predict_savings(grid, "prose=1; front=dyck:0.01", bootstrap=40)
    truth = true_savings(BASELINE_LAW, RECIPE_LAW, 2e6, 4e7)
    assert res.size == 2e6 and res.tokens == 4e7  # 10× the largest size, 20 tokens/param
    assert res.extrapolated
    assert any("10×" in w and "decade" in w for w in res.warnings)
    assert abs(res.savings_ratio - truth) < 0.1
    assert res.interval[0] <= truth <= res.interval[1]
    ext = res.extrapolation
    assert ext["drift"]["method"] == "leave-largest-size-out"
    assert ext["widening_sd_log"] > 0
    narrow = predict_savings(grid, REC, bootstrap=40, widen=False)
    assert narrow.savings_ratio == pytest.approx(res.savings_ratio)
    # the widening multiplies each sample by exp(tau z): tau = c * drift * ln(N / N_max)
    tau = ext["widening_sd_log"]
    assert tau == pytest.approx(independent.WIDEN_C * ext["drift"]["delta"] * np.log(10))
    z = np.log(res.samples / narrow.samples) / tau
    assert np.allclose(z, np.random.default_rng(7).standard_normal(z.size))
    monkeypatch.setattr(independent, "WIDEN_C", 10.0)
    wide = predict_savings(grid, REC, bootstrap=40)
    assert (wide.interval[1] / wide.interval[0]) > 2 * (narrow.interval[1] / narrow.interval[0])
    s = res.summary()
    for key in ("recipe", "baseline", "size", "tokens", "target_domain", "savings_ratio",
                "interval", "loss_recipe", "loss_baseline", "extrapolated", "warnings",
                "count_procedural"):
        assert key in s
    assert s["size"] == 2e6 and s["tokens"] == 4e7 and s["extrapolated"] is True
    assert s["count_procedural"] is True and s["interval"] == list(res.interval)


def test_size_and_tokens_strings(grid):
    res = predict_savings(grid, REC, size="100k", tokens="4M", bootstrap=20)
    assert res.size == 1e5 and res.tokens == 4e6 and not res.extrapolated


def test_recipe_equal_baseline_is_exactly_one(grid):
    res = predict_savings(grid, BASE, baseline="prose=1", bootstrap=20)
    assert res.savings_ratio == pytest.approx(1.0)
    assert res.interval == pytest.approx((1.0, 1.0))
    assert any("same" in w for w in res.warnings)


def test_count_procedural_removes_the_front_share(grid):
    assert procedural_share(REC) == pytest.approx(0.01)
    assert procedural_share("prose=0.5,dyck=0.5;front=sort:0.1") == pytest.approx(0.55)
    assert procedural_share("imported") == 0.0
    a = predict_savings(grid, REC, size=100e3, bootstrap=20)
    b = predict_savings(grid, REC, size=100e3, bootstrap=20, count_procedural=False)
    assert b.savings_ratio == pytest.approx(a.savings_ratio * 0.99)
    assert not b.count_procedural and "not counted" in b.report()


def test_costly_recipe_reported_above_one():
    worse = dict(BASELINE_LAW, B=200.0)
    g = load_points(simulate_grid({BASE: BASELINE_LAW, "prose=1;front=dyck:0.1": worse},
                                  noise=0.0))
    res = predict_savings(g, "prose=1;front=dyck:0.1", size=100e3, bootstrap=20)
    truth = true_savings(BASELINE_LAW, worse, 100e3, 2e6)
    assert truth > 1 and res.savings_ratio == pytest.approx(truth, rel=1e-3)
    assert "costs data" in res.report()


def test_unreachable_loss_says_the_reachable_range():
    # the recipe's floor (E) is above the baseline's loss at a long budget
    high = dict(RECIPE_LAW, E=2.2)
    g = load_points(simulate_grid({BASE: BASELINE_LAW, REC: high}, noise=0.0))
    res = predict_savings(g, REC, size=100e3, tokens="2000x", bootstrap=20)
    assert np.isinf(res.savings_ratio) and res.summary()["savings_ratio"] is None
    msg = " ".join(res.warnings)
    assert "never reaches" in msg and "floor" in msg and "reaches only losses above" in msg
    assert "never reaches" in res.report()


def test_size_below_grid_is_flagged(grid):
    res = predict_savings(grid, REC, size="5k", bootstrap=20)
    assert res.extrapolated
    assert any("below the grid's smallest" in w for w in res.warnings)


def test_single_size_uses_power_laws():
    g = load_points(simulate_grid(LAWS, sizes=(100e3,), ratios=(5, 10, 20, 40, 80),
                                  noise=0.0))
    res = predict_savings(g, REC, bootstrap=30)
    assert res.form == "power" and res.size == 100e3  # the grid's only size
    truth = true_savings(BASELINE_LAW, RECIPE_LAW, 100e3, 2e6)
    assert res.savings_ratio == pytest.approx(truth, rel=0.02)
    asked = predict_savings(g, REC, size="1M", tokens="2M", bootstrap=30)
    assert asked.size == 100e3
    assert any("one model size" in w for w in asked.warnings)


def test_bad_inputs_say_what_to_fix(grid):
    with pytest.raises(RecipeError, match="dyk"):
        predict_savings(grid, "prose=1;front=dyk:0.01")
    with pytest.raises(PredictError, match="baseline 'code=1' has no runs"):
        predict_savings(grid, REC, baseline="code=1")
    nob = load_points(simulate_grid({REC: RECIPE_LAW, "code=1": BASELINE_LAW}, noise=0.0))
    with pytest.raises(PredictError, match="--baseline"):
        predict_savings(nob, REC)
    with pytest.raises(PredictError, match="not in the grid and cannot be interpolated"):
        predict_savings(grid, "prose=1;front=sort:0.01")
    with pytest.raises(ScalingError):
        predict_savings(grid, REC, size="-3")


def test_interpolation_between_front_fractions():
    # the savings multiplier m (B_r = B_b·m^beta) moves linearly in log10 of the fraction
    laws = {BASE: BASELINE_LAW,
            "prose=1;front=dyck:0.001": dict(BASELINE_LAW, B=120.0 * 0.9 ** 0.3),
            "prose=1;front=dyck:0.1": dict(BASELINE_LAW, B=120.0 * 0.5 ** 0.3)}
    g = load_points(simulate_grid(laws, noise=0.0))
    res = predict_savings(g, "prose=1;front=dyck:0.01", size=100e3, bootstrap=30)
    # each grid recipe saves a constant fraction (0.9, 0.5): ln s is interpolated halfway
    assert res.savings_ratio == pytest.approx(np.sqrt(0.9 * 0.5), rel=0.02)
    assert res.recipe == "prose=1;front=dyck:0.01"
    assert res.interpolation["parameters"] == ["log10_front_fraction"]
    assert res.interpolation["weights"] == pytest.approx([0.5, 0.5])
    assert not res.extrapolated
    out = predict_savings(g, "prose=1;front=dyck:0.3", size=100e3, bootstrap=30)
    assert out.extrapolated and any("outside the grid's hull" in w for w in out.warnings)


def test_front_fraction_interpolates_towards_the_baseline(grid):
    # only one front-loaded recipe: the baseline is its fraction-0 end (s = 1)
    res = predict_savings(grid, "prose=1;front=dyck:0.001", size=100e3, bootstrap=20)
    full = predict_savings(grid, REC, size=100e3, bootstrap=20)
    assert res.interpolation["parameters"] == ["front_fraction"]
    assert res.interpolation["from"] == [BASE, REC]
    assert np.log(res.savings_ratio) == pytest.approx(0.1 * np.log(full.savings_ratio))
    assert res.interval[0] < res.savings_ratio < res.interval[1]
    assert any("not in the grid: interpolated" in w for w in res.warnings)


def test_mixture_weights_interpolate_through_the_mixture_law():
    # 10 prose/code mixtures whose savings are known: ln s = -0.6 * w_code (B scaled, same
    # beta, so s is the same at every size and budget)
    beta = BASELINE_LAW["beta"]
    laws = {BASE: BASELINE_LAW}
    for w in np.linspace(0.05, 0.95, 10):
        name = f"code={w:.2f},prose={1 - w:.2f}"
        laws[name] = dict(BASELINE_LAW, B=120.0 * np.exp(-0.6 * w) ** beta)
    g = load_points(simulate_grid(laws, sizes=(50e3, 100e3), ratios=(5, 20, 80), noise=0.0))
    res = predict_savings(g, "prose=0.58,code=0.42", size=100e3, bootstrap=10)
    assert res.interpolation["method"].startswith("mixture law")
    assert res.savings_ratio == pytest.approx(np.exp(-0.6 * 0.42), rel=0.03)
    assert res.interval[0] <= res.savings_ratio <= res.interval[1]
    assert not res.extrapolated


@pytest.mark.parametrize("lo, hi, words", [
    (0.5, 0.9, "saves data"), (1.1, 1.5, "costs data"), (0.27, 1.53, "no resolved difference"),
    (0.9, 1.0, "no resolved difference"), (1.0, 1.2, "no resolved difference"),
    (1.2, np.inf, "costs data"), (0.8, np.inf, "no resolved difference"),
    (np.nan, np.nan, "no interval")])
def test_verdict_follows_the_interval_not_the_point(lo, hi, words):
    from scaling.predict.result import verdict

    assert verdict(lo, hi) == words


def test_a_point_below_one_with_an_interval_across_one_is_not_said_to_save_data():
    # the demo's case: s < 1 but the interval reaches above 1 (truth s = 0.967)
    near = dict(BASELINE_LAW, B=BASELINE_LAW["B"] * 0.99)
    g = load_points(simulate_grid({BASE: BASELINE_LAW, REC: near}, seeds=2, noise=0.01, seed=3))
    res = predict_savings(g, REC, size=100e3, bootstrap=30)
    lo, hi = res.interval
    assert res.savings_ratio < 1 and lo < 1 < hi
    assert res.verdict == "no resolved difference" == res.summary()["verdict"]
    assert "no resolved difference" in res.sentence() and "saves data" not in res.report()
    # bootstrap 0: no interval, said plainly, and no verdict
    none = predict_savings(g, REC, size=100e3, bootstrap=0)
    assert none.verdict == "no interval" and none.summary()["interval"] == [None, None]
    text = none.report()
    assert "no interval" in text and "nan" not in text and "never" not in text
    assert "saves data" not in text and "costs data" not in text
