"""Procedural domains and math: every generated sample passes its verifier, verifiers reject
corrupted samples, and the token pools carry the right loss masks."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.data import get_tokenizer, mathgen
from scaling.data.domains import get_pool
from scaling.data.procedural import TASKS, eca_step

TOK = get_tokenizer("byte")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), name=st.sampled_from(sorted(TASKS)))
def test_every_sample_passes_its_verifier(seed, name):
    task = TASKS[name]
    for inp, out in task.generate(25, seed=seed):
        assert task.verify(inp, out), (name, inp, out)


def _corrupt(rng: random.Random, s: str, length_changing: bool) -> str:
    if not length_changing and len(s) >= 2:
        i = rng.randrange(len(s) - 1)
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]  # swap two neighbours
    if s and rng.random() < 0.5:
        i = rng.randrange(len(s))
        return s[:i] + s[i + 1:]
    return s + (s[-1:] or "a")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), name=st.sampled_from(sorted(TASKS)),
       length_changing=st.booleans())
def test_verifiers_reject_wrong_outputs(seed, name, length_changing):
    # a sequence task's output is a function of its input, so any changed output is wrong; a
    # bracket word with one bracket dropped or duplicated is unbalanced (odd length)
    task = TASKS[name]
    length_changing = length_changing or task.full_loss
    rng = random.Random(seed)
    for inp, out in task.generate(20, seed=seed):
        bad = _corrupt(rng, out, length_changing)
        if bad != out:
            assert not task.verify(inp, bad), (name, inp, out, bad)


def test_known_answers():
    assert TASKS["stack"].verify("ab-c", "ac")
    assert not TASKS["stack"].verify("ab-c", "abc")
    assert TASKS["union"].verify("abca,dab", "abcd")
    assert TASKS["delete"].verify("abcb,b", "ac")
    assert TASKS["set"].verify("bbaca", "bac")
    assert not TASKS["set"].verify("bbaca", "abc")
    assert TASKS["dyck"].verify("", "([]{<>})")
    assert not TASKS["dyck"].verify("", "([)]")
    assert TASKS["shuffle_dyck"].verify("", "([)]")
    # rule 110: 111→0 110→1 101→1 100→0 011→1 010→1 001→1 000→0
    assert eca_step("0001000", 110) == "0011000"
    assert TASKS["eca"].verify("0001000", "0011000,0111000")


@pytest.mark.parametrize("name", ["dyck", "sort", "eca", "delete"])
def test_pool_samples_decode_and_verify_with_right_masks(name):
    pool = get_pool(name, "train", TOK)
    task = TASKS[name]
    ends = list(pool.starts[1:201])
    for a, b in zip(pool.starts[:200], ends, strict=True):
        toks, mask = pool.tokens[a:b], pool.mask[a:b]
        assert toks[-1] == TOK.eos_id and mask[-1]
        if task.full_loss:
            assert mask.all()
            inp, out = "", TOK.decode(toks[:-1])
        else:
            sep = int(np.nonzero(toks == TOK.sep_id)[0][0])
            assert not mask[: sep + 1].any() and mask[sep + 1:].all()
            inp, out = TOK.decode(toks[:sep]), TOK.decode(toks[sep + 1:-1])
        assert task.verify(inp, out)


def test_val_pool_differs_from_train():
    tr, va = get_pool("sort", "train", TOK), get_pool("sort", "val", TOK)
    assert len(va) < len(tr)
    assert not np.array_equal(tr.tokens[:500], va.tokens[:500])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_math_answers_check(seed):
    rng = random.Random(seed)
    cats = set()
    for _ in range(60):
        cat, q, a = mathgen.sample(rng)
        cats.add(cat)
        assert mathgen.check(q, a), (q, a)
        assert not mathgen.check(q, a + "1")
    assert len(cats) >= 4


def test_math_pool_masks_answers_only():
    pool = get_pool("math", "train", TOK)
    for a, b in zip(pool.starts[:100], pool.starts[1:101], strict=True):
        text = TOK.decode(pool.tokens[a:b])
        q_part, ans = text.split("\nA: ")
        answer_tokens = pool.tokens[a:b][pool.mask[a:b]]
        assert TOK.decode(answer_tokens) == ans  # answer + <eos>
        assert mathgen.check(q_part[3:], ans.removesuffix("<eos>"))
