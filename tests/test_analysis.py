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
from analysis.common import seed_item_bootstrap, switch_tokens, wilson  # noqa: E402

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


#: skills store: task midpoints (task tokens) — the warm-up and the full scratchpad grok 4×
#: earlier; the warmed needle ends higher
SKILL_MID = {"scratch": 400e3, "dyck": 100e3, "plain": 400e3, "full": 100e3}
SWITCH = 245 * 2048  # 0.25 of 2M tokens in steps of 32 × 64 tokens
MIX_WEIGHTS = {f"t{k}": 0.7 * k ** -1.0 / sum(j ** -1.0 for j in range(1, 11))
               for k in range(1, 11)}


def _skill_records(rng, task_tokens, offset, name, mid, ceiling, answer_tokens=3):
    recs = []
    for t in task_tokens:
        p = ceiling / (1 + (max(t, 1) / mid) ** (-1 / 0.3)) if t > 0 else 0.0
        k = rng.binomial(256, p)
        recs.append({"step": int((t + offset) // 2048), "tokens": float(t + offset),
                     "kind": "skill", "name": name, "value": k / 256, "items": 256,
                     "metric": "exact_match"})
        tok = rng.binomial(256 * answer_tokens, min(1.0, 0.1 + p))
        recs.append({"step": int((t + offset) // 2048), "tokens": float(t + offset),
                     "kind": "skill", "name": f"{name}/token",
                     "value": tok / (256 * answer_tokens), "items": 256 * answer_tokens,
                     "metric": "token_accuracy"})
    return recs


def _skills_run(root, recipe, base, width, seed, tokens, front=None):
    cfg = {"recipe": recipe, "n_params": 24.0 * width ** 2, "seed": seed, "tokens": tokens,
           "model": {"d_model": width}, "data": {"tokens": tokens, "batch_size": 32,
                                                 "seq_len": 64},
           "recipe_spec": {"base": base, **({"front": {"domain": front, "fraction": 0.25,
                                                       "reset": True}} if front else {})}}
    return RunWriter.in_grid(root, cfg)


def make_skills_store(root: Path, seed: int = 3) -> None:
    """A skills-shaped store: needle from scratch / after a Dyck warm-up (2 widths, 3 seeds),
    3-digit addition plain / full (3 seeds), a 10-skill Zipfian mixture with prose."""
    rng = np.random.default_rng(seed)
    task = np.arange(1, 31) * 24 * 2048.0  # 30 evaluations up to 1.47M task tokens
    needle = "needle(k=2,key=3)"
    for width in (16, 32):
        for sd in range(3):
            for warm in ("scratch", "dyck"):
                front = None if warm == "scratch" else warm
                recipe = f"{needle}=1" + (f";front={warm}:0.25:reset:emb=mean" if front else "")
                w = _skills_run(root, recipe, {needle: 1.0}, width, sd,
                                2e6 if front else 1.5e6, front)
                off = SWITCH if front else 0.0
                pre = ([{"step": s, "tokens": s * 2048.0, "kind": "skill", "name": needle,
                         "value": 0.0, "items": 256, "metric": "exact_match"}
                        for s in (50, 150, 240)] if front else [])
                w.log_many(pre + _skill_records(rng, np.r_[0.0, task] if front else task, off,
                                                needle, SKILL_MID[warm],
                                                0.9 if front else 0.5))
                w.mark_done("simulated")
    for pad in ("plain", "full"):
        name = f"add(digits=3,pad={pad})"
        for sd in range(3):
            w = _skills_run(root, f"{name}=1", {name: 1.0}, 32, sd, 1.5e6)
            w.log_many(_skill_records(rng, task, 0.0, name, SKILL_MID[pad], 0.8, 4))
            w.mark_done("simulated")
    base = {"prose": 0.3, **MIX_WEIGHTS}
    w = _skills_run(root, ",".join(f"{k}={v:.4g}" for k, v in base.items()), base, 64, 0, 4e6)
    mids = dict(zip(MIX_WEIGHTS, np.geomspace(1e5, 1.5e6, 10), strict=True))
    recs = []
    for k, mid in mids.items():
        recs += _skill_records(rng, task * 2.6, 0.0, k, mid, 1.0)
    for t in task * 2.6:
        acc = {k: 1 / (1 + (t / mid) ** (-1 / 0.3)) for k, mid in mids.items()}
        recs.append({"step": int(t // 2048), "tokens": float(t), "kind": "val_loss",
                     "name": "prose", "value": 1.5 + 40 * t ** -0.35})
        recs += [{"step": int(t // 2048), "tokens": float(t), "kind": "val_loss", "name": k,
                  "value": 0.05 + 2.0 * (1 - a) + 0.005 * rng.standard_normal()}
                 for k, a in acc.items()]
    w.log_many(recs)
    w.mark_done("simulated")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("analysis")
    make_store(tmp / "runs")
    make_targets(tmp / "targets")
    make_skills_store(tmp / "skills")
    rc = reproduce.main(["--all", "--runs", str(tmp / "runs"), "--targets", str(tmp / "targets"),
                         "--skills", str(tmp / "skills"), "--out", str(tmp / "out"),
                         "--bootstrap", "20"])
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


def test_warmup_difference_and_speedup_at_equal_task_tokens(results):
    _, out = results
    res = json.loads((out / "results.json").read_text())["1"]
    # every recipe compared after the same task tokens (the warm-up's 501,760 not counted)
    assert res["budget"]["switch"] == [0.0, float(SWITCH)]
    end = 30 * 24 * 2048.0
    assert res["budget"]["task_tokens"] == [end, end]
    truth = 0.9 / (1 + (end / SKILL_MID["dyck"]) ** (-1 / 0.3)) - \
        0.5 / (1 + (end / SKILL_MID["scratch"]) ** (-1 / 0.3))
    diffs = [d for d in res["differences"] if d["metric"] == "exact_match"]
    assert len(diffs) == 2  # dyck at both widths
    for d in diffs:
        assert d["difference"] == pytest.approx(truth, abs=0.06)
        assert 0 < d["lower"] < d["difference"] < d["upper"]
    sp = [e for e in res["grok"]["speedups"]]
    assert len(sp) == 2
    for e in sp:
        assert e["speedup"] == pytest.approx(4.0, rel=0.25)
        assert e["lower"] < 4.0 < e["upper"]
    md = (out / "RESULTS.md").read_text()
    assert "98%" in md and "zero-shot" in md  # the paper's figure and the reference line


def test_format_speedup_recovered(results):
    _, out = results
    res = json.loads((out / "results.json").read_text())["5"]
    (e,) = res["grok"]["speedups"]
    assert e["recipe"] == "full"
    assert e["speedup"] == pytest.approx(4.0, rel=0.25) and e["lower"] < 4.0 < e["upper"]


def test_mixture_skills_grok_and_aggregate(results):
    _, out = results
    res = json.loads((out / "results.json").read_text())["6"]
    (run,) = res["runs"]
    assert run["grokked"] == run["n_skills"] == 10
    assert run["designed_zipf"] == pytest.approx(1.0, abs=1e-6)
    assert run["fits"]["skills"]["r2_skills"] > 0.99  # the skills' losses are the skill sum
    assert run["fits"]["mixture"]["r2_power"] > 0.5


def test_switch_tokens_from_config(tmp_path):
    base = {"needle(k=2,key=3)": 1.0}
    w = _skills_run(tmp_path, "needle(k=2,key=3)=1;front=dyck:0.25:reset", base, 16, 0, 2e6,
                    "dyck")
    assert switch_tokens(w.path) == SWITCH
    w = _skills_run(tmp_path, "needle(k=2,key=3)=1", base, 16, 0, 1.5e6)
    assert switch_tokens(w.path) == 0.0


def test_seed_item_bootstrap_intervals():
    boot = seed_item_bootstrap({"zero": [(0, 256)] * 3, "half": [(128, 256), (64, 256),
                                                                  (192, 256)]}, 2000, 0)
    assert 0 < np.quantile(boot["zero"], 0.95) < 0.01  # 0 of 768 items: an upper end
    lo, hi = np.quantile(boot["half"], [0.05, 0.95])
    assert lo < 0.5 < hi and hi - lo > 0.2  # the seed spread, not only the items


def test_wilson_interval_known_values():
    lo, hi = wilson(0, 64, 0.9)
    assert lo == 0 and 0.03 < hi < 0.05  # ~ (z²/n)/(1+z²/n)
    lo, hi = wilson(32, 64, 0.9)
    assert lo < 0.5 < hi and hi - 0.5 == pytest.approx(0.5 - lo)
