"""The report's skill pages on a store of skill experiments (the shape of runs/skills): tasks
trained alone at two shapes of one nominal size, a task after a warm-up (its clock starts at
the switch), and a skill mixture with prose whose mixture loss the aggregation page fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaling.fit.data import mixture_loss, skill_curves, skill_start
from scaling.recipe import parse_recipe
from scaling.report import build_report, load_context
from scaling.store import RunWriter

NEEDLE = "needle(k=2,key=3)"
SCRATCH = f"{NEEDLE}=1"
WARM = f"{NEEDLE}=1;front=dyck:0.25:reset:emb=mean"
MIX = "copy(n=3)=0.2,prose=0.5,reverse(n=3)=0.15,sort(n=3)=0.15"
#: Grokking midpoints in task tokens: the warm-up groks the needle 2× earlier.
MID = {SCRATCH: 8e5, WARM: 4e5}
MIX_MID = {"copy(n=3)": 2e5, "reverse(n=3)": 6e5, "sort(n=3)": 1.5e6}
BATCH, SEQ = 32, 64
SWITCH = int(np.ceil(0.25 * 2e6 / (BATCH * SEQ))) * BATCH * SEQ  # 501,760 tokens


def _config(recipe, width, seed, tokens):
    return {"recipe": parse_recipe(recipe).name, "recipe_spec": parse_recipe(recipe).to_dict(),
            "n_params": float(12 * 2 * width * width), "size": 10000, "seed": seed,
            "shape": {"n_layer": 2, "d_model": width, "n_head": 4},
            "data": {"batch_size": BATCH, "seq_len": SEQ, "tokens": tokens, "probe_n": 0}}


def _acc(t, mid, w=0.25):
    return 0.005 + 0.99 / (1 + (np.maximum(t, 1.0) / mid) ** (-1 / w))


def make_skills_store(path):
    rng = np.random.default_rng(0)
    for recipe, start in ((SCRATCH, 0), (WARM, SWITCH)):
        for width in (16, 32):
            for seed in range(3):
                w = RunWriter.in_grid(path, _config(recipe, width, seed, 1.5e6 + start))
                recs = []
                for j, t in enumerate(np.geomspace(1e4, 1.5e6 + start, 30)):
                    task = t - start  # scored during the warm-up too: those records stay out
                    acc = _acc(task, MID[recipe] * (1 + 0.05 * seed)) if task > 0 else 0.0
                    k = rng.binomial(256, acc)
                    recs.append({"step": j + 1, "tokens": float(t), "kind": "skill",
                                 "name": NEEDLE, "value": k / 256, "items": 256,
                                 "metric": "exact_match"})
                w.log_many(recs)
                w.mark_done()
    weights = dict(parse_recipe(MIX).base)
    w = RunWriter.in_grid(path, _config(MIX, 64, 0, 4e6))
    recs = []
    for j, t in enumerate(np.geomspace(2e4, 4e6, 30)):
        recs.append({"step": j + 1, "tokens": float(t), "kind": "val_loss", "name": "prose",
                     "value": 2.0 + 5.0 * (t / 1e4) ** -0.3})
        for k, m in MIX_MID.items():
            acc = float(np.clip(_acc(t, m) + 0.005 * rng.standard_normal(), 0, 1))
            recs.append({"step": j + 1, "tokens": float(t), "kind": "skill", "name": k,
                         "value": acc, "items": 256, "metric": "exact_match"})
            recs.append({"step": j + 1, "tokens": float(t), "kind": "val_loss", "name": k,
                         "value": 0.3 + 3.0 * (1 - acc)})
    w.log_many(recs)
    w.mark_done()
    assert set(weights) == {"prose", *MIX_MID}
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_skills_store(tmp_path_factory.mktemp("skills") / "runs")


def test_skill_clock_starts_where_its_data_does():
    """A task after a warm-up starts at the switch step's first token; a task drawn from the
    first step, and a probe never trained on, at 0; the per-token twin with its task."""
    warm, scratch = _config(WARM, 16, 0, 2e6), _config(SCRATCH, 16, 0, 1.5e6)
    assert skill_start(warm, NEEDLE) == SWITCH == 501_760
    assert skill_start(warm, f"{NEEDLE}/token") == SWITCH
    assert skill_start(warm, "needle") == 0.0  # a zero-shot probe of another name
    assert skill_start(scratch, NEEDLE) == 0.0
    assert skill_start({"recipe": "prose=1"}, "copy") == 0.0  # a config that cannot say


def test_mixture_loss_weights_the_domains_as_the_recipe():
    m = pd.DataFrame({"kind": "val_loss", "tokens": [10, 10, 20, 20, 30],
                      "name": ["a", "b", "a", "b", "a"], "value": [4.0, 2.0, 3.0, 1.0, 9.0]})
    loss = mixture_loss(m, {"a": 0.25, "b": 0.75})
    assert loss.to_dict() == {10: 0.25 * 4 + 0.75 * 2, 20: 0.25 * 3 + 0.75 * 1}  # 30: no b
    assert mixture_loss(m, {"a": 1.0}).to_dict() == {10: 4.0, 20: 3.0, 30: 9.0}


def test_skill_curves_carry_shape_size_and_task_tokens(store):
    t = skill_curves(store)
    assert set(t["shape"]) == {"2×16", "2×32", "2×64"} and set(t["size"]) == {10000.0}
    warm = t[t["recipe"] == parse_recipe(WARM).name]
    assert (warm["start"] == SWITCH).all() and warm["tokens"].min() >= 0
    # the warm-up's own evaluations are no task points
    assert warm.groupby("run")["tokens"].max().max() == pytest.approx(1.5e6)


def test_skill_pages_on_a_store_of_skill_experiments(store, tmp_path):
    ctx = load_context(store, bootstrap=0)
    e = ctx.emergence.set_index(["recipe", "shape", "skill"])
    for shape in ("2×16", "2×32"):
        for recipe in (SCRATCH, WARM):
            row = e.loc[(parse_recipe(recipe).name, shape, NEEDLE)]
            assert row["status"] == "grokked" and row["n"] == row["of"] == 3
            # on the task's own clock: the warm-up's 500k tokens are not counted against it
            assert row["midpoint"] == pytest.approx(MID[recipe] * 1.05, rel=0.15)
    for k, mid in MIX_MID.items():
        assert e.loc[(parse_recipe(MIX).name, "2×64", k), "midpoint"] == pytest.approx(
            mid, rel=0.15)
    (agg,) = ctx.aggregate  # the mixture: the only arm with ≥ 3 skills; no baseline here
    assert agg["recipe"] == parse_recipe(MIX).name and len(agg["domains"]) == 4
    assert agg["result"].r2_skills > 0.95 and agg["result"].r2_power > 0.9
    from scaling.report.pages.summary import _skill_arms

    arms = _skill_arms(ctx)  # the summary's table: one row per recipe × shape
    assert len(arms) == 5 and arms["runs"].tolist() == [3, 3, 3, 3, 1]
    assert arms.iloc[0]["recipe"] == SCRATCH and arms.iloc[-1]["skills"] == 3
    res = build_report(store, tmp_path / "r.pdf", bootstrap=10)
    for title in ("Per-skill grokking curves", "Skill emergence chart",
                  "Aggregation: skill curves → loss power law"):
        assert title in res.pages and title not in res.missing, res.missing
    # sections a store of skill experiments cannot support say so
    assert "Backtest" in res.missing and "Savings vs model size" in res.missing


def test_verdict_lines_name_what_sets_recipes_apart():
    from scaling.report.pages.grokking import recipe_labels, verdict_text

    labels = recipe_labels([SCRATCH, WARM, WARM.replace("dyck", "shuffle_dyck")])
    assert labels == {SCRATCH: f"{SCRATCH}: ", WARM: "front=dyck: ",
                      WARM.replace("dyck", "shuffle_dyck"): "front=shuffle_dyck: "}
    assert recipe_labels(["prose=1"]) == {"prose=1": ""}
    assert verdict_text(["grokked", "never", "grokked"]) == "2/3 grokked · 1 never"
