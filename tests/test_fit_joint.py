"""Joint multi-recipe law: recovery of known multipliers and trends, savings, variant choice,
paired bootstrap, interval parts, bad input."""

import numpy as np
import pytest

from scaling.fit import FitError
from scaling.fit.joint import JointStructure, Variant, _Layout, fit_joint, parse_variant
from scaling.predict.joint import GAMMA_MAX, _excess, _z_family, joint_savings
from scaling.predict.simulate import (
    BASELINE_LAW,
    JOINT_SIZES,
    joint_loss,
    joint_true_savings,
    simulate_joint_grid,
)


def grid(k=1 / 0.7, gamma=0.0, seed=0, noise=0.003, sizes=JOINT_SIZES, **kw):
    return simulate_joint_grid({"base": (1.0, 0.0), "rec": (k, gamma)}, sizes=sizes,
                               noise=noise, seed=seed, **kw)


def test_recovers_multiplier_and_trend():
    """5 sizes, 0.3% noise: k (at N_ref = 1e5, the simulation's reference) and γ within
    tolerance, and the baseline's shared law too."""
    k, gamma = 1.6, -0.08
    law = fit_joint(grid(k, gamma, seed=1), "base", variant="trend", bootstrap=0,
                    n_ref=1e5)
    p = law.params.set_index("name")["value"]
    assert abs(p["k:rec"] / k - 1) < 0.05
    assert abs(p["gamma:rec"] - gamma) < 0.02
    assert abs(p["alpha"] - BASELINE_LAW["alpha"]) < 0.03
    assert abs(p["beta"] - BASELINE_LAW["beta"]) < 0.03
    # the savings are 1/k(N) in closed form, at any budget
    N = 4e6
    s_true = joint_true_savings(BASELINE_LAW, N, 20 * N, k, gamma, n_ref=1e5)
    s = law.savings("rec", N, [2 * N, 20 * N, 200 * N])
    assert np.allclose(s, s[0], rtol=1e-6)
    assert abs(s[0] / s_true - 1) < 0.06
    assert np.isclose(law.multiplier("rec", N), 1 / s[0], rtol=1e-9)


def test_recovers_multiplier_without_trend_and_bootstrap_covers_it():
    law = fit_joint(grid(seed=2), "base", variant="shared", bootstrap=60, seed=0)
    p = law.params.set_index("name")
    assert abs(p.loc["k:rec", "value"] * 0.7 - 1) < 0.02
    assert p.loc["k:rec", "ci_low"] <= 1 / 0.7 <= p.loc["k:rec", "ci_high"]
    assert p.loc["gamma:rec", "value"] == 0.0
    assert law.boot.shape == (60, len(law.layout.names))
    assert law.summary()["bootstrap"] == 60


def test_savings_by_inversion_match_the_closed_form_when_nothing_differs():
    """E and β free per recipe: on data from one shared law the fitted floors and exponents
    agree, and the inversion gives the closed form's answer."""
    g = grid(seed=3, noise=0.001)
    free = fit_joint(g, "base", variant="E,beta", bootstrap=0)
    shared = fit_joint(g, "base", variant="shared", bootstrap=0)
    N = 2e6
    assert abs(free.savings("rec", N, 20 * N) / shared.savings("rec", N, 20 * N) - 1) < 0.03
    assert abs(shared.savings("rec", N, 20 * N) - 0.7) < 0.01


def test_cv_prefers_no_trend_on_flat_effect_and_a_trend_on_a_strong_one():
    flat = fit_joint(grid(seed=4), "base", bootstrap=0)
    assert not flat.variant.trend
    assert flat.selection_method == "cv"
    assert sum(r["chosen"] for r in flat.selection) == 1
    strong = fit_joint(grid(gamma=0.2, seed=4), "base", bootstrap=0)
    assert strong.variant.trend
    chosen = [r for r in strong.selection if r["chosen"]][0]
    assert chosen["admissible"] and chosen["variant"] == strong.variant.name


