"""A small GPT: pre-norm blocks, rotary position embeddings, PyTorch SDPA attention.

The shape rule
--------------
``--size`` is a *non-embedding* parameter count N (Kaplan convention). One rule maps it to a
shape (:func:`shape_for`):

* a block holds ``12 d²`` matrix weights (attention ``4 d²`` + MLP ``8 d²``, no biases) and
  ``2 d`` LayerNorm weights, plus a final LayerNorm: ``N(L, d) = L (12 d² + 2 d) + d``;
* widths are multiples of the head size (32 below a width of 512, 64 from there on; heads =
  width / head size), and the aspect ratio ``d / L`` stays within [16, 128];
* among those shapes the rule takes the one whose exact ``N(L, d)`` is nearest the request in
  log space, with a small preference (0.1 per e-fold) for the aspect ``d = 32 L``:
  ``score = |ln(N(L, d) / N)| + 0.1 |ln(d / 32 L)|``. So the built model is as close to the
  requested size as the grid of shapes allows, and larger requests never give smaller models
  (25k → 2 × 32, 50k → 1 × 64, 100k → 2 × 64, 1M → 5 × 128, 100M → 20 × 640).
* ``layers=L`` fixes the depth and the same score picks the width (a width sweep at fixed
  depth: ``layers=2`` gives 25k → 2 × 32, 100k → 2 × 64, 220k → 2 × 96, 400k → 2 × 128). At the
  smallest sizes the free rule alternates depth and width (1 × 32, 2 × 32, 1 × 64, 2 × 64, …),
  and in short runs width matters far more than depth there, so a grid meant for an L(N, D)
  fit is better run at fixed depth.

Parameter accounting
--------------------
``n_params`` (non-embedding) counts every parameter except the token embedding and, when the
output head is *not* tied to it, the output head. There are no position embeddings (RoPE has
no parameters). ``n_params_total`` counts every distinct parameter tensor once (a tied head is
counted once, as the embedding). Both are exact counts of the built model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

# the shape rule needs no torch (the CLI checks --size before importing it): it lives in
# scaling.shape and is re-exported here
from ..shape import ASPECT, Shape, SizeError, non_embedding_params, shape_for  # noqa: F401

# --------------------------------------------------------------------------- model


def rope_tables(seq_len: int, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, ...]:
    """cos/sin tables ``[T, head_dim]`` for rotary embeddings (Su et al., 2021).

    Rotate-half layout (GPT-NeoX): dimension ``i`` pairs with ``i + head_dim/2``; angle
    ``θ_i = t / base^(2i/head_dim)``.
    """
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    ang = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv)
    ang = torch.cat((ang, ang), dim=-1)
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs ``(x_i, x_{i+hd/2})`` of ``x [..., hd]`` by their angles;
    ``cos``/``sin`` broadcast against ``x`` (position on the axis they are laid out on)."""
    h = x.shape[-1] // 2
    rot = torch.cat((-x[..., h:], x[..., :h]), dim=-1)
    return x * cos.to(x.dtype) + rot * sin.to(x.dtype)


def _rotate_into(out: torch.Tensor, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                 sign: float) -> None:
    """``out = x·cos + sign · rotate_half(x)·sin`` written into ``out`` (any strides), without
    the concatenated temporary of :func:`apply_rope`; ``sign = -1`` is the inverse rotation
    (the backward pass). ``sin`` holds one half of the table (both halves are equal)."""
    h = x.shape[-1] // 2
    torch.mul(x, cos, out=out)
    out[..., :h].addcmul_(x[..., h:], sin, value=-sign)
    out[..., h:].addcmul_(x[..., :h], sin, value=sign)


