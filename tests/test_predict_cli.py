"""`scaling predict` through the CLI runner on a store built with `scaling import`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scaling.cli import app
from scaling.predict import load_points, predict_savings
from scaling.predict.simulate import (
    BASELINE_LAW,
    RECIPE_LAW,
    simulate_grid,
    simulate_table,
    true_savings,
)

runner = CliRunner()
REC, BASE = "prose=1;front=dyck:0.01", "prose=1"
# needle groks 3× earlier under the recipe; copy at the same time
SKILLS = {BASE: {"needle": 2e6, "copy": 5e5}, REC: {"needle": 2e6 / 3, "copy": 5e5}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("store")
    csv = d / "runs.csv"
    simulate_table({BASE: BASELINE_LAW, REC: RECIPE_LAW}, skills=SKILLS, noise=0.002,
                   domains=("prose", "code")).to_csv(csv, index=False)
    r = runner.invoke(app, ["import", str(csv), "--out", str(d / "grid")])
    assert r.exit_code == 0, r.output
    return d / "grid"


def _predict(store, *args):
    return runner.invoke(app, ["predict", "--runs", str(store), "--bootstrap", "30", *args])


def test_predict_json_contract_and_python_api(store):
    r = _predict(store, "--mix", "prose=1; front=dyck:0.01", "--size", "200k", "--tokens",
                 "20x", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) >= {"recipe", "baseline", "size", "tokens", "target_domain",
                        "savings_ratio", "interval", "loss_recipe", "loss_baseline",
                        "extrapolated", "warnings"}
    assert doc["recipe"] == REC and doc["baseline"] == BASE
    assert doc["size"] == 2e5 and doc["tokens"] == 4e6 and doc["target_domain"] == "prose"
    assert doc["extrapolated"] is False
    api = predict_savings(store, REC, size=2e5, tokens=4e6, bootstrap=30)
    assert doc["savings_ratio"] == pytest.approx(api.savings_ratio)
    assert doc["interval"] == pytest.approx(list(api.interval))
    # per-skill view: needle 3× earlier (truth inside the interval), copy about 1×
    skills = {s["skill"]: s for s in doc["skills"]}
    lo, hi = skills["needle"]["interval"]
    assert lo <= 3.0 <= hi and skills["needle"]["speedup"] == pytest.approx(3.0, rel=0.15)
    assert skills["copy"]["speedup"] == pytest.approx(1.0, rel=0.15)
    assert "earlier" in skills["needle"]["text"]


def test_predict_human_prints_defaults(store):
    r = _predict(store, "--mix", REC)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "default: 10× the grid's largest model" in out and "2M" in out
    assert "default: 20 tokens per parameter" in out and "40M" in out
    assert "default: the grid's baseline" in out
    assert "procedural tokens counted" in out and "extrapolated" in out


def test_predict_other_domain_and_errors(store):
    r = _predict(store, "--mix", REC, "--domain", "code", "--size", "100k", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["target_domain"] == "code"
    r = _predict(store, "--mix", REC, "--domain", "math")
    assert r.exit_code == 1 and "no val_loss for domain 'math'" in r.output
    assert "code, prose" in r.output and "Traceback" not in r.output
    r = _predict(store, "--mix", "prose=1;front=dyk:0.01")
    assert r.exit_code == 1 and "dyk" in r.output
    r = _predict(store, "--mix", REC, "--size", "big")
    assert r.exit_code == 1 and "cannot read size" in r.output
    r = runner.invoke(app, ["predict", "--mix", REC, "--runs", str(store / "nope")])
    assert r.exit_code == 1 and "nope" in r.output


def test_predict_same_recipe_and_unreachable(store):
    r = _predict(store, "--mix", BASE, "--json")
    doc = json.loads(r.stdout)
    assert doc["savings_ratio"] == pytest.approx(1.0)
    assert doc["interval"] == pytest.approx([1.0, 1.0])


def test_unreachable_through_the_cli(tmp_path):
    # a plain CSV of end points works as --runs too; the recipe's floor E is above the
    # baseline's loss at 2000 tokens per parameter
    csv = tmp_path / "points.csv"
    simulate_grid({BASE: BASELINE_LAW, REC: dict(RECIPE_LAW, E=2.2)}, noise=0.0).to_csv(
        csv, index=False)
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--size", "100k",
                            "--tokens", "2000x", "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["savings_ratio"] is None
    assert any("never reaches" in w and "floor" in w for w in doc["warnings"])


def test_missing_reference_grid_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALING_RUNS", str(tmp_path))
    r = runner.invoke(app, ["predict", "--mix", REC])
    assert r.exit_code == 1 and "reference grid" in r.output and "--runs" in r.output
    r = runner.invoke(app, ["backtest"])
    assert r.exit_code == 1 and "reference grid" in r.output


def test_min_tokens_leaves_short_budgets_out(tmp_path):
    # simulate_grid budgets are 5–80 tokens per parameter of 25k–200k models
    csv = tmp_path / "points.csv"
    table = simulate_grid({BASE: BASELINE_LAW, REC: RECIPE_LAW}, noise=0.001)
    table.to_csv(csv, index=False)
    full, cut = load_points(csv), load_points(csv, min_tokens=1e6)
    assert cut.points["tokens"].min() >= 1e6 and not full.notes
    dropped = int((table["tokens"] < 1e6).sum())
    assert len(full.points) - len(cut.points) == dropped
    assert cut.notes == [f"--min-tokens 1e+06: {dropped} of {len(table)} end points "
                         "(budgets below it) left out"]
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--size", "200k",
                            "--min-tokens", "1M", "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert cut.notes[0] in doc["warnings"]
    # the answer still recovers the known savings from the longer budgets
    assert doc["savings_ratio"] == pytest.approx(true_savings(BASELINE_LAW, RECIPE_LAW, 2e5,
                                                              4e6), abs=0.03)
    r = runner.invoke(app, ["backtest", "--runs", str(csv), "--min-tokens", "1G"])
    assert r.exit_code == 1 and "lower --min-tokens" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["backtest", "--runs", str(csv), "--min-tokens", "lots"])
    assert r.exit_code == 1 and "cannot read --min-tokens" in r.output


def test_a_grid_of_learning_curves_needs_points_all(tmp_path):
    # another trainer's grid: one run per recipe and size, many checkpoints each (its end
    # points alone are 4 per recipe, too few for a 5-parameter law)
    import numpy as np
    import pandas as pd

    from scaling.fit import chinchilla

    rng = np.random.default_rng(0)
    rows = []
    for name, law in ((BASE, BASELINE_LAW), (REC, RECIPE_LAW)):
        for n in (2e4, 5e4, 1.2e5, 3e5):
            for d in np.geomspace(2e5, 40 * n, 10):
                loss = chinchilla(n, d, **law) * (1 + 0.002 * rng.standard_normal())
                rows.append({"run": f"{name}@{n:g}", "recipe": name, "params": n,
                             "tokens": d, "loss": loss})
    csv = tmp_path / "curves.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    final = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC,
                                "--method", "independent", "--bootstrap", "20"])
    assert final.exit_code != 0 and "points" in final.output
    r = runner.invoke(app, ["predict", "--runs", str(csv), "--mix", REC, "--points", "all",
                            "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    truth = true_savings(BASELINE_LAW, RECIPE_LAW, doc["size"], doc["tokens"])
    assert doc["savings_ratio"] == pytest.approx(truth, rel=0.1)
    assert any("--points all: 80 checkpoints of 8 runs" in w for w in doc["warnings"])
    bt = runner.invoke(app, ["backtest", "--runs", str(csv), "--points", "all",
                             "--bootstrap", "10", "--json"])
    assert bt.exit_code == 0, bt.output
    assert json.loads(bt.stdout)["n_cases"]["loss"] == 20  # the held-out runs' checkpoints
    bad = runner.invoke(app, ["backtest", "--runs", str(csv), "--points", "every"])
    assert bad.exit_code != 0 and "unknown --points 'every'" in bad.output


def test_weights_rounded_in_a_table_still_name_the_grid_recipe():
    # 0.2 and 0.79998 sum to 0.99998: normalised, 2e-5 from the grid's recipe (a table's
    # rounding), which must not send the question to interpolation
    import pandas as pd

    from scaling.predict.points import load_points

    frame = pd.DataFrame({"recipe": ["code=0.2,prose=0.8", "prose=1"], "params": [1e5, 1e5],
                          "tokens": [1e6, 1e6], "loss": [3.0, 3.1]})
    g = load_points(frame)
    assert g.resolve("code=0.2,prose=0.79998") == "code=0.2,prose=0.8"
    assert g.resolve("code=0.2,prose=0.8,math=0") == "code=0.2,prose=0.8"  # 0: no domain
    assert g.resolve("code=0.21,prose=0.79") is None  # a different recipe: interpolated
