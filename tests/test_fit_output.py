"""`scaling fit law|grok|mixture` print a :class:`~scaling.fit.output.FitOutput`: ``--json``
is its ``.summary()`` (the fit's plus ``predictions``), the text its ``.report()``."""

import json

import numpy as np
import pandas as pd
import pytest
from lawdata import chinchilla_grid
from typer.testing import CliRunner

from scaling.cli import app
from scaling.fit import sigmoid_log
from scaling.fit.output import (
    FitOutput,
    LawFits,
    fit_grok_source,
    fit_law_source,
    fit_mixture_source,
    write_predictions,
)
from scaling.validate import ConfigError

runner = CliRunner()


@pytest.fixture
def law_csv(tmp_path):
    N, D, L = chinchilla_grid(5)
    runs = [f"r{i // 5}" for i in range(25)]
    df = pd.DataFrame({"run": runs, "N": N, "D": D, "loss": L})
    p = tmp_path / "law.csv"
    pd.concat([df.assign(recipe="a"), df.assign(recipe="b", loss=L * 1.01)]).to_csv(
        p, index=False)
    return p


def _same(args, res):
    """The CLI's JSON and text are the result's summary and report."""
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == json.loads(json.dumps(res.summary()))
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert r.stdout == res.report() + "\n"


def test_fit_law_one_and_several_recipes(tmp_path, law_csv):
    X = tmp_path / "X.csv"
    pd.DataFrame({"params": [1e8, 1e9], "tokens": [1e10, 2e10], "recipe": ["a", "b"]}).to_csv(
        X, index=False)
    out = tmp_path / "P.csv"
    kw = dict(bootstrap=0, points="all")
    both = fit_law_source(law_csv, predict=X, out=out, **kw)
    assert isinstance(both.fit, LawFits) and list(both.fit.fits) == ["a", "b"]
    assert both.predictions == str(out) and both.summary()["predictions"] == str(out)
    assert [f["recipe"] for f in both.summary()["fits"]] == ["a", "b"]
    assert both.report().endswith(f"\npredictions written to {out}")
    assert both.report().count("chinchilla law fitted") == 2
    assert list(pd.read_csv(out)["predicted"].round(6)) == list(
        both.fit.fits["a"].predict(np.array([1e8]), np.array([1e10])).round(6)) + list(
        both.fit.fits["b"].predict(np.array([1e9]), np.array([2e10])).round(6))
    _same(["fit", "law", str(law_csv), "--bootstrap", "0", "--points", "all", "--predict",
           str(X), "--out", str(out)], both)
    one = fit_law_source(law_csv, recipe="a", **kw)
    assert one.predictions is None and "predictions" not in one.summary()
    assert one.summary() == one.fit.fits["a"].summary()  # one recipe: its own object
    _same(["fit", "law", str(law_csv), "--bootstrap", "0", "--points", "all", "--recipe", "a"],
          one)


def test_fit_grok_and_mixture(tmp_path):
    t = np.geomspace(1e5, 1e9, 25)
    p = tmp_path / "curves.csv"
    pd.DataFrame({"curve": "copy", "tokens": t, "value": sigmoid_log(t, 0, 1, 2e6, 0.4)}).to_csv(
        p, index=False)
    res = fit_grok_source(p)
    assert isinstance(res, FitOutput) and res.summary() == res.fit.summary()
    _same(["fit", "grok", str(p)], res)

    rng = np.random.default_rng(0)
    R = rng.dirichlet(np.ones(3), 40)
    y = 1.0 + 0.5 * np.exp(R @ np.array([-1.0, 0.3, -0.5]))
    tp = tmp_path / "train.csv"
    pd.DataFrame(R, columns=["mix_a", "mix_b", "mix_c"]).assign(loss=y).to_csv(tp, index=False)
    res = fit_mixture_source(tp, "loss", folds=3)
    _same(["fit", "mixture", str(tp), "--target", "loss", "--folds", "3"], res)


def test_write_predictions_needs_both_files(tmp_path):
    assert write_predictions(None, None, lambda X: X) is None
    with pytest.raises(ConfigError, match="go together"):
        write_predictions(tmp_path / "X.csv", None, lambda X: X)
