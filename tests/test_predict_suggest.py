"""`--suggest`: the extra run that most shrinks the savings interval."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scaling.cli import app
from scaling.predict import suggest_run
from scaling.predict.points import load_points
from scaling.predict.simulate import BASELINE_LAW, RECIPE_LAW, simulate_grid

REC, BASE = "prose=1;front=dyck:0.01", "prose=1"


def _lopsided():
    # the baseline is measured densely and precisely, the recipe sparsely and noisily:
    # an extra recipe run must help more than an extra baseline run
    b = simulate_grid({BASE: BASELINE_LAW}, seeds=3, noise=0.001, seed=1)
    r = simulate_grid({REC: RECIPE_LAW}, ratios=(5, 20, 80), noise=0.005, seed=2)
    return pd.concat([b, r], ignore_index=True)


def test_suggestion_targets_the_poorly_measured_recipe():
    g = load_points(_lopsided())
    s = suggest_run(g, REC, BASE, 2e6, 4e7, bootstrap=30, n_sim=1)
    assert s.best["recipe"] == REC
    assert s.best["expected_width"] < s.current_width
    assert s.best["flops"] == 6 * s.best["size"] * s.best["tokens"]
    kinds = {(c["recipe"], c["kind"]) for c in s.candidates}
    assert kinds == {(r, k) for r in (REC, BASE) for k in ("bigger", "longer", "seed")}
    big = next(c for c in s.candidates if c["kind"] == "bigger" and c["recipe"] == REC)
    assert big["size"] == 400e3 and big["tokens"] == 80 * 400e3
    assert np.isfinite(s.current_width) and "FLOPs" in s.report()


@pytest.mark.slow
def test_suggest_through_the_cli(tmp_path):
    csv = tmp_path / "points.csv"
    _lopsided().to_csv(csv, index=False)
    r = CliRunner().invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--bootstrap",
                                 "30", "--suggest", "--json"])
    assert r.exit_code == 0, r.output
    sug = json.loads(r.stdout)["suggestion"]
    assert {"recipe", "kind", "size", "tokens", "flops", "expected_width", "current_width",
            "text"} <= set(sug)
