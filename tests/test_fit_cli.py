"""`scaling fit law|grok|mixture` through the CLI runner, checked against the Python API."""

import json

import numpy as np
import pandas as pd
import pytest
from lawdata import chinchilla_grid
from typer.testing import CliRunner

from scaling.cli import app
from scaling.fit import fit_grok, fit_law, sigmoid_log

runner = CliRunner()


@pytest.fixture
def law_csv(tmp_path):
    N, D, L = chinchilla_grid(6)
    p = tmp_path / "law.csv"
    pd.DataFrame({"N": N, "D": D, "loss": L}).to_csv(p, index=False)
    return p


def test_fit_law_json_and_predict(tmp_path, law_csv):
    X = tmp_path / "X.csv"
    pd.DataFrame({"params": [1e8, 1e9], "tokens": [1e10, 2e10], "note": ["a", "b"]}).to_csv(
        X, index=False)
    out = tmp_path / "P.csv"
    r = runner.invoke(app, ["fit", "law", str(law_csv), "--bootstrap", "50", "--predict",
                            str(X), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) >= {"form", "params", "ci", "n_points", "objective", "warnings"}
    assert doc["form"] == "chinchilla" and doc["n_points"] == 36
    assert set(doc["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert abs(doc["params"]["alpha"] - 0.35) < 0.01
    assert all(lo <= doc["params"][k] <= hi for k, (lo, hi) in doc["ci"].items())
    # same optimum through the API
    df = pd.read_csv(law_csv)
    api = fit_law(df["N"], df["D"], df["loss"])
    assert doc["params"]["beta"] == pytest.approx(api.values["beta"], rel=1e-6)
    P = pd.read_csv(out)
    assert list(P.columns) == ["params", "tokens", "note", "predicted", "lower", "upper"]
    np.testing.assert_allclose(P["predicted"], api.predict(P["params"], P["tokens"]), rtol=1e-6)
    assert (P["lower"] <= P["predicted"]).all() and (P["predicted"] <= P["upper"]).all()
    r = runner.invoke(app, ["fit", "law", str(law_csv), "--bootstrap", "0"])
    assert r.exit_code == 0 and "alpha" in r.stdout


def test_fit_law_power_form(tmp_path):
    D = np.geomspace(1e6, 1e10, 20)
    p = tmp_path / "curve.csv"
    pd.DataFrame({"tokens": D, "loss": 2.0 + 300 * D ** -0.3}).to_csv(p, index=False)
    r = runner.invoke(app, ["fit", "law", str(p), "--form", "power", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc["params"]) == {"E", "B", "beta"}
    assert doc["params"]["beta"] == pytest.approx(0.3, abs=1e-3)


def test_fit_law_errors_are_one_line(tmp_path, law_csv):
    bad = tmp_path / "bad.csv"
    pd.read_csv(law_csv).rename(columns={"D": "toks"}).to_csv(bad, index=False)
    r = runner.invoke(app, ["fit", "law", str(bad)])
    assert r.exit_code == 1
    assert "error:" in r.output and "'tokens' (aliases: D, n_tokens)" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["fit", "law", str(tmp_path / "nope.csv")])
    assert r.exit_code == 1 and "no such file" in r.output
    r = runner.invoke(app, ["fit", "law", str(law_csv), "--predict", str(law_csv)])
    assert r.exit_code == 1 and "go together" in r.output


def test_fit_law_on_imported_store_with_two_recipes(tmp_path, law_csv):
    df = pd.read_csv(law_csv)
    both = pd.concat([df.assign(recipe="a"), df.assign(recipe="b", loss=df["loss"] + 0.1)])
    both["run"] = [f"r{i}" for i in range(len(both))]
    csv = tmp_path / "both.csv"
    both.to_csv(csv, index=False)
    store = tmp_path / "store"
    assert runner.invoke(app, ["import", str(csv), "--out", str(store)]).exit_code == 0
    r = runner.invoke(app, ["fit", "law", str(store), "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    fits = {f["recipe"]: f for f in doc["fits"]}
    assert set(fits) == {"a", "b"}
    assert fits["b"]["params"]["E"] - fits["a"]["params"]["E"] == pytest.approx(0.1, abs=0.03)
    r = runner.invoke(app, ["fit", "law", str(store), "--recipe", "a", "--json"])
    assert json.loads(r.stdout)["n_points"] == 36


def test_fit_grok_json_and_predict(tmp_path):
    t = np.geomspace(1e5, 1e9, 25)
    rng = np.random.default_rng(0)
    df = pd.concat([
        pd.DataFrame({"curve": "copy", "tokens": t,  # noisy accuracies, still within [0, 1]
                      "value": np.clip(sigmoid_log(t, 0, 1, 2e6, 0.4)
                                       + 0.01 * rng.standard_normal(25), 0, 1)}),
        pd.DataFrame({"curve": "sort", "tokens": t, "value": 0.02 * rng.random(25)}),
    ])
    p = tmp_path / "curves.csv"
    df.to_csv(p, index=False)
    X = tmp_path / "X.csv"
    pd.DataFrame({"curve": ["copy", "copy"], "tokens": [1e5, 1e9]}).to_csv(X, index=False)
    out = tmp_path / "P.csv"
    r = runner.invoke(app, ["fit", "grok", str(p), "--json", "--predict", str(X), "--out",
                            str(out)])
    assert r.exit_code == 0, r.output
    curves = {c["curve"]: c for c in json.loads(r.stdout)["curves"]}
    assert set(curves["copy"]) >= {"curve", "grokked", "midpoint", "width", "floor", "ceiling",
                                   "ci", "r2", "status"}
    assert curves["copy"]["grokked"] and curves["copy"]["status"] == "grokked"
    assert curves["copy"]["midpoint"] == pytest.approx(2e6, rel=0.05)
    assert not curves["sort"]["grokked"]
    api = fit_grok(df).curves.set_index("curve")
    assert curves["copy"]["midpoint"] == pytest.approx(api.loc["copy", "midpoint"], rel=1e-9)
    P = pd.read_csv(out)
    assert P["predicted"].iloc[0] < 0.1 and P["predicted"].iloc[1] > 0.9
    assert (P["lower"] <= P["upper"]).all()
    r = runner.invoke(app, ["fit", "grok", str(p)])
    assert r.exit_code == 0 and "grokked" in r.stdout


def test_fit_mixture_cli(tmp_path):
    rng = np.random.default_rng(0)
    R = rng.dirichlet(np.ones(3), 80)
    y = 1.0 + 0.5 * np.exp(R @ np.array([-1.0, 0.3, -0.5])) + 0.001 * rng.standard_normal(80)
    train = pd.DataFrame(R, columns=["mix_a", "mix_b", "mix_c"]).assign(loss=y)
    tp = tmp_path / "train.csv"
    train.iloc[:60].to_csv(tp, index=False)
    xp = tmp_path / "test.csv"
    train.iloc[60:].drop(columns="loss").to_csv(xp, index=False)
    out = tmp_path / "pred.csv"
    r = runner.invoke(app, ["fit", "mixture", str(tp), "--target", "loss", "--predict", str(xp),
                            "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["spearman"] > 0.9 and doc["model"] in ("mixing_law", "quadratic", "kernel")
    P = pd.read_csv(out)
    assert list(P.columns) == ["mix_a", "mix_b", "mix_c", "predicted", "lower", "upper"]
    assert np.corrcoef(P["predicted"], y[60:])[0, 1] > 0.95
    r = runner.invoke(app, ["fit", "mixture", str(tp), "--target", "ppl"])
    assert r.exit_code == 1 and "no target column 'ppl'" in r.output


def test_fit_law_starts_blas_with_one_thread_unless_told(monkeypatch):
    """`fit law` solves under one BLAS thread: the process starts OpenBLAS that way (no thread
    pool to spin up) unless the user chose a thread count."""
    import os

    from scaling.cli import single_blas_thread_process

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    monkeypatch.setattr(os, "environ", {**env, "MKL_NUM_THREADS": "4"})  # this test's own
    single_blas_thread_process()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "4"
