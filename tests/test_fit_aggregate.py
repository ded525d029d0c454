"""Quantization-model simulator and the aggregation of skill curves into a loss curve."""

import numpy as np
import pytest

from scaling.fit import fit_aggregate, fit_law, simulate_quanta


@pytest.mark.parametrize("alpha", [0.3, 0.5, 1.0])
def test_simulator_reproduces_data_exponent_alpha_over_alpha_plus_one(alpha):
    sim = simulate_quanta(n_skills=20000, alpha=alpha, noise=0.001, seed=1)
    res = fit_law(None, sim.tokens, sim.loss, form="power")
    assert res.values["beta"] == pytest.approx(alpha / (alpha + 1), abs=0.02)
    assert sim.data_exponent == pytest.approx(alpha / (alpha + 1))
    assert sim.freq.sum() == pytest.approx(1.0)
    # skills are learned in order of frequency
    assert np.all(np.diff(sim.midpoints) > 0)


def test_aggregate_recovers_zipf_exponent_from_skill_curves():
    sim = simulate_quanta(n_skills=30, alpha=0.5, tokens=np.geomspace(0.3, 3e4, 40),
                          noise=0.001, acc_noise=0.005, seed=2)
    res = fit_aggregate(sim.tokens, sim.loss, sim.skill_frame())
    assert res.zipf_exponent == pytest.approx(1.5, abs=0.1)
    assert res.exponent_skills == pytest.approx(1 / 3, abs=0.04)
    assert res.r2_skills > 0.999
    assert res.floor == pytest.approx(1.0, abs=0.05)
    # both fits describe the curve; the skill sum is the better description here
    assert res.r2_skills >= res.r2_power
    assert res.zipf_from_power == pytest.approx(1 / (1 - res.exponent_power))
    pred = res.predict(sim.tokens)
    assert np.max(np.abs(pred - sim.loss) / sim.loss) < 0.01
    s = res.summary()
    assert set(s) >= {"exponent_power", "exponent_skills", "zipf_exponent", "zipf_from_power"}
    assert "Zipf exponent" in res.report()
    assert set(res.params["name"]) >= {"floor", "exponent_power", "zipf_exponent"}
