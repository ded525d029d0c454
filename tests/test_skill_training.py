"""Training on skill tasks: exact match and per-token accuracy on held-out items, evaluation
density and time, the diagnostic protocol's options, and run ids of old configs unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scaling.data import domains
from scaling.data.tokenizer import get_tokenizer
from scaling.fit.data import skill_table
from scaling.skills.evaluate import AnswerSet
from scaling.skills.tasks import parse_task
from scaling.store import load_runs
from scaling.train import RunConfig, train
from scaling.train.config import ConfigError
from scaling.train.schedule import log_steps

TOK = get_tokenizer("byte")
DIAG = dict(layers=2, width=16, heads=4, batch_size=8, seq_len=64, probe_n=0)


@pytest.fixture(autouse=True)
def small_pools(monkeypatch):
    monkeypatch.setattr(domains, "POOL_TOKENS", 1 << 16)
    monkeypatch.setattr(domains, "VAL_POOL_TOKENS", 1 << 14)
    monkeypatch.setattr(domains, "_MEMO", {})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # width-16 models: one thread is fastest, and robust to a busy CPU
    yield
    torch.set_num_threads(threads)


class Oracle:
    """A causal 'model' that continues the items' ``prompt SEP answer`` texts; in item ``i``
    listed in ``wrong`` it gets answer positions ``wrong[i]`` wrong."""

    def __init__(self, items, wrong=None):
        self.next: dict[tuple, int] = {}
        for i, (prompt, answer) in enumerate(items):
            p = TOK.encode(prompt) + [TOK.sep_id]
            full = p + TOK.encode(answer)
            for j in range(len(full) - 1):
                tgt = full[j + 1]
                if wrong and j + 1 - len(p) in wrong.get(i, ()):
                    tgt = TOK.pad_id
                self.next[tuple(full[:j + 1])] = tgt

    def __call__(self, ids):
        B, T = ids.shape
        out = torch.zeros(B, T, TOK.vocab_size)
        for b in range(B):
            row = ids[b].tolist()
            for t in range(T):
                out[b, t, self.next.get(tuple(row[:t + 1]), 0)] = 1.0
        return out


def test_exact_match_and_token_accuracy_count_what_is_right():
    items = parse_task("add(digits=2,pad=steps)").eval_items(40)
    n_tok = sum(len(a) for _, a in items)
    s = AnswerSet(items, TOK, batch_size=7)
    assert (s.n_items, s.n_tokens) == (40, n_tok)
    assert s.score(Oracle(items)) == (1.0, 1.0)
    wrong = {0: (0,), 3: (1, 2, 5), 17: (4,)}  # 3 items, 5 answer tokens wrong
    exact, per_token = s.score(Oracle(items, wrong))
    assert exact == pytest.approx(37 / 40) and per_token == pytest.approx((n_tok - 5) / n_tok)
    assert s.score(lambda ids: torch.zeros(*ids.shape, TOK.vocab_size)) == (0.0, 0.0)


def test_new_options_leave_old_run_ids_alone():
    old = sorted(Path("runs").glob("*/*/config.json"))[::100]
    assert old
    for p in old:
        d = json.loads(p.read_text())
        assert RunConfig.from_dict(d).run_id == p.parent.name
    base = RunConfig.from_args("25k", "prose=1", "100k")
    assert "task_items" not in base.to_dict()["data"] and "evals" not in base.to_dict()["data"]
    dense = RunConfig.from_args("25k", "prose=1", "100k", evals=40, task_items=512)
    assert dense.run_id != base.run_id
    assert RunConfig.from_dict(dense.to_dict()) == dense
    assert dense.to_dict()["data"]["evals"] == 40


def test_shape_and_warm_up_budget_are_run_options():
    c = RunConfig.from_args("10k", "needle(k=4)=1;front=dyck:0.5:reset:emb=mean", "400k",
                            front_tokens="100k", **DIAG)
    assert (c.model.n_layer, c.model.d_model, c.model.n_head) == (2, 16, 4)
    assert c.recipe == "needle(k=4,key=3)=1;front=dyck:0.25:reset:emb=mean"
    assert c.n_params == 2 * (12 * 16 * 16 + 2 * 16) + 16
    for kw, msg in [(dict(width=16), "width= needs layers="),
                    (dict(layers=2, width=16, heads=3), "does not divide"),
                    (dict(layers=2, width=12, heads=4), "odd"),
                    (dict(heads=4), "heads= needs width="),
                    (dict(front_tokens="500k"), "must lie between 0"),
                    (dict(evals=-1), "evals"), (dict(task_items=0), "task_items")]:
        with pytest.raises(ConfigError, match=msg):
            RunConfig.from_args("25k", "copy()=1;front=dyck:0.1:reset", "400k", **kw)
    with pytest.raises(ConfigError, match="needs a front= phase"):
        RunConfig.from_args("25k", "copy()=1", "400k", front_tokens="100k")


def test_a_task_run_records_both_measures_densely_and_times_evaluation(tmp_path):
    cfg = RunConfig.from_args("10k", "copy(n=3)=1;front=dyck:0.25:reset:emb=mean",
                              8 * 64 * 40, lr=1e-2, evals=12, task_items=64, **DIAG)
    out = tmp_path / "run"
    res = train(cfg, out, device="cpu", progress=False, precision="fp32")
    assert res.status == "done"
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    exact = [r for r in recs if r["kind"] == "skill" and r["name"] == "copy(n=3)"]
    token = [r for r in recs if r["kind"] == "skill" and r["name"] == "copy(n=3)/token"]
    assert len(exact) == len(token) >= 12
    assert all(r["items"] == 64 and r["metric"] == "exact_match" for r in exact)
    n_answer = sum(len(a) for _, a in parse_task("copy(n=3)").eval_items(64))
    assert all(r["items"] == n_answer and r["metric"] == "token_accuracy" for r in token)
    assert {r["step"] for r in exact} >= {round(40 * i / 12) for i in range(1, 13)}
    # checkpoints only at the log-spaced steps (and the stage switch), not at the dense ones
    ckpts = {int(p.stem.split("_")[1]) for p in (out / "ckpt").glob("step_*.pt")}
    assert ckpts <= set(log_steps(40, extra=(10,))) and len(ckpts) < len(exact)
    secs = {n: [r["value"] for r in recs if r["kind"] == "throughput" and r["name"] == n]
            for n in ("train_seconds", "eval_seconds", "tokens_per_s")}
    assert len(secs["eval_seconds"]) == len(exact)
    assert secs["eval_seconds"] == sorted(secs["eval_seconds"]) and secs["eval_seconds"][-1] > 0
    assert secs["train_seconds"] == sorted(secs["train_seconds"])
    assert res.tokens_per_s == secs["tokens_per_s"][-1]
    # the store and the grok fits read the item counts as the resolution
    sk = load_runs(tmp_path).metrics
    table = skill_table(sk[sk["kind"] == "skill"])
    res_of = table.groupby("skill")["resolution"].first()
    assert res_of["copy(n=3)"] == pytest.approx(1 / 64)
    assert res_of["copy(n=3)/token"] == pytest.approx(1 / n_answer)
    metric_of = table.groupby("skill")["metric"].first()
    assert metric_of["copy(n=3)"] == "exact_match"
    assert metric_of["copy(n=3)/token"] == "token_accuracy"


def test_the_skills_grid_spec_covers_the_three_studies():
    from scaling.grid import GridSpec
    from scaling.recipe import parse_recipe

    spec = GridSpec.load(Path(__file__).parents[1] / "runs" / "grids" / "skills.toml")
    entries = [(parse_recipe(e.mix), e, {**spec.train, **e.train}) for e in spec.recipes]
    needle = [(r, e, t) for r, e, t in entries if r.domains[0].startswith("needle")]
    warmups = {(r.front.domain if r.front else None, t["width"]) for r, _, t in needle}
    widths = {t["width"] for _, _, t in needle}
    assert 16 in widths and len(widths) >= 2
    assert warmups == {(d, w) for d in (None, "dyck", "shuffle_dyck", "stack", "set")
                       for w in widths}
    assert all(len(e.seeds) >= 3 for _, e, _ in needle)
    assert all(t["layers"] == 2 and (t["width"] != 16 or t["heads"] == 4)
               for _, _, t in needle)
    # the same task budget after every warm-up: tokens - front_tokens
    from scaling.units import parse_tokens

    task = {parse_tokens(spec.budgets(e, "10k")[0])
            - (parse_tokens(t["front_tokens"]) if "front_tokens" in t else 0)
            for _, e, t in needle}
    assert len(task) == 1
    pads = {r.domains[0] for r, e, _ in entries if r.domains[0].startswith("add(")
            and len(e.seeds) >= 3}
    assert pads == {f"add(digits=3,pad={p})" for p in ("plain", "sums", "steps", "full")}
    mixtures = [(r, t) for r, _, t in entries if "prose" in r.domains]
    assert len({t["width"] for _, t in mixtures}) >= 2
    assert all(sum("(" in d for d in r.domains) >= 8 for r, _ in mixtures)
    assert spec.train["evals"] >= 30 and spec.train["task_items"] >= 256


@pytest.mark.parametrize("front", ["dyck:0.5:emb=mean", "stack:0.5:reset:keep=attn:emb=keep"])
def test_the_embedding_option_applies_once_where_the_warm_up_ends(tmp_path, monkeypatch, front):
    import scaling.train.loop as loop

    calls = []
    real = loop.reinit_for_stage

    def spy(model, keep, seed, emb=None):
        calls.append((keep, emb, model.wte.weight.detach().clone()))
        real(model, keep, seed, emb)
        calls[-1] += (model.wte.weight.detach().clone(),)

    monkeypatch.setattr(loop, "reinit_for_stage", spy)
    cfg = RunConfig.from_args("10k", f"copy(n=3)=1;front={front}", 8 * 64 * 12, lr=1e-2,
                              task_items=16, **DIAG)
    train(cfg, tmp_path / "r", device="cpu", progress=False, precision="fp32")
    assert len(calls) == 1
    keep, emb, before, after = calls[0]
    r = cfg.recipe.split("front=")[1]
    assert (keep, emb) == (("attn", "keep") if "reset" in r else (None, "mean"))
    if emb == "mean":
        assert torch.allclose(after, before.mean(0, keepdim=True).expand_as(before))
    else:
        assert torch.equal(after, before)
