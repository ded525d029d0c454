"""Streams: pure functions of (seed, step, rank), right fractions per phase, masks, MeCo."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from scaling.data import get_tokenizer
from scaling.data.stream import Stream, StreamError, val_batches
from scaling.recipe import parse_recipe

TOK = get_tokenizer("byte")
MIX = "prose=0.6,code=0.3,math=0.1;front=dyck:0.01"


def _digest(b) -> str:
    h = hashlib.sha256()
    for t in (b.x, b.y, b.loss_mask):
        h.update(t.numpy().tobytes())
    h.update(json.dumps(b.domains).encode())
    return h.hexdigest()


def test_acceptance_fractions_within_5_percent():
    s = Stream(MIX, 2_000_000, 32, 128, preload=False)  # counting needs no token pools
    fr = s.fractions()
    r = parse_recipe(MIX)
    for ph in fr["phases"]:
        for d, w in ph["weights"].items():
            assert abs(ph["fractions"][d] - w) / w < 0.05, (ph["name"], d)
    # overall: the integral of the schedule over the run
    expect = {d: sum((p.end - p.start) * p.weights.get(d, 0) for p in r.phases())
              for d in r.domains}
    for d, f in fr["fractions"].items():
        assert abs(f - expect[d]) / expect[d] < 0.05, d
    assert fr["tokens"] == s.n_steps * s.tokens_per_step >= 2_000_000


def test_batch_shapes_targets_and_masks():
    s = Stream(MIX, 2_000_000, 8, 64, seed=1)
    b = s.batch(100)
    assert b.x.shape == b.y.shape == b.loss_mask.shape == (8, 64)
    assert b.x.dtype == torch.long and b.loss_mask.dtype == torch.bool
    assert torch.equal(b.x[:, 1:], b.y[:, :-1])  # y is x shifted by one
    for i, d in enumerate(b.domains):
        if d == "math":
            assert 0 < b.loss_mask[i].float().mean() < 0.5  # answers only
        elif d in ("prose", "code"):
            assert b.loss_mask[i].all()


def test_same_seed_step_same_batch_in_new_process_and_after_resume():
    s = Stream(MIX, 2_000_000, 16, 64, seed=7)
    want = [_digest(s.batch(k)) for k in (0, 3, 250)]
    # resume: a fresh object asked for step 250 first, without replaying
    s2 = Stream(MIX, 2_000_000, 16, 64, seed=7)
    assert _digest(s2.batch(250)) == want[2]
    code = (
        "import hashlib, json\n"
        "from scaling.data.stream import Stream\n"
        f"s = Stream({MIX!r}, 2_000_000, 16, 64, seed=7)\n"
        "out = []\n"
        "for k in (0, 3, 250):\n"
        "    b = s.batch(k); h = hashlib.sha256()\n"
        "    [h.update(t.numpy().tobytes()) for t in (b.x, b.y, b.loss_mask)]\n"
        "    h.update(json.dumps(b.domains).encode()); out.append(h.hexdigest())\n"
        "print(json.dumps(out))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(res.stdout.strip().splitlines()[-1]) == want
    assert _digest(Stream(MIX, 2_000_000, 16, 64, seed=8).batch(3)) != want[1]


def test_ranks_partition_the_global_batch():
    one = Stream(MIX, 1_000_000, 12, 32, seed=3)
    ranks = [Stream(MIX, 1_000_000, 4, 32, seed=3, rank=r, world_size=3) for r in range(3)]
    assert one.tokens_per_step == ranks[0].tokens_per_step and one.n_steps == ranks[0].n_steps
    for step in (0, 1, 57):
        full = one.batch(step)
        parts = [r.batch(step) for r in ranks]
        assert torch.equal(full.x, torch.cat([p.x for p in parts]))
        assert torch.equal(full.loss_mask, torch.cat([p.loss_mask for p in parts]))
        assert full.domains == sum((p.domains for p in parts), [])


def test_front_smaller_than_a_step_is_honoured():
    # 0.1% of 300k tokens = 300 tokens < one 32x128 step: the first ceil(300/128) rows are dyck
    s = Stream("prose=1;front=dyck:0.001", 300_000, 32, 128)
    b = s.batch(0)
    assert b.domains[:3] == ["dyck"] * 3 and set(b.domains[3:]) == {"prose"}
    assert s.fractions()["fractions"]["dyck"] == pytest.approx(3 * 128 / (s.n_steps * 4096))
    assert s.step_of(0.001) == 1 and s.phase_at(0).name == "front"
    assert s.phase_at(1).name == "main"


def test_mid_and_step_of():
    s = Stream("prose=0.8,code=0.2;mid=code:0.5@0.4", 1_000_000, 16, 64, preload=False)
    k = s.step_of(0.4)
    assert (k - 1) * s.tokens_per_step < 400_000 <= k * s.tokens_per_step
    fr = s.fractions()["phases"]
    assert fr[1]["name"] == "mid" and fr[1]["fractions"]["code"] == pytest.approx(0.5, rel=0.05)


def test_meco_prefix_masked_until_cooldown():
    s = Stream("prose=1;meco=0.5", 200_000, 16, 128, seed=2)
    late = s.batch(s.n_steps - 1)
    pre, found = TOK.encode("URL: "), 0
    for step in range(20):
        early = s.batch(step)
        assert all(early.meco) and not any(late.meco)
        # every prefix token is out of the loss
        for row, mask in zip(early.y, early.loss_mask, strict=True):
            ids = row.tolist()
            for j in range(len(ids) - len(pre)):
                if ids[j:j + len(pre)] == pre:
                    found += 1
                    assert not mask[j:j + len(pre)].any()
                    assert mask[j - 1] if j > 0 else True  # the EOS before it is a target
    assert found >= 3
    assert late.loss_mask.all()
    assert "URL: " not in TOK.decode(late.x.flatten().tolist())


def test_val_batches_fixed_and_held_out():
    a = val_batches("prose", 2, 4, 64, seed=0)
    b = val_batches("prose", 2, 4, 64, seed=0)
    assert all(torch.equal(p.x, q.x) for p, q in zip(a, b, strict=True))
    assert len(a) == 2 and a[0].x.shape == (4, 64)
    from scaling.data.domains import get_pool

    def doc_hashes(pool):
        ends = list(pool.starts[1:]) + [len(pool)]
        return {hashlib.sha256(pool.tokens[a:b].tobytes()).digest()
                for a, b in zip(pool.starts, ends, strict=True)}

    train, val = doc_hashes(get_pool("prose", "train")), doc_hashes(get_pool("prose", "val"))
    assert len(val) > 20 and not train & val  # held-out documents never appear in training
    # and the val rows are slices of the val pool
    vp = get_pool("prose", "val").tokens
    row = a[0].x[0].numpy().astype(np.uint16)
    win = np.lib.stride_tricks.sliding_window_view(vp, 64)
    assert (win == row).all(axis=1).any()
    m = val_batches("sort", 1, 8, 64)[0]
    assert 0.2 < m.loss_mask.float().mean() < 0.8


def test_bad_stream_arguments():
    with pytest.raises(StreamError, match="batch_size"):
        Stream("prose=1", 1000, 0, 64)
    with pytest.raises(StreamError, match="rank"):
        Stream("prose=1", 1000, 4, 64, rank=2, world_size=2)
