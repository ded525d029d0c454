"""The crossover size: where s(N) − 1 changes sign along the fitted trend (known truth)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import brentq
from typer.testing import CliRunner

from scaling.cli import app
from scaling.predict import PredictError
from scaling.predict.crossover import crossover_size, first_turn
from scaling.predict.points import load_points
from scaling.predict.simulate import BASELINE_LAW, simulate_grid, true_savings

REC, BASE = "prose=1;front=dyck:0.01", "prose=1"
# saves data at the grid's sizes (s = 0.79 at 25k) but its data exponent is smaller, so the
# savings shrink with size and turn into a cost at ~2.5M (at 20 tokens per parameter)
TURNING = dict(BASELINE_LAW, B=92.0, beta=0.285)


def _true_crossover(ratio: float = 20.0) -> float:
    f = lambda ln: np.log(true_savings(BASELINE_LAW, TURNING, np.exp(ln),  # noqa: E731
                                       ratio * np.exp(ln)))
    return float(np.exp(brentq(f, np.log(1e4), np.log(1e11))))


def test_first_turn_finds_the_first_sign_change():
    n = np.array([1.0, 10, 100, 1000])
    cx, side = first_turn(n, np.array([1.5, 1.2, 0.9, 0.8]))
    assert cx == 100 and side == 1
    cx, side = first_turn(n, np.array([[0.5, 2.0], [0.8, 3.0], [1.1, 4.0], [1.2, 5.0]]))
    assert cx[0] == 100 and np.isinf(cx[1]) and list(side) == [-1, 1]


def test_noiseless_crossover_is_the_true_one_to_a_grid_step():
    truth = _true_crossover()
    g = load_points(simulate_grid({BASE: BASELINE_LAW, REC: TURNING}, seeds=2, noise=0.0))
    c = crossover_size(g, REC, BASE, 20.0, bootstrap=20)
    step = (1e11 / 25e3) ** (1 / 80)  # the log grid of sizes searched
    assert truth <= c.size <= truth * step
    assert c.direction == "saves→costs" and c.s_at_smallest < 1 < c.s_at_largest
    assert c.report().startswith("saves→costs at ")


def test_noisy_crossover_interval_covers_the_truth():
    truth = _true_crossover()
    g = load_points(simulate_grid({BASE: BASELINE_LAW, REC: TURNING}, seeds=2, noise=0.0002,
                                  seed=1))
    c = crossover_size(g, REC, BASE, 20.0, bootstrap=60)
    lo, hi = c.interval
    assert lo <= truth <= hi and hi < 100 * truth
    assert 0.9 <= c.fraction_crossing <= 1
    s = c.summary()
    assert json.loads(json.dumps(s))["direction"] == "saves→costs"
    assert len(c.curve["sizes"]) == len(c.curve["s"]) == 81


def test_crossover_needs_two_sizes_and_a_larger_search():
    one = load_points(simulate_grid({BASE: BASELINE_LAW, REC: TURNING}, sizes=(50e3,), noise=0.0))
    with pytest.raises(PredictError, match="one size only"):
        crossover_size(one, REC, BASE)
    g = load_points(simulate_grid({BASE: BASELINE_LAW, REC: TURNING}, noise=0.0))
    with pytest.raises(PredictError, match="must exceed"):
        crossover_size(g, REC, BASE, n_max=1e3)


def test_predict_crossover_flag(tmp_path):
    csv = tmp_path / "points.csv"
    simulate_grid({BASE: BASELINE_LAW, REC: TURNING}, seeds=2, noise=0.0).to_csv(csv,
                                                                                index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--size", "200k",
                            "--crossover", "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    c = json.loads(r.stdout)["crossover"]
    assert c["tokens_per_param"] == 20.0 and c["direction"] == "saves→costs"
    assert _true_crossover() <= c["size"] <= 1.25 * _true_crossover()
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--crossover",
                            "--bootstrap", "20"])
    assert r.exit_code == 0 and "crossover: saves→costs at" in r.stdout
