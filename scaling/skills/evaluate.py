"""Exact-match scoring of probes with a causal LM.

Greedy decoding reproduces the answer ``a_1..a_m`` exactly iff, for every ``j``,
``argmax p(· | prompt, a_<j) = a_j`` — every step of a greedy decode that has been right so far
sees exactly the teacher-forced prefix. So one teacher-forced forward pass over
``prompt + answer`` per batch gives the exact-match accuracy of greedy decoding of the answer
span (``m`` tokens; what follows the answer is not scored). Rows are right-padded, which a causal
model never attends to from earlier positions. :func:`greedy_decode` is the explicit loop (used
by the tests to confirm the equivalence).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..data.tokenizer import get_tokenizer
from .probes import PROBES, Example, ProbeError, get_probe


def _encode(tok, ex: Example) -> tuple[list[int], int]:
    p = tok.encode(ex.prompt)
    return p + tok.encode(ex.answer), len(p)


@torch.no_grad()
def score_examples(logits_fn: Callable, tokenizer, examples: Sequence[Example], device="cpu",
                   max_len: int = 256, batch_size: int = 64) -> list[bool]:
    """Per-example exact match of the greedy answer span (teacher-forced, batched)."""
    tok = get_tokenizer(tokenizer)
    enc = [_encode(tok, ex) for ex in examples]
    for (ids, _), ex in zip(enc, examples, strict=True):
        if len(ids) > max_len:
            raise ProbeError(f"probe example needs {len(ids)} tokens > max_len {max_len} "
                             f"(prompt {ex.prompt[:30]!r}…); lower the difficulty")
    order = sorted(range(len(enc)), key=lambda i: len(enc[i][0]))
    result = [False] * len(enc)
    for a in range(0, len(order), batch_size):
        idx = order[a:a + batch_size]
        L = max(len(enc[i][0]) for i in idx)
        ids = torch.full((len(idx), L), tok.pad_id, dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, :len(enc[i][0])] = torch.tensor(enc[i][0])
        pred = logits_fn(ids.to(device)).argmax(-1).cpu()  # pred[:, t] predicts ids[:, t+1]
        for r, i in enumerate(idx):
            full, p = enc[i]
            n = len(full)
            result[i] = bool(torch.equal(pred[r, p - 1:n - 1], ids[r, p:n]))
    return result


@torch.no_grad()
def greedy_decode(logits_fn: Callable, tokenizer, prompt: str, n_tokens: int,
                  device="cpu") -> str:
    """Explicit greedy decoding of ``n_tokens`` after ``prompt`` (one example, slow)."""
    tok = get_tokenizer(tokenizer)
    ids = torch.tensor([tok.encode(prompt)], dtype=torch.long, device=device)
    out: list[int] = []
    for _ in range(n_tokens):
        nxt = logits_fn(ids)[0, -1].argmax().item()
        out.append(nxt)
        ids = torch.cat([ids, torch.tensor([[nxt]], device=ids.device)], dim=1)
    return tok.decode(out, specials=False)


def evaluate_probes(logits_fn: Callable, tokenizer, probes: Sequence[str] | None = None,
                    n: int = 64, difficulty: int = 1, seed: int = 0, device="cpu",
                    max_len: int = 256) -> dict[str, float]:
    """Exact-match accuracy per probe of a causal LM.

    Parameters
    ----------
    logits_fn : callable
        ``ids LongTensor[B, T] -> FloatTensor[B, T, V]`` (causal).
    tokenizer : tokenizer or name
    probes : names (default: all of :data:`PROBES`)
    n, difficulty, seed : examples per probe, size knob, generator seed
    max_len : longest prompt + answer allowed (the model's context)

    Returns
    -------
    dict
        ``{probe: accuracy in [0, 1]}``.
    """
    names = list(PROBES) if probes is None else list(probes)
    out: dict[str, float] = {}
    for name in names:
        exs = get_probe(name).generate(n, difficulty, seed)
        hits = score_examples(logits_fn, tokenizer, exs, device=device, max_len=max_len)
        out[name] = sum(hits) / len(hits) if hits else float("nan")
    return out


class AnswerSet:
    """Fixed held-out items of a skill task, encoded once, scored in a few batched passes.

    Item ``i`` is ``prompt SEP answer`` (the training format); its answer positions are the
    targets. With ``pred = argmax logits`` (teacher forcing), per item ``c_i`` answer tokens
    are right out of ``m_i``:

    * exact match ``= (1/n) Σ_i [c_i = m_i]`` — what greedy decoding of the answer scores
      (see the module docstring);
    * per-token accuracy ``= Σ_i c_i / Σ_i m_i`` (the procedural-pretraining paper's measure).

    Parameters
    ----------
    items : sequence of (prompt, answer)
    tokenizer : tokenizer or name
    max_len : longest item allowed (the model's context)
    batch_size : items per forward pass
    """

    def __init__(self, items: Sequence[tuple[str, str]], tokenizer, max_len: int = 256,
                 batch_size: int = 256) -> None:
        tok = get_tokenizer(tokenizer)
        enc = []
        for prompt, answer in items:
            p = tok.encode(prompt) + [tok.sep_id]
            ids = p + tok.encode(answer)
            if len(ids) > max_len:
                raise ProbeError(f"task item needs {len(ids)} tokens > the context {max_len} "
                                 f"(prompt {prompt[:30]!r}…); lower the task's size knob")
            enc.append((ids, len(p)))
        order = sorted(range(len(enc)), key=lambda i: len(enc[i][0]))
        self.n_items = len(enc)
        self.n_tokens = sum(len(ids) - p for ids, p in enc)
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        for a in range(0, len(order), batch_size):
            idx = order[a:a + batch_size]
            L = max(len(enc[i][0]) for i in idx)
            ids = torch.full((len(idx), L), tok.pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), L - 1), dtype=torch.bool)  # on the shifted targets
            for r, i in enumerate(idx):
                full, p = enc[i]
                ids[r, :len(full)] = torch.tensor(full)
                mask[r, p - 1:len(full) - 1] = True
            self.batches.append((ids, mask))

    @torch.no_grad()
    def score(self, logits_fn: Callable, device="cpu") -> tuple[float, float]:
        """``(exact_match, token_accuracy)`` of a causal LM ``ids -> logits``."""
        exact, right = 0, 0
        for ids, mask in self.batches:
            pred = logits_fn(ids.to(device)).argmax(-1)[:, :-1].cpu()
            ok = (pred == ids[:, 1:]) & mask
            right += int(ok.sum())
            exact += int((ok.sum(1) == mask.sum(1)).sum())
        return exact / max(self.n_items, 1), right / max(self.n_tokens, 1)


def answer_accuracy(logits_fn: Callable, tokenizer, items: Sequence[tuple[str, str]],
                    device="cpu", max_len: int = 256) -> tuple[float, float]:
    """Exact match and per-token accuracy of ``items`` (one-off :class:`AnswerSet`)."""
    return AnswerSet(items, tokenizer, max_len).score(logits_fn, device)
