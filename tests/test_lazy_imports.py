"""Fit, predict and report import no torch (nor other heavy modules they do not use).

Each check runs a fresh interpreter (the test process itself has imported everything) and
reads back which modules it had loaded when the command finished.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scaling.cli import app
from scaling.fit import chinchilla
from scaling.predict.simulate import BASELINE_LAW, RECIPE_LAW, simulate_table

HEAVY = ("torch", "matplotlib", "lmfit", "scipy.stats", "pandas")

#: Runs the CLI in this interpreter, then writes which heavy modules were loaded (argv[1]).
RUN_CLI = """
import json, sys
out, sys.argv = sys.argv[1], ["scaling"] + sys.argv[2:]
from scaling.cli import main
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
with open(out, "w") as f:
    json.dump({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}, f)
""".replace("HEAVY", repr(HEAVY))


def run_cli(tmp_path, *args) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", RUN_CLI, str(report), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    assert report.exists(), proc.stderr
    return proc, json.loads(report.read_text())


def test_fit_law_imports_no_torch(tmp_path):
    rng = np.random.default_rng(0)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e5, 1e7, 4),
                                           np.geomspace(1e6, 1e9, 6), indexing="ij"))
    L = chinchilla(N, D, 1.8, 480, 2100, 0.35, 0.37) * (1 + 0.005 * rng.standard_normal(24))
    csv = tmp_path / "law.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(csv, index=False)
    proc, mods = run_cli(tmp_path, "fit", "law", csv, "--bootstrap", "20", "--json")
    assert mods["code"] == 0, proc.stderr
    assert json.loads(proc.stdout)["params"]["alpha"] == pytest.approx(0.35, abs=0.05)
    # the law fit of a CSV needs numpy (scipy.optimize only where a start needs polishing):
    # no torch, no plotting, no lmfit, no scipy.stats, and no pandas (~0.25 s of ~0.7 s: the
    # CSV is read with the csv module, the result holds arrays)
    assert mods["loaded"] == [], mods
    # the same fit through a frame (whose rows are named as the CSV's): the same numbers
    from scaling.fit import fit_law_frame

    frame = pd.read_csv(csv)
    ref = fit_law_frame(frame.assign(run=[f"row{i + 2}" for i in range(len(frame))]),
                        bootstrap=20).summary()
    assert json.loads(proc.stdout)["params"] == pytest.approx(ref["params"], rel=1e-9)
    assert json.loads(proc.stdout)["ci"] == ref["ci"]


def test_predict_imports_no_torch(tmp_path):
    csv = tmp_path / "runs.csv"
    simulate_table({"prose=1": BASELINE_LAW, "prose=1;front=dyck:0.01": RECIPE_LAW},
                   noise=0.002).to_csv(csv, index=False)
    r = CliRunner().invoke(app, ["import", str(csv), "--out", str(tmp_path / "grid")])
    assert r.exit_code == 0, r.output
    proc, mods = run_cli(tmp_path, "predict", "--runs", tmp_path / "grid", "--mix",
                         "prose=1;front=dyck:0.01", "--bootstrap", "10", "--json")
    assert mods["code"] == 0, proc.stderr
    assert json.loads(proc.stdout)["savings_ratio"] > 0
    assert "torch" not in mods["loaded"] and "matplotlib" not in mods["loaded"], mods


def test_modules_import_no_torch():
    code = ("import sys, scaling.cli, scaling.predict, scaling.report\n"
            "import scaling.fit as f\n"
            "[getattr(f, n) for n in f.__all__]\n"  # every lazily imported fit name
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