def test_structure_gradient_matches_finite_differences():
    g = grid(seed=5)
    law = fit_joint(g, "base", variant="E,beta,gamma", bootstrap=0)
    d = law.data
    st = JointStructure(law.layout.design(d.ri, np.log(d.N), np.log(d.D), d.lN0))
    th = law.theta + 0.01
    f, grad = st.f_and_grad(th, d.logL, None, 1e-3)
    num = np.array([(st.f_and_grad(th + h, d.logL, None, 1e-3)[0]
                     - st.f_and_grad(th - h, d.logL, None, 1e-3)[0]) / 2e-6
                    for h in np.eye(len(th)) * 1e-6])
    assert np.allclose(grad, num, rtol=1e-4, atol=1e-9)


def test_layout_embeds_shared_values_per_recipe():
    simple = _Layout(["b", "r"], Variant())
    free = _Layout(["b", "r"], Variant(False, False, True))
    th = np.arange(len(simple.names), dtype=float)[None, :] / 10
    out = free.embed(simple, th)[0]
    assert out[free.index["e:b"]] == out[free.index["e:r"]] == th[0, simple.index["e"]]
    assert out[free.index["g:r"]] == 0.0
    assert parse_variant("beta,gamma") == Variant(True, False, True)
    with pytest.raises(FitError, match="unknown joint-law variant"):
        parse_variant("alpha")


def test_answer_parts_and_coverage_of_one_grid():
    """The interval parts are reported, each at least as wide as the one before, and the
    interval holds the truth on a well-specified grid."""
    law = fit_joint(grid(seed=6), "base", bootstrap=100, seed=0)
    N = 10 * JOINT_SIZES[-1]
    a = joint_savings(law, "rec", N, 20 * N)
    assert a.confident
    assert set(a.parts) >= {"bootstrap", "variants", "extrapolation"}
    assert a.parts["extrapolation"]["nested"]["available"]
    lo, hi = a.interval
    assert lo <= 0.7 <= hi
    truth = joint_loss(BASELINE_LAW, N, 20 * N, 1 / 0.7)
    assert a.loss_recipe_interval[0] <= truth <= a.loss_recipe_interval[1]
    assert a.summary()["variant"] == law.variant.name


def test_variant_spread_counts_only_disagreements_beyond_noise():
    """Hausman gate: a variant's squared difference counts (less its variance) only beyond
    z² of its variance, z family-wise over the alternatives (Bonferroni)."""
    assert _z_family(0.9, 1) == pytest.approx(1.6448536, rel=1e-6)
    assert _z_family(0.9, 7) == pytest.approx(2.4500, rel=1e-4)  # quantile of 1 − 0.1 / 14
    z2 = _z_family(0.9, 7) ** 2
    v = 0.01 ** 2
    assert _excess(0.9 * z2 * v, v, z2) == 0.0  # within noise: nothing
    assert _excess(4 * z2 * v, v, z2) == pytest.approx(4 * z2 * v - v)
    assert _excess(1e-6, 0.0, z2) == 1e-6  # no variance: any difference is one
    # on a fitted grid: a variant is flagged exactly where its difference passes the gate,
    # and the part is nonzero exactly when one is flagged
    law = fit_joint(grid(seed=0), "base", bootstrap=60, seed=0)
    N = 10 * JOINT_SIZES[-1]
    a = joint_savings(law, "rec", N, 20 * N)
    fits = a.parts["variants"]["fits"]
    z2 = _z_family(0.9, len(fits) - 1) ** 2
    v0 = fits[0]["var_log"]
    for f in fits:
        d2 = np.log(f["savings"] / a.savings_ratio) ** 2
        assert f["disagrees"] == (d2 > z2 * abs(f["var_log"] - v0))
    assert (a.parts["variants"]["sd_log"] > 0) == any(f["disagrees"] for f in fits)


def test_few_sizes_are_not_confident():
    g = grid(seed=7, sizes=JOINT_SIZES[:2])
    law = fit_joint(g, "base", bootstrap=60, seed=0)
    N = 10 * JOINT_SIZES[1]
    a = joint_savings(law, "rec", N, 20 * N)
    assert not a.confident
    assert "trend_prior" in a.parts and a.parts["trend_prior"]["gamma_max"] == GAMMA_MAX
    assert any("not confident" in w for w in a.warnings)
    assert law.selection_method == "aic"
    # the trend prior widens the interval beyond the bootstrap's
    lo, hi = a.interval
    blo, bhi = a.parts["bootstrap"]["interval"]
    assert np.log(hi / lo) > 2 * np.log(bhi / blo)


