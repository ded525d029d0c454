"""Grokking-curve fits: midpoints of known sigmoids, verdicts by model comparison, edge cases."""

import numpy as np
import pandas as pd
import pytest

from scaling import RunWriter
from scaling.fit import fit_grok, fit_grok_curve, load_grok_table, sigmoid_log, speedup
from scaling.tables import TableError

TOKENS = np.geomspace(1e5, 1e9, 30)


def sigmoid_curves(n, seed, noise=0.02, prefix="g"):
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    for i in range(n):
        mid = float(np.exp(rng.uniform(np.log(1e6), np.log(1e8))))
        width = rng.uniform(0.2, 0.8)
        v = sigmoid_log(TOKENS, 0.02, 0.95, mid, width) + noise * rng.standard_normal(30)
        truth[f"{prefix}{i}"] = mid
        rows += [(f"{prefix}{i}", t, y) for t, y in zip(TOKENS, v, strict=True)]
    return pd.DataFrame(rows, columns=["curve", "tokens", "value"]), truth


def flat_curves(n, seed, noise=0.02):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        v = 0.05 + noise * rng.standard_normal(30)
        rows += [(f"f{i}", t, y) for t, y in zip(TOKENS, v, strict=True)]
    return pd.DataFrame(rows, columns=["curve", "tokens", "value"])


def test_midpoints_recovered_within_5_percent_in_log_tokens():
    df, truth = sigmoid_curves(100, seed=0)
    res = fit_grok(df, engine="numpy")
    c = res.curves.set_index("curve")
    true = np.array([truth[k] for k in c.index])
    assert (c["status"] == "grokked").all()
    rel = np.abs(np.log(c["midpoint"]) / np.log(true) - 1)
    assert rel.max() < 0.05
    assert np.median(np.abs(np.log(c["midpoint"] / true))) < 0.05  # tokens within ~5%
    covered = (c["midpoint_lo"] <= true) & (true <= c["midpoint_hi"])
    assert covered.mean() > 0.75


def test_flat_noisy_curves_are_rarely_called_grokked():
    res = fit_grok(flat_curves(200, seed=1), engine="numpy")
    assert res.curves["grokked"].mean() <= 0.05
    assert (res.curves["status"] == "never").mean() >= 0.8


def test_linear_in_log_curve_is_not_yet_and_late_sigmoid_is_not_yet():
    rng = np.random.default_rng(2)
    lin = 0.05 + 0.03 * np.log(TOKENS / 1e5) + 0.01 * rng.standard_normal(30)
    late = sigmoid_log(TOKENS, 0.0, 1.0, 5e9, 0.5) + 0.01 * rng.standard_normal(30)
    df = pd.concat([pd.DataFrame({"curve": "lin", "tokens": TOKENS, "value": lin}),
                    pd.DataFrame({"curve": "late", "tokens": TOKENS, "value": late})])
    c = fit_grok(df).curves.set_index("curve")
    assert c.loc["lin", "status"] == "not_yet"
    assert c.loc["late", "status"] == "not_yet"
    assert not c["grokked"].any()


def test_lmfit_and_batched_engines_agree():
    df, _ = sigmoid_curves(5, seed=3)
    a = fit_grok(df, engine="lmfit").curves.set_index("curve")
    b = fit_grok(df, engine="numpy").curves.set_index("curve")
    np.testing.assert_allclose(np.log(a["midpoint"]), np.log(b["midpoint"]), rtol=1e-4)
    np.testing.assert_allclose(a["width"], b["width"], rtol=1e-3)


def test_step_zero_constant_and_short_curves_do_not_crash():
    t = np.concatenate([[0.0], TOKENS])
    good = sigmoid_log(np.maximum(t, 1), 0.0, 1.0, 1e7, 0.4)
    df = pd.concat([
        pd.DataFrame({"curve": "zero", "tokens": t, "value": good}),
        pd.DataFrame({"curve": "const", "tokens": t, "value": 0.25}),
        pd.DataFrame({"curve": "short", "tokens": [0, 1e6, 1e7, 1e8], "value": [0, 0, 1, 1.0]}),
        pd.DataFrame({"curve": "nan", "tokens": TOKENS, "value": np.where(
            np.arange(30) == 4, np.nan, sigmoid_log(TOKENS, 0.0, 1.0, 1e6, 0.3))}),
    ])
    res = fit_grok(df)
    c = res.curves.set_index("curve")
    assert c.loc["zero", "status"] == "grokked"
    assert c.loc["zero", "midpoint"] == pytest.approx(1e7, rel=0.01)
    assert any("tokens = 0" in w for w in c.loc["zero", "warnings"])
    assert c.loc["const", "status"] == "never" and not c.loc["const", "grokked"]
    assert np.isnan(c.loc["short", "midpoint"]) and c.loc["short", "warnings"]
    assert c.loc["nan", "status"] == "grokked"
    assert any("1 rows with missing" in w for w in res.warnings)
    s = res.summary()
    assert {d["curve"] for d in s["curves"]} == {"zero", "const", "short", "nan"}
    assert set(s["curves"][0]) >= {"curve", "grokked", "midpoint", "width", "floor", "ceiling",
                                   "ci", "r2", "status"}
    # predictions: at tokens 0 the sigmoid's floor
    p = res.predict(["zero", "zero"], [0.0, 1e9])
    assert p[0] == pytest.approx(c.loc["zero", "floor"], abs=1e-6)
    assert p[1] == pytest.approx(1.0, abs=0.01)
    lo, hi = res.predict_interval(["zero"], [1e7])
    assert lo[0] <= 0.5 + 1e-3 and hi[0] >= 0.5 - 1e-3


