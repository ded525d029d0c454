"""Acceptance on 100 simulated grids: accuracy at 10× the largest size and interval coverage."""

from __future__ import annotations

import numpy as np
import pytest

from scaling.predict import predict_savings
from scaling.predict.points import load_points
from scaling.predict.simulate import BASELINE_LAW, RECIPE_LAW, simulate_grid, true_savings

REC, BASE = "prose=1;front=dyck:0.01", "prose=1"


@pytest.mark.slow
def test_savings_at_10x_accuracy_and_coverage_over_100_grids():
    # grids: 4 sizes 25k–200k × 5 budgets (5–80 tokens/param) × 3 seeds per recipe, 0.1%
    # log-normal noise per run; target: 2M parameters (10×) at 20 tokens per parameter
    truth = true_savings(BASELINE_LAW, RECIPE_LAW, 2e6, 4e7)
    err, hit = [], []
    for k in range(100):
        g = load_points(simulate_grid({BASE: BASELINE_LAW, REC: RECIPE_LAW}, seeds=3,
                                      noise=0.001, seed=k))
        res = predict_savings(g, REC, bootstrap=200, seed=k, skills=False)
        assert res.size == 2e6 and res.extrapolated
        err.append(abs(res.savings_ratio - truth))
        hit.append(res.interval[0] <= truth <= res.interval[1])
    assert np.median(err) < 0.03
    assert 0.85 <= np.mean(hit) <= 0.95
