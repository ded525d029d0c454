"""Evaluation hooks: masked cross-entropy, per-domain validation loss, skill probes."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: str, precision: str):
    """bf16/fp16 autocast context (CPU or CUDA) for those precisions, else a no-op."""
    if precision in AUTOCAST_DTYPES:
        return torch.autocast(device_type=torch.device(device).type,
                              dtype=AUTOCAST_DTYPES[precision])
    return contextlib.nullcontext()


def masked_ce_sum(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of next-token cross-entropy over positions where ``mask`` is true (fp32)."""
    ce = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
    return (ce * mask.flatten().to(ce.dtype)).sum()


@torch.no_grad()
def val_loss(model, batches, device: str, precision: str = "fp32") -> float:
    """Masked mean cross-entropy (nats/token) over fixed held-out batches.

    ``L = Σ_b Σ_t m_bt · CE_bt / Σ_b Σ_t m_bt``
    """
    total = torch.zeros((), dtype=torch.float64)
    count = 0
    was_training = model.training
    model.eval()
    for b in batches:
        x, y, m = b.x.to(device), b.y.to(device), b.loss_mask.to(device)
        with autocast(device, precision):
            logits = model(x)
        total += masked_ce_sum(logits, y, m).double().cpu()
        count += int(m.sum())
    model.train(was_training)
    return float(total / max(count, 1))


def probe_accuracies(model, tokenizer, n: int, difficulty: int, device: str,
                     precision: str = "fp32", max_len: int | None = None) -> dict[str, float]:
    """Exact-match accuracy of every skill probe (``scaling.skills.evaluate_probes``);
    ``n = 0`` asks none (runs that measure trained skill tasks need no zero-shot probes)."""
    from ..skills import evaluate_probes

    if n == 0:
        return {}

    ctx = model.cfg.seq_len if max_len is None else max_len
    with eval_logits(model, device, precision) as logits_fn:
        acc = evaluate_probes(logits_fn, tokenizer, n=n, difficulty=difficulty, seed=0,
                              device=device, max_len=ctx)
    return {k: float(v) for k, v in acc.items()}


def task_accuracies(model, answer_sets: dict, device: str,
                    precision: str = "fp32") -> dict[str, tuple[float, float]]:
    """``{task: (exact_match, token_accuracy)}`` on each task's fixed held-out
    :class:`scaling.skills.evaluate.AnswerSet`."""
    with eval_logits(model, device, precision) as logits_fn:
        return {name: s.score(logits_fn, device) for name, s in answer_sets.items()}


@contextlib.contextmanager
def eval_logits(model, device: str, precision: str):
    """``model`` in eval mode as ``ids → fp32 logits`` (autocast in the run's precision, no
    gradients); its training mode is restored on leaving."""

    @torch.no_grad()
    def logits_fn(ids: torch.Tensor) -> torch.Tensor:
        with autocast(device, precision):
            return model(ids.to(device)).float()

    was_training = model.training
    model.eval()
    try:
        yield logits_fn
    finally:
        model.train(was_training)
