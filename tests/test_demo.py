"""`scaling demo` end to end (slow: it trains the cpu-tiny grid)."""

import json

import pytest
from typer.testing import CliRunner

from scaling import load_runs
from scaling.cli import app
from scaling.grid import GridSpec
from scaling.paths import grid_spec


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    spec = GridSpec.load(grid_spec("cpu-tiny"))
    _, runs = load_runs(tmp_path / spec.name)
    assert sorted(runs["status"]) == ["done"] * len(spec.configs())
    assert len(out["predictions"]) == len(spec.recipes) - 1
    p = out["predictions"][0]
    assert p["savings_ratio"] is None or p["savings_ratio"] > 0
    assert (tmp_path / "report.pdf").stat().st_size > 10_000
