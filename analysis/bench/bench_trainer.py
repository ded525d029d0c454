"""Trainer throughput, MFU and memory against a plain reference loop measured in the same run.

    .venv/bin/python analysis/bench/bench_trainer.py                 # CPU: 100k and 1M presets
    .venv/bin/python analysis/bench/bench_trainer.py --compile       # also the compiled path
    .venv/bin/python analysis/bench/bench_trainer.py --device cuda --presets 1M,100M

First the machine: CPU capability, oneDNN's native-bf16 check and what ``--precision auto``
resolves to here (:mod:`scaling.hardware`). Then, per preset: all variants live in one process
and alternate within each of ``--rounds`` rounds (a load spike from other processes then hits
all of them alike); tokens/s is the median over rounds and the ratio the median of the
per-round ratios (with its IQR):

* tokens/s of the *reference*: a plain nanoGPT-style loop written below (learned positions,
  LayerNorm with biases, SDPA, eager fp32, ``torch.optim.AdamW`` defaults), same dims;
* tokens/s of the trainer's step (``scaling.train.loop.train_step``: RoPE model, fused AdamW,
  masked loss, clipping) in fp32 and in the default precision (``auto``), optionally compiled.
  bf16 is timed only where ``auto`` picks it: on a CPU without native bf16 it runs ~100× slower
  than fp32 and is skipped (``--all-precisions`` times it anyway);
* the ratio trainer / reference;
* MFU = tokens/s × FLOPs/token / peak, against the fp32 (and, where bf16 runs, bf16) matmul
  peaks re-measured in every round next to the variants (``torch.mm`` of 2048² on CPU, 8192²
  on CUDA); median over rounds. The reference's fp32 MFU bounds what any fp32 path can gain
  over it with the same FLOPs (printed as the ceiling);
* peak memory of 3 steps in a fresh process: CPU peak RSS above the process's size after
  ``import torch``; CUDA ``max_memory_allocated``.

Then (CPU, unless ``--skip-loss``, and only where the default is not fp32 itself) a fixed
1M-token run of the 1M preset on ``prose`` through ``scaling.train.train`` in fp32 and in the
default precision: final validation losses and their relative difference (target < 1%).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

#: preset → (size, seq_len, batch)
PRESETS = {"100k": (100_000, 128, 32), "1M": (1_000_000, 256, 16),
           "100M": (100_000_000, 1024, 16)}
VOCAB = 259
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


# --------------------------------------------------------------------------- reference


class RefBlock(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))


class RefGPT(nn.Module):
    """nanoGPT-style reference: learned positions, biases, tied head, eager fp32."""

    def __init__(self, L, d, h, T, V=VOCAB):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, d), nn.Embedding(T, d)
        self.blocks = nn.ModuleList(RefBlock(d, h) for _ in range(L))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, V, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


# --------------------------------------------------------------------------- measurements


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak(dtype, device) -> float:
    """FLOP/s of ``torch.mm`` on n×n matrices, n = 2048 on CPU and 8192 on CUDA
    (:func:`scaling.hardware.matmul_rate`: best of 3 timings)."""
    from scaling.hardware import matmul_rate

    return matmul_rate(dtype, device, n=8192 if device.startswith("cuda") else 2048)


def make_variant(variant: str, preset: str, device: str):
    """(step function, FLOPs per token, shape) of one variant with fixed random batches."""
    from scaling.train.config import ModelConfig, OptimConfig
    from scaling.train.loop import make_optimizer, make_scaler, train_step
    from scaling.train.model import build_model, flops_per_token, shape_for

    size, T, B = PRESETS[preset]
    shape = shape_for(size)
    torch.manual_seed(0)
    x = torch.randint(0, VOCAB, (B, T), device=device)
    y = torch.randint(0, VOCAB, (B, T), device=device)
    mask = torch.ones(B, T, dtype=torch.bool, device=device)
    cfg = ModelConfig(shape.n_layer, shape.d_model, shape.n_head, VOCAB, T)
    if variant == "reference":
        model = RefGPT(shape.n_layer, shape.d_model, shape.n_head, T).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95),
                                weight_decay=0.1)

        def step():
            loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss.item()
    else:
        precision = variant.split("+")[0]
        model = build_model(cfg, seed=0, device=device)
        fwd = torch.compile(model) if variant.endswith("compile") else model

        class _C:  # what make_optimizer reads from a RunConfig
            optim = OptimConfig(lr=1e-3)

        opt = make_optimizer(model, _C, device)

        def step():
            return train_step(fwd, model, opt, x, y, mask, 1e-3, dev=device,
                              precision=precision, scaler=scaler)

        scaler = make_scaler(precision, device)
    return step, flops_per_token(cfg), shape, B * T


def _rss_hwm_mib() -> float:
    """Peak resident set size of this process so far (Linux VmHWM; else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory(variant: str, preset: str, device: str) -> float:
    """Peak memory (MiB) of 3 steps of one variant, in a fresh process (called as a child):
    CPU: peak RSS during the steps minus RSS before building the model (the high-water mark
    is reset through /proc/self/clear_refs); CUDA: ``max_memory_allocated``."""
    import gc

    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    base = _rss_hwm_mib()
    step, *_ = make_variant(variant, preset, device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    for _ in range(3):
        step()
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return _rss_hwm_mib() - base


def child_memory(variant: str, preset: str, device: str) -> float:
    cmd = [sys.executable, __file__, "--child", variant, "--preset", preset, "--device", device]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return float(r.stdout.strip().splitlines()[-1])


def time_interleaved(variants: list[str], preset: str, device: str, rounds: int,
                     steps: int, low_precision: str | None) -> dict:
    """Tokens/s per variant and per round; variants alternate within every round, so a load
    spike from other processes hits all of them alike (ratios are taken within rounds)."""
    built = {v: make_variant(v, preset, device) for v in variants}
    for step, *_ in built.values():
        for _ in range(3):  # warm-up (and compilation)
            step()
    tps: dict[str, list[float]] = {v: [] for v in variants}
    peaks: dict[str, list[float]] = {p: [] for p in ("fp32", low_precision) if p}
    for _ in range(rounds):
        # the matmul peaks are re-measured in every round, next to the variants they normalise
        for p in peaks:
            peaks[p].append(matmul_peak(DTYPES[p], device))
        for v, (step, _, _, tokens) in built.items():
            sync(device)
            t = time.perf_counter()
            for _ in range(steps):
                step()
            sync(device)
            tps[v].append(steps * tokens / (time.perf_counter() - t))
    _, fpt, shape, _ = built[variants[1]]
    return {"tokens_per_s": tps, "flops_per_token": fpt, "shape": str(shape), "peaks": peaks}


def loss_check(tokens: str = "1M") -> dict:
    """Final prose validation loss of a fixed 1M-token run in fp32 vs the default (auto)."""
    from scaling.train import RunConfig, train

    cfg = RunConfig.from_args(size="1M", mix="prose=1", tokens=tokens, seed=0,
                              seq_len=256, batch_size=16)
    out = {}
    for prec in ("fp32", "auto"):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            res = train(cfg, Path(d) / "run", device="cpu", progress=False, precision=prec)
            out[prec] = {"val_loss": res.final["val_loss"], "tokens_per_s": res.tokens_per_s,
                         "seconds": time.perf_counter() - t}
    a, b = out["fp32"]["val_loss"]["prose"], out["auto"]["val_loss"]["prose"]
    out["rel_diff"] = abs(b - a) / a
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="100k,1M")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default by preset)")
    ap.add_argument("--compile", action="store_true", help="also time the compiled path")
    ap.add_argument("--skip-loss", action="store_true", help="skip the 1M-token loss check")
    ap.add_argument("--all-precisions", action="store_true",
                    help="time bf16 even where it is not native (slow: ~100× fp32 on AVX2)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--preset", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.device == "cpu":
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    if a.child:
        print(peak_memory(a.child, a.preset, a.device))
        return

    from scaling.hardware import cpu_bf16_native, cpu_capability, resolve_precision

    choice = resolve_precision("auto", a.device)
    default = choice.precision
    low = "bf16" if a.all_precisions and default == "fp32" else (
        default if default != "fp32" else None)
    peaks = {p: matmul_peak(DTYPES[p], a.device) for p in ("fp32", low) if p}
    print(f"device {a.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"CPU capability {cpu_capability()}, native bf16 (oneDNN) "
          f"{'yes' if cpu_bf16_native() else 'no'}")
    print(f"precision auto → {choice}")
    print("matmul peak (torch.mm): " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s"
                                                 for k, v in peaks.items()))
    if low is None:
        print("bf16 variants skipped: not native here (--all-precisions times them anyway)")
    variants = ["reference", "fp32"] + ([low] if low else [])
    if a.compile:
        variants += [f"{v}+compile" for v in variants[1:]]
    summary = {"capability": cpu_capability(), "auto": {"precision": default,
                                                        "reason": choice.reason},
               "peaks_flops": peaks, "presets": {}}
    for preset in a.presets.split(","):
        steps = a.steps or {"100k": 6, "1M": 3, "100M": 10}[preset]
        res = time_interleaved(variants, preset, a.device, a.rounds, steps, low)
        tps, fpt = res["tokens_per_s"], res["flops_per_token"]
        print(f"\npreset {preset} ({res['shape']}, ctx {PRESETS[preset][1]}, "
              f"batch {PRESETS[preset][2]}; {a.rounds} interleaved rounds × {steps} steps)")
        print(f"  {'variant':14s} {'tokens/s':>10s} {'× ref':>6s} {'(IQR)':>11s} "
              + " ".join(f"{'MFU ' + p:>9s}" for p in res["peaks"]) + f" {'peak MiB':>9s}")
        rows = {}
        for v in variants:
            med = statistics.median(tps[v])
            ratios = sorted(x / r for x, r in zip(tps[v], tps["reference"], strict=True))
            q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
            # the reference has the same matmuls (+ biases, learned positions): same FLOPs;
            # MFU per round against that round's peaks, then the median
            mfu = {p: statistics.median(t * fpt / pk for t, pk in zip(tps[v], pks, strict=True))
                   for p, pks in res["peaks"].items()}
            mem = child_memory(v, preset, a.device)
            rows[v] = {"tokens_per_s": med, "ratio_vs_reference": statistics.median(ratios),
                       "ratio_iqr": [q[0], q[2]],
                       **{f"mfu_{p}_peak": m for p, m in mfu.items()}, "peak_mem_mib": mem}
            print(f"  {v:14s} {med:10.0f} {rows[v]['ratio_vs_reference']:6.2f} "
                  f"{q[0]:5.2f}–{q[2]:<5.2f} " + " ".join(f"{m:9.1%}" for m in mfu.values())
                  + f" {mem:9.0f}")
        target = "  (target ≥ 1.5 on 1M)" if preset == "1M" else ""
        print(f"  default path ({default}) / reference = "
              f"{rows[default]['ratio_vs_reference']:.2f}{target}")
        print(f"  fp32 path / reference = {rows['fp32']['ratio_vs_reference']:.2f}{target}; the "
              f"reference runs at {rows['reference']['mfu_fp32_peak']:.0%} of the fp32 matmul "
              f"peak, so the same FLOPs in fp32 can gain at most "
              f"{1 / rows['reference']['mfu_fp32_peak']:.2f}× over it")
        pk = {k: statistics.median(v) for k, v in res["peaks"].items()}
        print("  matmul peaks in these rounds (median): "
              + ", ".join(f"{k} {v / 1e9:.0f}" for k, v in pk.items()) + " GFLOP/s")
        summary["presets"][preset] = {**rows, "peaks_flops": pk}
    if a.device == "cpu" and not a.skip_loss and default != "fp32":
        lc = loss_check()
        print("\nfixed 1M-token run, 1M preset, prose: final validation loss "
              f"fp32 {lc['fp32']['val_loss']['prose']:.4f} ({lc['fp32']['seconds']:.0f} s), "
              f"default {lc['auto']['val_loss']['prose']:.4f} ({lc['auto']['seconds']:.0f} s); "
              f"relative difference {lc['rel_diff']:.2%} (target < 1%)")
        summary["loss_check"] = lc
    print("\n" + json.dumps(summary, default=lambda o: float(o) if not math.isnan(o) else None))


if __name__ == "__main__":
    main()