def split_rotary(qkv: torch.Tensor, cos: torch.Tensor,
                 sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``q, k, v [B, H, T, hd]`` of ``qkv [B, T, 3, H, hd]``, q and k rotated by
    :func:`apply_rope` (``cos``/``sin`` ``[T, 1, hd]``).

    Eager: :class:`RotaryQKV`, one pass each way. Under ``torch.compile`` the plain expression,
    which inductor fuses by itself (the custom function made the compiled CPU step ~4% slower).
    """
    if torch.compiler.is_compiling():
        qk = apply_rope(qkv[:, :, :2], cos[:, None], sin[:, None])
        q, k = qk.unbind(2)
        return q.transpose(1, 2), k.transpose(1, 2), qkv[:, :, 2].transpose(1, 2)
    return RotaryQKV.apply(qkv, cos, sin)


class RotaryQKV(torch.autograd.Function):
    """:func:`split_rotary` in eager mode: ``q, k, v`` come out contiguous.

    The autograd graph of slices, ``cat`` and ``unbind`` that the plain expression builds
    costs a zero-filled ``[B, T, 3, H, hd]`` gradient per slice plus the copies in between;
    here the forward writes the attention layout directly and the backward is the inverse
    rotation into one buffer. Measured at the 1M preset on CPU (2 threads): the fp32 training
    step ~6% faster on AVX2, the bf16 one ~4% faster on AVX512 + AMX.
    """

    @staticmethod
    def forward(ctx, qkv, cos, sin):
        B, T, _, H, hd = qkv.shape
        out = qkv.new_empty(3, B, H, T, hd)
        cos, sin = cos.to(qkv.dtype), sin[..., :hd // 2].to(qkv.dtype)
        for i in range(2):
            _rotate_into(out[i].transpose(1, 2), qkv[:, :, i], cos, sin, 1.0)
        out[2].transpose(1, 2).copy_(qkv[:, :, 2])
        ctx.save_for_backward(cos, sin)
        return out[0], out[1], out[2]

    @staticmethod
    def backward(ctx, dq, dk, dv):
        cos, sin = ctx.saved_tensors
        B, H, T, hd = (dq if dq is not None else dk if dk is not None else dv).shape
        grad = cos.new_zeros(B, T, 3, H, hd) if None in (dq, dk, dv) else \
            cos.new_empty(B, T, 3, H, hd)
        for i, g in enumerate((dq, dk)):
            if g is not None:
                _rotate_into(grad[:, :, i], g.transpose(1, 2), cos, sin, -1.0)
        if dv is not None:
            grad[:, :, 2].copy_(dv.transpose(1, 2))
        return grad, None, None


#: Largest score tensor (B·H·T² elements) that CPU bf16 attention materialises (256 MiB).
EXPLICIT_ATTENTION_MAX = 2**27


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal softmax attention of ``q, k, v [B, H, T, hd]``.

    SDPA everywhere, except under CPU bf16 autocast: there the CPU flash kernels are slow
    at these head sizes (bf16 slower than fp32, both ~100 GFLOP/s at hd = 32), while two
    batched bf16 matmuls with a materialised score matrix run ~1.7× faster than fp32 flash
    for fwd + bwd (1M preset: B·H = 64, T = 256). Softmax keeps fp32 accumulation inside
    the kernel. Above ``EXPLICIT_ATTENTION_MAX`` score elements the memory is not worth it
    and fp32 flash attention is used.

    fp32 stays on SDPA on CPU too: at the 1M preset on an AVX2-only CPU (oneDNN/MKL fp32
    kernels, 2 threads) the explicit fp32 path made the whole training step ~12% slower,
    and explicit scores over 2 or 4 causal query blocks (skipping the masked corner, as
    flash does) ~3–5% slower: without bf16's faster matmuls the materialised scores cost
    more than they save. The rule depends on the matmul speed of the dtype against the
    flash kernel's, not on this CPU's core count.
    """
    B, H, T, hd = q.shape
    if q.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    with torch.autocast("cpu", enabled=False):
        if B * H * T * T > EXPLICIT_ATTENTION_MAX:
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                                  is_causal=True).to(torch.bfloat16)
        q, k, v = (t.to(torch.bfloat16).reshape(B * H, T, hd) for t in (q, k, v))
        future = torch.full((T, T), float("-inf"), dtype=torch.bfloat16,
                            device=q.device).triu_(1)
        scores = torch.baddbmm(future.expand(B * H, T, T), q, k.transpose(1, 2),
                               alpha=hd**-0.5)
        return torch.bmm(torch.softmax(scores, dim=-1), v).view(B, H, T, hd)


class Attention(nn.Module):
    def __init__(self, d_model: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head)
        q, k, v = split_rotary(qkv, cos, sin)  # each [B, H, T, hd]
        y = causal_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, d_model: int, mlp_ratio: int = 4):
        super().__init__()
        self.fc = nn.Linear(d_model, mlp_ratio * d_model, bias=False)
        self.proj = nn.Linear(mlp_ratio * d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))  # exact (erf) GELU: faster than tanh on CPU


