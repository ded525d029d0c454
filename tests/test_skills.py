"""Skill probes: answers are right (recomputed), generation is deterministic, and exact-match
scoring by teacher forcing equals explicit greedy decoding."""

from __future__ import annotations

import re

import pytest
import torch

from scaling.data import get_tokenizer
from scaling.data.procedural import dyck_verify
from scaling.skills import PROBES, ProbeError, evaluate_probes, greedy_decode, score_examples
from scaling.skills.probes import scratchpad

TOK = get_tokenizer("byte")


def _check(name: str, prompt: str, answer: str) -> bool:
    if name == "needle":
        pairs = dict(re.findall(r"([a-z]{3})=(\d{3})", prompt.split("?")[0]))
        key = re.search(r"\? ([a-z]{3})=$", prompt).group(1)
        return pairs[key] == answer
    body = prompt.split(": ", 1)[1]
    if name in ("copy", "reverse", "sort"):
        x = body.rstrip("|")
        return answer == {"copy": x, "reverse": x[::-1], "sort": "".join(sorted(x))}[name]
    if name == "brackets":
        return dyck_verify("", body.rstrip("|") + answer, k=4, max_depth=64)
    if name in ("add_plain", "add_scratchpad"):
        a, b = map(int, body.rstrip("=").split("+"))
        return answer.rsplit("=", 1)[-1] == str(a + b) and (
            name == "add_plain" or answer == scratchpad(a, b))
    if name == "mod_add":
        p = int(prompt.split(":")[0].split()[1])
        a, b = map(int, body.rstrip("=").split("+"))
        return int(answer) == (a + b) % p
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(PROBES))
@pytest.mark.parametrize("difficulty", [1, 3, 6])
def test_probe_answers_are_correct_and_fit(name, difficulty):
    exs = PROBES[name].generate(40, difficulty, seed=3)
    assert all(_check(name, e.prompt, e.answer) for e in exs)
    assert max(len(TOK.encode(e.prompt + e.answer)) for e in exs) <= 256
    assert exs == PROBES[name].generate(40, difficulty, seed=3)
    assert exs != PROBES[name].generate(40, difficulty, seed=4)


def test_difficulty_grows_the_task():
    for name in ("needle", "copy", "add_plain", "brackets"):
        lens = [sum(len(e.prompt) for e in PROBES[name].generate(30, d)) for d in (1, 2, 4)]
        assert lens[0] < lens[1] < lens[2], name


def test_scratchpad_format():
    assert scratchpad(19, 14) == "9+4+0=13,1+1+1=3,=33"
    assert scratchpad(99, 1) == "9+1+0=10,9+0+1=10,=100"


class Oracle:
    """A causal 'model' that knows the continuation of the given examples' texts; where
    ``wrong`` says so, it predicts a wrong token at the first answer position."""

    def __init__(self, examples, wrong=()):
        self.next: dict[tuple, int] = {}
        for i, e in enumerate(examples):
            p = TOK.encode(e.prompt)
            full = p + TOK.encode(e.answer)
            for j in range(len(full) - 1):
                tgt = full[j + 1]
                if i in wrong and j == len(p) - 1:
                    tgt = (tgt + 1) % 256
                self.next[tuple(full[:j + 1])] = tgt

    def __call__(self, ids):
        B, T = ids.shape
        out = torch.zeros(B, T, TOK.vocab_size)
        for b in range(B):
            row = ids[b].tolist()
            for t in range(T):
                out[b, t, self.next.get(tuple(row[:t + 1]), TOK.pad_id)] = 1.0
        return out


def test_teacher_forced_scoring_counts_exact_matches():
    exs = PROBES["add_plain"].generate(20, 2, seed=0)
    wrong = {1, 5, 7, 11}
    hits = score_examples(Oracle(exs, wrong), TOK, exs, batch_size=6)
    assert hits == [i not in wrong for i in range(20)]


def test_evaluate_probes_perfect_and_zero():
    exs = {n: PROBES[n].generate(8, 1, seed=0) for n in ("copy", "mod_add")}
    oracle = Oracle([e for v in exs.values() for e in v])
    acc = evaluate_probes(oracle, TOK, probes=["copy", "mod_add"], n=8)
    assert acc == {"copy": 1.0, "mod_add": 1.0}
    blank = evaluate_probes(lambda ids: torch.zeros(*ids.shape, TOK.vocab_size), TOK,
                            probes=["copy"], n=8)
    assert blank == {"copy": 0.0}


def test_teacher_forcing_equals_greedy_decoding():
    torch.manual_seed(0)
    V, D = TOK.vocab_size, 16
    emb, rnn, head = torch.nn.Embedding(V, D), torch.nn.GRU(D, D, batch_first=True), \
        torch.nn.Linear(D, V)

    digits = torch.full((V,), -1e9)
    digits[list(b"0123456789")] = 0.0

    def lm(ids):  # a causal recurrent model that only ever emits digits (decodes losslessly)
        return head(rnn(emb(ids))[0]) * 50 + digits

    exs = PROBES["mod_add"].generate(30, 1, seed=1)
    # pick answers the model does greedily produce for half of the prompts
    half = [type(e)(e.prompt, greedy_decode(lm, TOK, e.prompt, len(e.answer)))
            if i % 2 == 0 else e for i, e in enumerate(exs)]
    hits = score_examples(lm, TOK, half, batch_size=7)
    explicit = [greedy_decode(lm, TOK, e.prompt, len(TOK.encode(e.answer))) == e.answer
                for e in half]
    assert hits == explicit
    assert all(hits[0::2])


def test_bad_inputs():
    with pytest.raises(ProbeError, match="unknown probe"):
        evaluate_probes(lambda x: x, TOK, probes=["nedle"], n=2)
    with pytest.raises(ProbeError, match="difficulty"):
        PROBES["copy"].generate(2, 0)
    with pytest.raises(ProbeError, match="max_len"):
        evaluate_probes(lambda ids: torch.zeros(*ids.shape, 259), TOK, probes=["needle"], n=2,
                        difficulty=6, max_len=64)