def test_bad_grok_tables_are_named():
    with pytest.raises(TableError, match="lacks column 'curve'"):
        fit_grok(pd.DataFrame({"tokens": [1, 2], "value": [0, 1]}))
    with pytest.raises(TableError, match="must be ≥ 0; rows 4 are not"):
        fit_grok(pd.DataFrame({"curve": "a", "tokens": [1, 2, -1], "value": [0, 1, 1]}))
    with pytest.raises(TableError, match="'resolution' of the table is not numeric"):
        fit_grok(pd.DataFrame({"curve": "a", "tokens": [1, 2], "value": [0, 1],
                               "resolution": ["1/32", 0.03]}))
    with pytest.raises(TableError, match="'resolution' of the table must be > 0; rows 2"):
        fit_grok(pd.DataFrame({"curve": "a", "tokens": [1, 2], "value": [0, 1],
                               "resolution": [-0.1, 0.1]}))


def test_speedup_is_ratio_of_midpoints_with_interval():
    rng = np.random.default_rng(4)
    frames = {}
    for recipe, mid in (("base", 4e7), ("dyck", 1e7)):
        rows = []
        for seed in range(3):
            for skill, f in (("copy", 1.0), ("sort", 3.0)):
                v = sigmoid_log(TOKENS, 0.0, 1.0, mid * f, 0.4) + 0.02 * rng.standard_normal(30)
                rows += [(f"{recipe}{seed}/{skill}", t, y, skill) for t, y in
                         zip(TOKENS, v, strict=True)]
        frames[recipe] = fit_grok(pd.DataFrame(rows, columns=["curve", "tokens", "value",
                                                              "skill"]))
    sp = speedup(frames["base"], frames["dyck"], by="skill").set_index("skill")
    both = fit_grok(pd.concat([
        pd.DataFrame({"curve": f"{r}/copy", "tokens": TOKENS, "skill": "copy", "recipe": r,
                      "value": sigmoid_log(TOKENS, 0.0, 1.0, m, 0.4)})
        for r, m in (("base", 4e7), ("dyck", 2e7))]))
    sp2 = speedup(both.select(recipe="base"), both.select(recipe="dyck"))
    assert sp2["speedup"].iloc[0] == pytest.approx(2.0, rel=1e-3)
    for skill in ("copy", "sort"):
        assert sp.loc[skill, "speedup"] == pytest.approx(4.0, rel=0.1)
        assert sp.loc[skill, "lower"] < 4.0 < sp.loc[skill, "upper"]
        assert sp.loc[skill, "n_baseline"] == 3
        # each side's ln-midpoint standard error, combined into the ratio's interval
        se = np.hypot(sp.loc[skill, "log_se_baseline"], sp.loc[skill, "log_se_other"])
        assert 0 < sp.loc[skill, "log_se_other"] < 0.5
        assert np.log(sp.loc[skill, "upper"] / sp.loc[skill, "speedup"]) == \
            pytest.approx(1.6448536 * se, rel=1e-6)


def test_speedup_keeps_the_se_of_the_side_that_groks():
    rows = [("b/copy", t, 0.0, "copy") for t in TOKENS]  # baseline never groks
    rows += [("o/copy", t, float(sigmoid_log(t, 0.0, 1.0, 1e7, 0.4)), "copy") for t in TOKENS]
    g = fit_grok(pd.DataFrame(rows, columns=["curve", "tokens", "value", "skill"])
                 .assign(recipe=lambda d: d["curve"].str[0]))
    sp = speedup(g.select(recipe="b"), g.select(recipe="o")).iloc[0]
    assert np.isnan(sp["speedup"]) and np.isnan(sp["log_se_baseline"])
    assert sp["midpoint_other"] == pytest.approx(1e7, rel=1e-3) and sp["log_se_other"] >= 0


def test_grok_from_run_store(tmp_path):
    for seed in range(2):
        w = RunWriter.in_grid(tmp_path / "g", {"recipe": "prose=1", "n_params": 1000,
                                               "seed": seed})
        w.log_many([dict(step=i, tokens=int(t), kind="skill", name=name,
                         value=float(sigmoid_log(max(t, 1), 0, 1, m, 0.5)))
                    for i, t in enumerate(np.concatenate([[0], TOKENS]))
                    for name, m in (("copy", 1e6), ("add", 1e8))])
        w.mark_done()
    df = load_grok_table(tmp_path / "g")
    assert (df["metric"] == "exact_match").all()  # records without a metric: probe scores
    res = fit_grok(df)
    c = res.curves
    assert len(c) == 4 and c["grokked"].all()
    assert set(c["skill"]) == {"copy", "add"}
    add = c[c["skill"] == "add"]["midpoint"]
    assert np.allclose(add, 1e8, rtol=0.01)
    one = fit_grok_curve(TOKENS, sigmoid_log(TOKENS, 0.1, 0.9, 3e6, 0.3))
    assert one.curves["midpoint"].iloc[0] == pytest.approx(3e6, rel=1e-3)