class Block(nn.Module):
    """Pre-norm residual block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, d_model: int, n_head: int, mlp_ratio: int = 4):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, bias=False)
        self.attn = Attention(d_model, n_head)
        self.ln2 = nn.LayerNorm(d_model, bias=False)
        self.mlp = MLP(d_model, mlp_ratio)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.ln1(x), cos, sin)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Decoder-only transformer; ``forward(idx [B,T]) -> logits [B,T,V]``.

    Parameters
    ----------
    cfg : ModelConfig
        ``n_layer, d_model, n_head, vocab_size, seq_len, tie_embeddings, mlp_ratio``.
    """

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(
            Block(cfg.d_model, cfg.n_head, cfg.mlp_ratio) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=False)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.wte.weight
        cos, sin = rope_tables(cfg.seq_len, cfg.d_model // cfg.n_head)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    # -- accounting ---------------------------------------------------------------------
    def embedding_param_names(self) -> set[str]:
        """Parameters excluded from the non-embedding count."""
        return {"wte.weight"} if self.cfg.tie_embeddings else {"wte.weight", "head.weight"}

    def num_params(self, non_embedding: bool = True) -> int:
        """Exact count; ``non_embedding`` drops the token embedding and an untied head."""
        skip = self.embedding_param_names() if non_embedding else set()
        return sum(p.numel() for n, p in self.named_parameters() if n not in skip)

    # -- initialisation -----------------------------------------------------------------
    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None,
                     select: Callable[[str], bool] | None = None) -> None:
        """GPT-2 initialisation: N(0, 0.02), residual projections N(0, 0.02/√(2L)), LN = 1.

        ``select(name)`` limits re-initialisation to some parameters (stage transitions).
        """
        resid_std = 0.02 / math.sqrt(2 * self.cfg.n_layer)
        for name, p in self.named_parameters():
            if select is not None and not select(name):
                continue
            if name.endswith(("ln1.weight", "ln2.weight", "ln_f.weight")):
                p.fill_(1.0)
            elif name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, resid_std, generator=generator)
            else:
                nn.init.normal_(p, 0.0, 0.02, generator=generator)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        if T > self.cfg.seq_len:
            raise ValueError(f"sequence of {T} tokens exceeds the context {self.cfg.seq_len}")
        cos, sin = self.rope_cos[:T, None], self.rope_sin[:T, None]
        x = self.wte(idx)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.head(self.ln_f(x))


def build_model(cfg, seed: int = 0, device: str | torch.device = "cpu") -> GPT:
    """Build and initialise a :class:`GPT` deterministically from ``seed``."""
    with torch.device(device):
        model = GPT(cfg)
    gen = torch.Generator(device=device).manual_seed(seed)
    model.init_weights(gen)
    return model


def count_params(cfg) -> tuple[int, int]:
    """(non-embedding, total) exact counts, from a model built on the meta device."""
    with torch.device("meta"):
        model = GPT(cfg)
    return model.num_params(True), model.num_params(False)


# --------------------------------------------------------------------------- FLOPs


def flops_per_token(cfg, seq_len: int | None = None) -> float:
    """Training FLOPs per token (forward + backward), PaLM/nanoGPT convention.

    ``6 (N_matrix + d V) + 12 L d T``: 6 FLOPs per weight per token for every matrix of the
    blocks and the output head (the embedding lookup costs nothing), plus the attention scores
    and their weighted sum, ``2 · 2 · L · T · d`` forward, ×3 with backward (the full T×T
    product is counted, as is conventional, although causal kernels can skip half).
    """
    T = seq_len or cfg.seq_len
    d, L = cfg.d_model, cfg.n_layer
    matrix = L * (4 + 2 * cfg.mlp_ratio) * d * d
    return 6.0 * (matrix + d * cfg.vocab_size) + 12.0 * L * d * T


def estimate_mfu(cfg, tokens_per_s: float, peak_flops: float, seq_len: int | None = None) -> float:
    """Model FLOPs utilisation: ``tokens_per_s · flops_per_token / peak_flops``."""
    return tokens_per_s * flops_per_token(cfg, seq_len) / peak_flops
