"""Mixture laws: held-out Spearman on a known nonlinear law, the mixing-law form, bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from scaling.fit import fit_mixture
from scaling.fit.forms import mixing_law
from scaling.tables import TableError

J = 10


def nonlinear_task(n, seed, noise=0.003):
    """A saturating per-domain law with pairwise interactions (not the mixing-law form)."""
    law_rng = np.random.default_rng(123)
    a = law_rng.uniform(0.05, 0.4, J)
    b = law_rng.uniform(2, 10, J)
    C = law_rng.normal(0, 0.15, (J, J))
    C = (C + C.T) / 2
    rng = np.random.default_rng(seed)
    R = rng.dirichlet(np.full(J, 0.5), n)
    y = 1.5 + (a * np.exp(-b * R)).sum(1) + 0.5 * np.einsum("ni,ij,nj->n", R, C, R)
    y = y * (1 + noise * rng.standard_normal(n))
    df = pd.DataFrame(R, columns=[f"mix_d{j}" for j in range(J)])
    df["loss"] = y
    return df


def test_held_out_spearman_on_known_nonlinear_law():
    train, test = nonlinear_task(500, seed=0), nonlinear_task(200, seed=1)
    res = fit_mixture(train, "loss")
    pred = res.predict(test)
    rho = spearmanr(pred, test["loss"]).statistic
    assert rho >= 0.97
    lo, hi = res.predict_interval(test)
    cover = np.mean((test["loss"] >= lo) & (test["loss"] <= hi))
    assert 0.8 <= cover <= 0.98
    assert res.model in ("kernel", "quadratic")
    assert set(res.cv["model"]) == {"mixing_law", "quadratic", "kernel", "boosted"}
    s = res.summary()
    assert s["spearman"] > 0.95 and s["model"] == res.model


def test_mixing_law_form_is_chosen_and_recovered_on_its_own_data():
    rng = np.random.default_rng(0)
    t = np.array([-1.0, 0.5, -2.0, 0.0])
    R = rng.dirichlet(np.ones(4), 120)
    df = pd.DataFrame(R, columns=[f"mix_d{j}" for j in range(4)])
    df["loss"] = mixing_law(R, 1.2, 0.8, t) * (1 + 0.001 * rng.standard_normal(120))
    res = fit_mixture(df, "loss", models=("mixing_law", "quadratic"))
    assert res.model == "mixing_law"
    p = res.params.set_index("name")["value"]
    assert p["c"] == pytest.approx(1.2, abs=0.05)
    # t is defined up to a constant shift on the simplex (Σ r = 1): compare differences
    tt = p[[f"t[d{j}]" for j in range(4)]].to_numpy()
    np.testing.assert_allclose(tt - tt[0], t - t[0], atol=0.05)


def test_mixture_bad_input():
    df = nonlinear_task(30, seed=0)
    with pytest.raises(TableError, match="no target column 'val'"):
        fit_mixture(df, "val")
    with pytest.raises(TableError, match="no mixture columns"):
        fit_mixture(df.rename(columns=lambda c: c.replace("mix_", "w_")), "loss")
    bad = df.copy()
    bad.loc[2, "mix_d1"] = -0.1
    with pytest.raises(TableError, match="rows 4 are not"):
        fit_mixture(bad, "loss")
    res = fit_mixture(df.assign(loss=np.where(np.arange(30) == 3, np.nan, df["loss"])), "loss",
                      models=("quadratic",))
    assert res.n_train == 29 and any("1 rows without loss" in w for w in res.warnings)
    with pytest.raises(TableError, match="lacks mixture column"):
        res.predict(df.drop(columns="mix_d3"))


def test_boosted_trees_win_on_a_threshold_response():
    # the loss drops by 0.3 once the first domain's weight passes 0.4 (a step no smooth
    # candidate follows): the trees win the cross-validation and rank held-out mixtures
    def task(n, seed):
        rng = np.random.default_rng(seed)
        R = rng.dirichlet(np.ones(4), n)
        y = 2.0 - 0.3 * (R[:, 0] > 0.4) + 0.1 * R[:, 1] + 0.005 * rng.standard_normal(n)
        df = pd.DataFrame(R, columns=[f"mix_d{j}" for j in range(4)])
        return df.assign(loss=y)

    train, test = task(120, 0), task(200, 1)
    res = fit_mixture(train, "loss")
    assert res.model == "boosted", res.cv
    assert spearmanr(res.predict(test), test["loss"]).statistic > 0.8
    assert res.params.set_index("name").loc["rounds", "value"] == 200