def test_bad_input_names_what_to_fix():
    g = grid(seed=0)
    with pytest.raises(FitError, match="baseline 'nope' has no points; recipes: base, rec"):
        fit_joint(g, "nope")
    with pytest.raises(FitError, match="at least 2"):
        fit_joint(g[g["recipe"] == "base"], "base")
    one = g[g["params"] == JOINT_SIZES[0]]
    with pytest.raises(FitError, match="2 model sizes"):
        fit_joint(one, "base")


# --------------------------------------------------------------------------- the product

REC, BASE = "prose=1;front=dyck:0.01", "prose=1"
KEYS = {"recipe", "baseline", "size", "tokens", "target_domain", "savings_ratio", "interval",
        "loss_recipe", "loss_baseline", "extrapolated", "warnings"}


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("joint") / "points.csv"
    simulate_joint_grid({BASE: (1.0, 0.0), REC: (1 / 0.7, 0.0)}, noise=0.003,
                        seed=11).to_csv(path, index=False)
    return path


def test_predict_defaults_to_the_joint_law(csv):
    from scaling.predict import predict_savings

    res = predict_savings(csv, REC, bootstrap=60)
    doc = res.summary()
    assert res.form == "joint" and doc["method"] == "joint"
    assert KEYS <= set(doc) and doc["joint"]["variant"] == res.joint["variant"]
    assert abs(res.savings_ratio - 0.7) < 0.02
    assert res.interval[0] <= 0.7 <= res.interval[1]
    assert set(doc["extrapolation"]["parts"]) >= {"bootstrap", "variants", "extrapolation"}
    ind = predict_savings(csv, REC, bootstrap=60, method="independent")
    assert ind.form == "chinchilla" and ind.summary()["method"] == "independent"
    # the joint interval is the narrower one on this grid (5 sizes, target 10x beyond)
    assert res.width < ind.width


def test_method_through_the_cli_and_its_errors(csv):
    import json

    from typer.testing import CliRunner

    from scaling.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--bootstrap", "30",
                            "--method", "independent", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["method"] == "independent"
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--method", "both"])
    assert r.exit_code != 0 and "--method must be 'joint' or 'independent'" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", "prose=1;front=dyck:0.02",
                            "--method", "joint"])
    assert r.exit_code != 0 and "needs a recipe of the grid" in r.output


def test_backtest_savings_use_the_joint_law(csv):
    from scaling.predict import backtest

    res = backtest(csv, bootstrap=40)
    sav = [c for c in res.cases if c["kind"] == "savings"]
    assert sav and all(c["method"] == "joint" for c in sav)
    ind = backtest(csv, bootstrap=40, method="independent")
    assert all(c["method"] == "independent" for c in ind.cases if c["kind"] == "savings")
    # the true savings are 1/k = 0.7 at every size; the backtest's own truth is measured on
    # the held-out runs (one seed, 0.3% noise) and scatters about it
    assert abs(sav[0]["predicted"] - 0.7) < 0.02
    assert sav[0]["measurement_scatter_log"] > 0


def test_one_seed_store_has_a_real_interval(tmp_path):
    """One run per (recipe, size) with decay branches: the bootstrap resamples end points
    (warned) and the interval is not collapsed to a point."""
    from scaling.predict import predict_savings
    from scaling.predict.simulate import simulate_store

    laws = {BASE: BASELINE_LAW, REC: {**BASELINE_LAW, "B": 80.0}}
    simulate_store(laws, tmp_path / "s", sizes=(12e3, 35e3, 100e3), seed=1)
    res = predict_savings(tmp_path / "s", REC, size=100e3, bootstrap=30, skills=False)
    assert res.form == "joint" and res.joint["selection_method"] == "aic"
    lo, hi = res.interval
    assert hi / lo > 1.05
    assert any("resamples run end points" in w for w in res.warnings)
    truth = (80.0 / 120.0) ** (1 / BASELINE_LAW["beta"])
    assert abs(np.log(res.savings_ratio / truth)) < 0.1
