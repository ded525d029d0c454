"""Where the time of one training step goes: the trainer's step against the reference loop.

    .venv/bin/python analysis/bench/profile_trainer.py                      # 1M preset, fp32
    .venv/bin/python analysis/bench/profile_trainer.py --variants reference,fp32,bf16 --top 20

Builds the variants of ``bench_trainer.py`` (same shapes, batches and steps), runs ``--steps``
steps of each under ``torch.profiler`` after a warm-up, and prints per variant the share of
the profiled CPU time (self time of the operators) in each part of the step: matmuls, SDPA
attention, GELU, LayerNorm, the loss, the optimizer, gradient clipping, the embedding, the
trainer's RoPE split (``RotaryQKV``, inclusive of the operators it calls) and the rest
(residual adds, copies, fills, bias gradients, dispatch overhead). ``--top N`` also lists the
N most expensive operators. The profiler adds its own overhead: use the shares to see where
time goes, and ``bench_trainer.py`` (interleaved, unprofiled) for speeds.
"""

from __future__ import annotations

import argparse
import collections
import os

import torch
from bench_trainer import make_variant
from torch.profiler import ProfilerActivity, profile

#: part of the step → the operators whose self time it counts
PARTS = {
    "matmul (linear layers, head)": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"),
    "attention (SDPA fwd+bwd)": (
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
        "aten::_scaled_dot_product_flash_attention",
        "aten::_scaled_dot_product_flash_attention_backward",
        "aten::_scaled_dot_product_efficient_attention",
        "aten::_scaled_dot_product_efficient_attention_backward",
        "aten::_softmax", "aten::_softmax_backward_data"),
    "GELU fwd+bwd": ("aten::gelu", "aten::gelu_backward"),
    "LayerNorm fwd+bwd": ("aten::native_layer_norm", "aten::native_layer_norm_backward"),
    "loss (log-softmax, NLL fwd+bwd)": (
        "aten::_log_softmax", "aten::_log_softmax_backward_data", "aten::nll_loss_forward",
        "aten::nll_loss_backward"),
    "optimizer (AdamW)": (
        "aten::_fused_adamw_", "aten::_foreach_mul_", "aten::_foreach_add_",
        "aten::_foreach_lerp_", "aten::_foreach_addcmul_", "aten::_foreach_sqrt",
        "aten::_foreach_div_", "aten::_foreach_addcdiv_", "aten::lerp_", "aten::addcdiv_",
        "aten::sqrt", "aten::div"),
    "gradient clipping (norms)": ("aten::linalg_vector_norm", "aten::_foreach_norm"),
    "embedding fwd+bwd": ("aten::index_select", "aten::embedding_dense_backward"),
}
#: autograd functions counted with everything they call (their time is not in PARTS' ops)
INCLUSIVE = {"RoPE split (RotaryQKV fwd+bwd)": ("RotaryQKV", "RotaryQKVBackward")}
REST = "rest (residual adds, copies, fills, bias grads, overhead)"


def profile_variant(variant: str, preset: str, device: str, steps: int):
    """(profiled ms per step, {part: share}, Counter of self µs per operator)."""
    step, *_ = make_variant(variant, preset, device)
    for _ in range(3):
        step()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda")
                                     else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
    self_us: collections.Counter = collections.Counter()
    total_us: dict[str, float] = {}
    for e in prof.key_averages():
        self_us[e.key] += e.self_cpu_time_total
        total_us[e.key] = e.cpu_time_total
    total = sum(self_us.values())
    parts = {name: sum(self_us[o] for o in ops) for name, ops in PARTS.items()}
    for name, fns in INCLUSIVE.items():
        if any(f in total_us for f in fns):
            parts[name] = sum(total_us.get(f, 0.0) for f in fns)
    parts[REST] = total - sum(parts.values())
    return total / steps / 1e3, {k: v / total for k, v in parts.items()}, self_us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="1M")
    ap.add_argument("--variants", default="reference,fp32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--top", type=int, default=0, help="also list the N costliest operators")
    a = ap.parse_args()
    if a.device == "cpu":
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    variants = a.variants.split(",")
    res = {v: profile_variant(v, a.preset, a.device, a.steps) for v in variants}
    names = list(dict.fromkeys(p for _, parts, _ in res.values() for p in parts))
    print(f"preset {a.preset}, {a.device}, threads {torch.get_num_threads()}, "
          f"{a.steps} profiled steps per variant; share of the profiled CPU time")
    print(f"  {'part':58s}" + "".join(f"{v:>12s}" for v in variants))
    for n in names:
        print(f"  {n:58s}" + "".join(f"{res[v][1].get(n, 0.0):12.1%}" for v in variants))
    print(f"  {'profiled ms per step':58s}" + "".join(f"{res[v][0]:12.1f}" for v in variants))
    for v in variants if a.top else ():
        print(f"\n{v}: top {a.top} operators (self ms per step)")
        for op, us in res[v][2].most_common(a.top):
            print(f"  {op[:70]:70s} {us / a.steps / 1e3:8.2f}")


if __name__ == "__main__":
    main()
