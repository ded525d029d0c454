"""`scaling import` and `scaling runs` through the CLI runner, checked through the Python API."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from scaling import load_runs
from scaling.cli import app

runner = CliRunner()


def _csv(path, rows, columns):
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


def _three_runs(tmp_path):
    rows = [(r, n, d, 5.0 - i * 0.1 - j * 0.3) for j, (r, n) in
            enumerate([("small", 1e6), ("mid", 4e6), ("big", 1.6e7)])
            for i, d in enumerate([1e7, 2e7, 4e7, 8e7])]
    return _csv(tmp_path / "curves.csv", rows, ["run", "N", "D", "loss"])


def test_import_then_runs_json_lists_three_runs(tmp_path):
    out = tmp_path / "store"
    r = runner.invoke(app, ["import", str(_three_runs(tmp_path)), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["runs", str(out), "--json"])
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert len(runs) == 3
    assert {x["status"] for x in runs} == {"done"}
    assert sorted(x["n_params"] for x in runs) == [1_000_000, 4_000_000, 16_000_000]
    assert set(runs[0]) >= {"run_id", "recipe", "n_params", "seed", "status", "tokens"}
    metrics, table = load_runs(out)
    assert len(metrics) == 12
    big = metrics[metrics["n_params"] == 16_000_000].sort_values("tokens")
    assert big["value"].tolist() == pytest.approx([4.4, 4.3, 4.2, 4.1])
    assert big["step"].tolist() == [0, 1, 2, 3]
    assert set(metrics["kind"]) == {"val_loss"}


def test_reimport_is_idempotent(tmp_path):
    out = tmp_path / "store"
    csv = _three_runs(tmp_path)
    for _ in range(2):
        assert runner.invoke(app, ["import", str(csv), "--out", str(out)]).exit_code == 0
    assert len(load_runs(out).metrics) == 12


def test_long_form_with_several_metrics(tmp_path):
    rows = [("r1", 1e6, d, step, name, v) for step, d in enumerate([1e5, 1e6])
            for name, v in (("prose", 3.0), ("code", 2.0))]
    csv = _csv(tmp_path / "long.csv", rows, ["run", "params", "tokens", "step", "name", "value"])
    r = runner.invoke(app, ["import", str(csv), "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    m = load_runs(tmp_path / "s").metrics
    assert sorted(m["name"].unique()) == ["code", "prose"] and len(m) == 4


def test_table_of_final_losses_makes_one_run_per_row(tmp_path):
    rows = [(n, d, 3.0) for n in (1e6, 2e6) for d in (1e7, 2e7, 4e7)]
    csv = _csv(tmp_path / "t.csv", rows, ["params", "tokens", "loss"])
    assert runner.invoke(app, ["import", str(csv), "--out", str(tmp_path / "s")]).exit_code == 0
    assert len(load_runs(tmp_path / "s").runs) == 6


def test_missing_tokens_is_refused_naming_alias_nothing_written(tmp_path):
    csv = _csv(tmp_path / "bad.csv", [("a", 1e6, 3.0)], ["run", "params", "loss"])
    out = tmp_path / "store"
    r = runner.invoke(app, ["import", str(csv), "--out", str(out)])
    assert r.exit_code != 0
    assert "'tokens'" in r.output and "D" in r.output
    assert not out.exists()


def test_non_numeric_column_is_refused_with_row(tmp_path):
    csv = _csv(tmp_path / "bad.csv", [("a", 1e6, 10, 3.0), ("a", "big", 20, 2.0)],
               ["run", "N", "D", "loss"])
    r = runner.invoke(app, ["import", str(csv), "--out", str(tmp_path / "s")])
    assert r.exit_code != 0
    assert "'params'" in r.output and "not numeric" in r.output and "3" in r.output
    assert not (tmp_path / "s").exists()


def test_runs_on_missing_dir_is_one_line_error(tmp_path):
    r = runner.invoke(app, ["runs", str(tmp_path / "nope")])
    assert r.exit_code == 1
    assert r.output.strip().startswith("error: no such run directory")


def test_every_command_has_json():
    for cmd in app.registered_commands:
        r = runner.invoke(app, [cmd.name, "--help"])
        assert "--json" in r.output, cmd.name


def test_runs_shows_load_warnings_on_stderr_and_in_json(tmp_path):
    out = tmp_path / "store"
    runner.invoke(app, ["import", str(_three_runs(tmp_path)), "--out", str(out)])
    run = sorted(p for p in out.iterdir() if p.is_dir())[0]
    with open(run / "metrics.jsonl", "a") as f:  # a crash mid-write
        f.write('{"step": 9, "tokens": 900, "kind": "val_lo')
    r = runner.invoke(app, ["runs", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stderr.strip() == f"warning: {run}: truncated last line of metrics.jsonl dropped"
    assert "3 done" in r.stdout
    js = json.loads(runner.invoke(app, ["runs", str(out), "--json"]).stdout)
    assert js["warnings"] == [f"{run}: truncated last line of metrics.jsonl dropped"]
    assert len(js["runs"]) == 3
