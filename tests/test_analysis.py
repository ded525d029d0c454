"""The analysis studies run end to end on a small simulated store with known truth."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from scaling.fit import forms
from scaling.predict.simulate import BASELINE_LAW, true_savings
from scaling.store import RunWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import reproduce  # noqa: E402
from analysis.common import wilson  # noqa: E402

SIZES = (25e3, 50e3, 100e3)
LADDER = 200e3  # the extra store's larger size, merged into the reference grid
RATIOS = (5, 10, 20, 40)
FRONT = {**BASELINE_LAW, "B": 90.0}  # saves data at every size (B smaller, same β)
#: code-loss laws of the midtraining cells: E offsets with a known interaction of +0.04
MID_E = {(0.2, 0.3): 2.00, (0.5, 0.3): 1.90, (0.2, 0.7): 2.05, (0.5, 0.7): 1.99}
MID_INTERACTION = (1.99 - 2.05) - (1.90 - 2.00)
#: probe midpoints (tokens): scratchpad addition groks 4× earlier than plain
PROBES = {"add_plain": 400e3, "add_scratchpad": 100e3, "needle": 200e3, "copy": 50e3}


def _acc(d, mid):
    return 0.02 + 0.96 / (1 + (d / mid) ** (-1 / 0.35))


def make_store(root: Path, seed: int = 0) -> None:
    """A reference-shaped store: baseline (2 seeds), a front-loaded recipe, four
    midtraining cells and MeCo; prose (and code) validation loss and probe curves."""
    rng = np.random.default_rng(seed)
    recipes = {"prose=1": (BASELINE_LAW, None, 2), "prose=1;front=dyck:0.001": (FRONT, None, 1),
               "prose=1;meco=0.9": ({**BASELINE_LAW, "B": 100.0}, None, 1)}
    for (w, s), e in MID_E.items():
        recipes[f"prose=1;mid=code:{w}@{s}"] = ({**BASELINE_LAW, "B": 125.0},
                                                 {**BASELINE_LAW, "E": e}, 1)
    for name, (law, code, seeds) in recipes.items():
        for n in SIZES:
            for k in RATIOS:
                for sd in range(seeds):
                    D = k * n
                    w = RunWriter.in_grid(root, {"recipe": name, "n_params": n,
                                                 "n_params_total": None, "seed": sd,
                                                 "tokens": D, "source": "test"})
                    eff = 0.003 * rng.standard_normal()
                    recs = []
                    for j, f in enumerate(np.geomspace(0.05, 1, 7)):
                        d = f * D
                        for dom, p in (("prose", law), ("code", code)):
                            if p is None:
                                continue
                            mean = forms.chinchilla(n, d, p["E"], p["A"], p["B"], p["alpha"],
                                                    p["beta"])
                            recs.append({"step": j, "tokens": d, "kind": "val_loss",
                                         "name": dom, "value": float(mean * np.exp(eff))})
                        for probe, mid in PROBES.items():
                            a = _acc(d, mid) + 0.01 * rng.standard_normal()
                            recs.append({"step": j, "tokens": d, "kind": "skill",
                                         "name": probe, "value": float(np.clip(a, 0, 1))})
                    w.log_many(recs)
                    w.mark_done("simulated")


def make_targets(root: Path, seed: int = 1) -> None:
    """Study 2's extra store: ``code=1`` / ``math=1`` vs front-loaded Dyck (law ``FRONT``),
    each logging its own domain's validation loss, and prose runs at a larger size."""
    rng = np.random.default_rng(seed)
    # code/math targets at the reference sizes, and a larger size of two reference recipes
    jobs = [(dom, name, law, SIZES) for dom in ("code", "math")
            for name, law in ((f"{dom}=1", BASELINE_LAW), (f"{dom}=1;front=dyck:0.001", FRONT))]
    jobs += [("prose", "prose=1", BASELINE_LAW, (LADDER,)),
             ("prose", "prose=1;front=dyck:0.001", FRONT, (LADDER,))]
    for dom, name, law, sizes in jobs:
        for n in sizes:
            for k in RATIOS:
                D = k * n
                w = RunWriter.in_grid(root, {"recipe": name, "n_params": n,
                                             "n_params_total": None, "seed": 0,
                                             "tokens": D, "source": "test"})
                mean = forms.chinchilla(n, D, law["E"], law["A"], law["B"], law["alpha"],
                                        law["beta"])
                w.log_many([{"step": 0, "tokens": D, "kind": "val_loss", "name": dom,
                             "value": float(mean * np.exp(0.003 * rng.standard_normal()))}])
                w.mark_done("simulated")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analysis")
    make_store(tmp / "runs")
    make_targets(tmp / "targets")
    rc = reproduce.main(["--all", "--runs", str(tmp / "runs"), "--targets", str(tmp / "targets"),
                         "--out", str(tmp / "out"), "--bootstrap", "20"])
    return rc, tmp / "out"


def test_reproduce_all_writes_every_study(results):
    rc, out = results
    res = json.loads((out / "results.json").read_text())
    assert rc == 0, {k: v.get("error") for k, v in res.items() if isinstance(v, dict)}
    for k in map(str, range(1, 7)):
        assert "error" not in res[k]
        for f in res[k].get("figures", {}).values():
            assert (out / f).stat().st_size > 1000
    md = (out / "RESULTS.md").read_text()
    assert all(f"## {k}." in md for k in range(1, 7))


@pytest.mark.parametrize("dom", ["prose", "code", "math"])
def test_frontload_savings_match_the_known_laws(results, dom):
    _, out = results
    res = json.loads((out / "results.json").read_text())["2"]
    base = "prose=1" if dom == "prose" else f"{dom}=1"
    rows = res["targets"][dom]["recipes"][f"{base};front=dyck:0.001"]["per_size"]
    # prose: the ladder size of the extra store is merged into the reference grid
    assert [x["size"] for x in rows] == list(SIZES) + ([LADDER] if dom == "prose" else [])
    for x in rows:
        truth = true_savings(BASELINE_LAW, FRONT, x["size"], x["tokens"])
        lo, hi = x["interval"]
        assert x["savings_ratio"] == pytest.approx(truth, rel=0.1)
        # the interval brackets the truth (up to the 5% the point itself may be off)
        assert lo < 1.05 * truth and hi > 0.95 * truth and lo < hi


def test_midtraining_interaction_recovered(results):
    _, out = results
    i = json.loads((out / "results.json").read_text())["3"]["interaction"]["code"]
    assert i["value"] == pytest.approx(MID_INTERACTION, abs=0.02)


def test_format_speedup_recovered(results):
    _, out = results
    sp = json.loads((out / "results.json").read_text())["5"]["speedups"]
    assert len(sp) == 7 * 3  # every (training recipe, size) pair groks both formats
    med = np.median([e["speedup"] for e in sp])
    assert med == pytest.approx(4.0, rel=0.25)


def test_wilson_interval_known_values():
    lo, hi = wilson(0, 64, 0.9)
    assert lo == 0 and 0.03 < hi < 0.05  # ~ (z²/n)/(1+z²/n)
    lo, hi = wilson(32, 64, 0.9)
    assert lo < 0.5 < hi and hi - 0.5 == pytest.approx(0.5 - lo)
