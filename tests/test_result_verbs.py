"""Every command prints its result object: ``--json`` is ``.summary()``, the text is
``.report()``. The library call a command makes is wrapped so the test holds the very object
the CLI printed, then compares."""

import importlib
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from scaling.cli import app

runner = CliRunner()
TRAIN = ["train", "--size", "20k", "--batch-size", "8", "--seq-len", "32", "--precision",
         "fp32", "--device", "cpu", "--mix", "prose=1", "--tokens", "4k"]
GRID = """
name = "verbs"
sizes = ["12k"]
tokens = "4k"
recipes = ["prose=1"]
[train]
batch_size = 4
seq_len = 64
val_batches = 1
probe_n = 2
"""


@pytest.fixture
def spy(monkeypatch):
    """``spy("scaling.store", "load_runs")`` records every result that function returns."""
    got: list = []

    def wrap(module: str, name: str) -> list:
        mod = importlib.import_module(module)
        fn = getattr(mod, name)

        def recorded(*args, **kwargs):
            res = fn(*args, **kwargs)
            got.append(res)
            return res

        monkeypatch.setattr(mod, name, recorded)
        return got

    return wrap


def _curves(tmp_path):
    rows = [(r, n, d, 5.0 - i * 0.1 - j * 0.3) for j, (r, n) in
            enumerate([("small", 1e6), ("big", 4e6)]) for i, d in enumerate([1e7, 2e7, 4e7])]
    # a repeated row: dropped with --drop-bad-rows, and said as a warning
    path = tmp_path / "curves.csv"
    pd.DataFrame(rows + rows[:1], columns=["run", "N", "D", "loss"]).to_csv(path, index=False)
    return path


def test_import_and_runs_print_summary_and_report(tmp_path, spy):
    csv, out = _curves(tmp_path), tmp_path / "store"
    imported = spy("scaling.importer", "import_csv")
    r = runner.invoke(app, ["import", str(csv), "--out", str(out), "--drop-bad-rows", "--json"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    assert js == imported[-1].summary()
    assert js["dropped_rows"] == 1 and len(js["runs"]) == 2 and js["warnings"]
    r = runner.invoke(app, ["import", str(csv), "--out", str(out), "--drop-bad-rows"])
    assert r.exit_code == 0 and r.stdout == imported[-1].report() + "\n"
    assert r.stdout.startswith("imported 2 runs (6 records) into ")
    assert "warning: " in r.stderr  # the notes stay on stderr, out of the report

    loaded = spy("scaling.store", "load_runs")
    (out / "extra").mkdir()
    (out / "extra" / "config.json").write_text("{not json")  # a corrupt run: failed
    r = runner.invoke(app, ["runs", str(out), "--json"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    assert js == loaded[-1].summary()
    assert sorted(x["status"] for x in js["runs"]) == ["done", "done", "failed"]
    r = runner.invoke(app, ["runs", str(out)])
    assert r.exit_code == 0 and r.stdout == loaded[-1].report() + "\n"
    assert r.stdout.rstrip().endswith("2 done, 1 failed")


def test_train_prints_summary_and_report_and_a_failed_run_exits_1(tmp_path, spy):
    trained = spy("scaling.train", "train")
    r = runner.invoke(app, [*TRAIN, "--out", str(tmp_path / "a"), "--json"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    assert js == trained[-1].summary() and js["status"] == "done"
    r = runner.invoke(app, [*TRAIN, "--out", str(tmp_path / "a")])  # finished: read back
    assert r.exit_code == 0 and r.stdout == trained[-1].report() + "\n"
    assert r.stdout.startswith("done: 4,096 tokens → ") and "val loss: prose " in r.stdout
    r = runner.invoke(app, [*TRAIN, "--lr", "1e9", "--out", str(tmp_path / "f")])
    assert r.exit_code == 1 and r.stdout == trained[-1].report() + "\n"
    assert "\n  reason: " in r.stdout and trained[-1].status == "failed"


def test_grid_prints_summary_and_report(tmp_path, spy):
    spec, out = tmp_path / "g.toml", tmp_path / "g"
    spec.write_text(GRID)
    ran = spy("scaling.grid", "run_grid")
    r = runner.invoke(app, ["grid", str(spec), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    assert js == ran[-1].summary()
    assert js["grid"] == "verbs" and js["counts"] == {"done": 1}
    r = runner.invoke(app, ["grid", str(spec), "--out", str(out)])  # rerun: skipped
    assert r.exit_code == 0 and r.stdout == ran[-1].report() + "\n"
    assert r.stdout.startswith("grid verbs: 1 done in ")
    planned = spy("scaling.grid", "dry_run_plan")
    r = runner.invoke(app, ["grid", str(spec), "--out", str(out), "--dry-run", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == planned[-1].summary()
