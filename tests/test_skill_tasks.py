"""Skill tasks as trainable domains: answers recomputed, held-out items never trained on (probes
included), the --mix grammar and its TOML form, and bad tasks refused in one line."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from scaling.cli import app
from scaling.data import domains
from scaling.data.domains import get_pool, show_samples
from scaling.data.procedural import TASKS
from scaling.data.stream import Stream, mix_stats, val_batches
from scaling.data.tokenizer import get_tokenizer
from scaling.recipe import RecipeError, parse_recipe
from scaling.skills import PROBES
from scaling.skills.probes import PROBE_FAMILY, addition_pad, held_out
from scaling.skills.tasks import FAMILIES, PADS, TaskError, parse_task

runner = CliRunner()
TOK = get_tokenizer("byte")
DEFAULTS = [f"{f}()" for f in FAMILIES]


@pytest.fixture(autouse=True)
def small_pools(monkeypatch):
    """Pools of 64k tokens (the runs' 2M take seconds to generate), cached apart."""
    monkeypatch.setattr(domains, "POOL_TOKENS", 1 << 16)
    monkeypatch.setattr(domains, "VAL_POOL_TOKENS", 1 << 14)
    monkeypatch.setattr(domains, "_MEMO", {})


def _correct(task, prompt: str, answer: str) -> bool:
    """Recompute the answer from the prompt, independently of the generators."""
    fam, knobs = task.family, dict(task.knobs)
    if fam == "needle":
        pairs = dict(re.findall(r"([a-z]+)=(\d{3})", prompt.split("?")[0]))
        return (len(pairs) == knobs["k"] and {len(k) for k in pairs} == {knobs["key"]}
                and pairs[prompt.rsplit(" ", 1)[1][:-1]] == answer)
    if fam in ("copy", "reverse", "sort"):
        x = prompt.split(": ", 1)[1][:-1]
        return len(x) == knobs["n"] and answer == {"copy": x, "reverse": x[::-1],
                                                   "sort": "".join(sorted(x))}[fam]
    if fam == "brackets":
        return TASKS["dyck"].verify("", prompt[7:-1] + answer)
    if fam in ("add", "mul", "mod_add"):
        body = prompt.split(": ", 1)[1][:-1]
        a, b = map(int, re.split(r"[+*]", body))
        if fam == "mul":
            return int(answer) == a * b
        if fam == "mod_add":
            return int(answer) == (a + b) % knobs["p"]
        digits = answer.rsplit("=", 1)[-1]
        n_cols = max(len(str(a)), len(str(b)))
        return int(digits) == a + b and (knobs["pad"] == "plain"
                                         or answer.count(",") == n_cols)
    if fam == "eca":
        return TASKS["eca"].verify(prompt, answer)
    return TASKS[fam].verify(prompt, answer)


@pytest.mark.parametrize("spec", DEFAULTS + ["needle(k=12)", "needle(k=3,key=1)",
                                             "add(digits=5,pad=full)",
                                             "mod_add(p=11)", "eca(n=6,steps=3)"])
def test_items_are_right_and_train_never_meets_eval(spec):
    task = parse_task(spec)
    rng = random.Random(1)
    train = [task.train_item(rng) for _ in range(3000)]
    evals = task.eval_items(256)
    assert all(_correct(task, p, a) for p, a in train[:300] + evals), spec
    assert len({p for p, _ in evals}) == len(evals)  # distinct
    assert not any(task.is_held_out(p) for p, _ in train)
    assert all(task.is_held_out(p) for p, _ in evals)
    assert not {p for p, _ in train} & {p for p, _ in evals}  # overlap 0
    if spec not in ("mod_add(p=11)", "eca(n=6,steps=3)"):  # 121 and 64 items: fewer held out
        assert len(evals) == 256
    assert task.eval_items(256) == evals and task.eval_items(256, seed=1) != evals


def test_a_small_item_space_gives_every_held_out_item_once():
    task = parse_task("mod_add(p=11)")
    everything = {f"mod 11: {a}+{b}=" for a in range(11) for b in range(11)}
    held = {p for p in everything if task.is_held_out(p)}
    assert {p for p, _ in task.eval_items(256)} == held and 0 < len(held) < 40


def test_probe_items_are_held_out_of_task_training():
    """The zero-shot probes share the split: a run trained on a task never saw its probes."""
    for name, probe in PROBES.items():
        fam = PROBE_FAMILY.get(name, name)
        for d in (1, 2):
            assert all(held_out(fam, e.prompt) for e in probe.generate(64, d))
    probe = {e.prompt for e in PROBES["add_scratchpad"].generate(200, 2)}
    train = {parse_task("add(digits=3,pad=steps)").train_item(random.Random(s))[0]
             for s in range(3000)}
    assert probe and not probe & train


def test_scratchpads_grow_in_detail_and_agree_on_the_sum():
    lens = [len(addition_pad(987, 654, p)) for p in PADS]
    assert lens == sorted(lens) and len(set(lens)) == 4
    assert addition_pad(12, 39, "sums") == "11,5,=51"
    assert addition_pad(12, 39, "steps") == "2+9+0=11,1+3+1=5,=51"
    assert addition_pad(12, 39, "full") == "2+9+0=11 w1 c1,1+3+1=5 w5 c0,=51"


def test_pools_mask_the_answer_only_and_split_train_from_val():
    spec = "copy(n=5)"
    pool = get_pool(spec, "train")
    task = parse_task(spec)
    text = TOK.decode(pool.tokens[: pool.starts[40]].tolist())
    for item in text.split("<eos>")[:40]:
        prompt, answer = item.split("<sep>")
        assert not task.is_held_out(prompt) and answer == prompt[6:-1]
    # loss on the answer and its EOS only: per item len(answer) + 1 targets
    a, b = int(pool.starts[3]), int(pool.starts[4])
    assert pool.mask[a:b].sum() == 6 and pool.mask[b - 6:b].all()
    val = get_pool(spec, "val")
    vtext = TOK.decode(val.tokens[: val.starts[50]].tolist())
    assert all(task.is_held_out(it.split("<sep>")[0]) for it in vtext.split("<eos>")[:50])
    vb = val_batches(spec, 1, 4, 64)[0]
    assert vb.loss_mask.any() and not vb.loss_mask.all()


def test_recipe_grammar_canonical_and_toml_forms():
    r = parse_recipe("prose=2, add( pad=steps ,digits=3)=1,needle()=1;mid=copy():0.5@0.5")
    assert r.name == ("add(digits=3,pad=steps)=0.25,needle(k=4,key=3)=0.25,prose=0.5;"
                      "mid=copy(n=8):0.5@0.5")
    assert parse_recipe(r.name) == r == parse_recipe(r.to_dict())
    toml = parse_recipe({"mix": {"base": {"prose": 2, "needle": {"weight": 1, "k": 4},
                                          "add(digits=3,pad=steps)": 1},
                                 "mid": {"domain": "copy()", "weight": 0.5, "start": 0.5}}})
    assert toml == r
    assert parse_recipe("sort=1,sort(n=8)=1").domains == ("sort", "sort(n=8)")  # two domains
    diag = parse_recipe("needle(k=8)=1;front=dyck:0.25:reset:emb=mean")
    assert diag.front.emb == "mean" and parse_recipe(diag.name) == diag
    assert parse_recipe(diag.to_dict()) == diag


def test_streams_and_stats_draw_the_tasks():
    mix = "prose=0.5,needle(k=8)=0.25,add(pad=sums)=0.25"
    st = mix_stats(mix, 200_000)
    assert st["fractions"]["needle(k=8,key=3)"] == pytest.approx(0.25, abs=0.03)
    s = Stream(mix, 50_000, 8, 128, seed=0)
    b = s.batch(3)
    for row, dom in enumerate(b.domains):
        if dom.startswith("needle"):  # targets only where the answer digits and EOS are
            tgt = b.y[row][b.loss_mask[row]].tolist()
            assert set(tgt) <= set(b"0123456789") | {TOK.eos_id}
    res = runner.invoke(app, ["data", "stats", "--mix", mix, "--tokens", "200k", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["fractions"] == st["fractions"]


def test_data_show_a_task():
    res = runner.invoke(app, ["data", "show", "add(digits=2,pad=full)", "-n", "3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["domain"] == "add(digits=2,pad=full)" and len(out["samples"]) == 3
    assert out["samples"] == show_samples("add(pad=full,digits=2)", 3)
    for s in out["samples"]:
        prompt, answer = s.removesuffix("<eos>").split("<sep>")
        a, b = map(int, prompt[5:-1].split("+"))
        assert answer == addition_pad(a, b, "full")


BAD = [
    ("nope(k=1)=1", ["unknown skill task 'nope'", "needle"]),
    ("needle(k=99)=1", ["needle(k=99)", "k=99 is out of range", "1–24"]),
    ("needle(key=4)=1", ["key=4 is out of range", "1–3"]),
    ("needle(k=x)=1", ["k='x' is not an integer"]),
    ("add(pad=huge)=1", ["pad='huge'", "plain, sums, steps, full"]),
    ("copy(m=3)=1", ["unknown knob 'm'", "n=8"]),
    ("copy(n)=1", ["knob 'n' needs a value"]),
    ("dyck()=1", ["dyck has no answer span"]),
    ("prose=1,needle(k=2)=1;front=shuffle_dyck():0.1", ["shuffle_dyck has no answer span"]),
    ("copy=1", ["unknown domain 'copy'", "copy()"]),
    ("copy()=1,copy(n=8)=1", ["duplicate domain 'copy(n=8)'"]),
    ("needle()=1;front=dyck:0.1:reset:emb=avg", ["emb='avg'", "keep, reinit, mean"]),
]


@pytest.mark.parametrize("mix, needles", BAD, ids=[m for m, _ in BAD])
def test_bad_tasks_are_refused_in_one_line_and_nothing_runs(tmp_path, mix, needles):
    with pytest.raises((RecipeError, TaskError)):
        parse_recipe(mix)
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--size", "25k", "--mix", mix, "--tokens", "10k",
                            "--out", str(out), "--device", "cpu"])
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), r.output
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert not out.exists()
    r = runner.invoke(app, ["data", "stats", "--mix", mix, "--tokens", "100k"])
    assert r.exit_code == 1 and needles[0] in r.output


def test_pool_tokens_are_deterministic():
    a = get_pool("reverse(n=6)", "train").tokens[:2000]
    assert np.array_equal(a, get_pool("reverse(n=6)", "train").tokens[:2000])


@pytest.mark.parametrize("keep, emb", [(None, "mean"), ("attn", "keep"), ("all", "reinit"),
                                       ("attn", None)])
def test_embedding_handling_at_the_switch(keep, emb):
    import torch

    from scaling.train import RunConfig, build_model
    from scaling.train.loop import reinit_for_stage

    cfg = RunConfig.from_args(size="20k", mix="copy()=1", tokens="20k").model
    m = build_model(cfg, seed=0)
    before = {n: p.clone() for n, p in m.named_parameters()}
    reinit_for_stage(m, keep, seed=0, emb=emb)
    w, w0 = m.wte.weight, before["wte.weight"]
    if emb == "mean":  # every row is the mean row of the warmed-up embedding
        assert torch.allclose(w, w0.mean(0, keepdim=True).expand_as(w0))
    elif emb == "keep":
        assert torch.equal(w, w0)
    else:  # re-drawn (emb=reinit, or keep=attn's default)
        assert not torch.equal(w, w0) and abs(float(w.detach().std()) - 0.02) < 0.002
    blocks_kept = keep in (None, "all")
    assert torch.equal(m.blocks[0].mlp.fc.weight, before["blocks.0.mlp.fc.weight"]) \
        == blocks_kept
    assert torch.equal(m.blocks[0].attn.qkv.weight, before["blocks.0.attn.qkv.weight"])