def test_a_one_item_rise_is_not_grokking_when_the_resolution_is_known(tmp_path):
    """Accuracies over 32 items move in steps of 1/32: a curve that goes 0 → 1/32 at its last
    two checkpoints is a perfect step for the sigmoid unless the fit knows the step."""
    t = np.geomspace(1e4, 1e6, 12)
    blip = np.r_[np.zeros(10), 1 / 32, 1 / 32]
    rng = np.random.default_rng(5)
    real = np.round(32 * sigmoid_log(t, 0.0, 0.9, 1e5, 0.3) + rng.normal(0, 0.7, 12)) / 32
    df = pd.concat([pd.DataFrame({"curve": "blip", "tokens": t, "value": blip}),
                    pd.DataFrame({"curve": "real", "tokens": t, "value": real})])
    blind = fit_grok(df).curves.set_index("curve")["status"]
    assert blind["blip"] == "grokked"  # what the floor is for
    known = fit_grok(df.assign(resolution=1 / 32)).curves.set_index("curve")["status"]
    assert known["blip"] != "grokked" and known["real"] == "grokked"
    # from a store, the run's probe_n gives the resolution
    w = RunWriter.in_grid(tmp_path / "g", {"recipe": "prose=1", "n_params": 1000, "seed": 0,
                                           "data": {"probe_n": 32}})
    w.log_many([dict(step=i + 1, tokens=float(x), kind="skill", name="add", value=float(v))
                for i, (x, v) in enumerate(zip(t, blip, strict=True))])
    w.mark_done()
    table = load_grok_table(tmp_path / "g")
    assert np.allclose(table["resolution"], 1 / 32)
    assert not fit_grok(table).curves["grokked"].any()


def test_a_rise_within_one_evaluations_noise_is_not_grokking():
    # items right (of 256) of 2-digit addition in the skills grid's width-128 mixture, 40
    # evaluations: 0 for 6M tokens, then 0-5 items. The sigmoid beats flat and linear by BIC
    # (the rounding floor does not stop it), but its rise (~1%) is within two binomial sds of
    # one evaluation at that level, so it is no transition. A rise to 6% (15 items) is many
    # sds and stays one.
    t = np.r_[np.geomspace(3.3e4, 1e6, 10), np.linspace(1.2e6, 1.2e7, 30)]
    tiny = np.r_[np.zeros(24), 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 0, 3, 5, 2, 1] / 256
    real = np.round(256 * sigmoid_log(t, 0.0, 0.06, 2e6, 0.2)) / 256
    df = pd.concat([pd.DataFrame({"curve": "tiny", "tokens": t, "value": tiny}),
                    pd.DataFrame({"curve": "real", "tokens": t, "value": real})])
    res = fit_grok(df.assign(resolution=1 / 256)).curves.set_index("curve")
    assert res.loc["real", "status"] == "grokked"
    assert res.loc["tiny", "status"] != "grokked"
    assert any("within the noise of one evaluation on 256 items" in w
               for w in res.loc["tiny", "warnings"])



def test_by_majority_keeps_midpoints_of_groups_that_mostly_grok():
    """Two of three seeds grok → the group keeps its midpoints; one of three → none of them
    counts for the speed-up, though each curve's own verdict stays."""
    from scaling.errors import ScalingError

    t = np.geomspace(1e3, 1e6, 30)
    rows = []
    for recipe, grok_seeds in (("a", 2), ("b", 1)):
        for seed in range(3):
            y = 0.01 + 0.9 / (1 + (t / 5e4) ** -4) if seed < grok_seeds else \
                np.full_like(t, 0.01)
            rows += [{"curve": f"{recipe}{seed}", "tokens": x, "value": v, "recipe": recipe,
                      "skill": "k", "resolution": 1 / 256}
                     for x, v in zip(t, y, strict=True)]
    res = fit_grok(pd.DataFrame(rows))
    assert res.curves.groupby("recipe")["grokked"].sum().to_dict() == {"a": 2, "b": 1}
    maj = res.by_majority("recipe", "skill")
    assert maj.curves.groupby("recipe")["grokked"].sum().to_dict() == {"a": 2, "b": 0}
    assert (maj.curves["status"] == res.curves["status"]).all()
    sp = speedup(maj.select(recipe="a"), maj.select(recipe="b")).iloc[0]
    assert np.isnan(sp["speedup"]) and sp["midpoint_baseline"] == pytest.approx(5e4, rel=0.05)
    with pytest.raises(ScalingError, match="no column 'shape'"):
        res.by_majority("shape")
