"""Benchmark: how much of a training step the data stream costs.

For each reference recipe, time ``Stream.batch(step)`` (32 rows x 128 tokens, fresh steps, pools
already cached) and compare with one training step (forward + backward + AdamW) of a plain torch
GPT of the smallest preset's dimensions (2 layers, width 64, 4 heads, ctx 128, batch 32, byte
vocabulary), measured in the same process. Target: stream time < 5% of the step time.

    .venv/bin/python analysis/bench/bench_data.py [--repeats 5] [--batches 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from scaling.data.stream import Stream

RECIPES = (
    "prose=1",
    "prose=1;front=dyck:0.001",
    "prose=0.6,code=0.3,math=0.1;front=dyck:0.01",
    "prose=0.8,code=0.2;mid=code:0.5@0.4",
    "prose=1;meco=0.9",
    "dyck=0.2,eca=0.2,sort=0.2,stack=0.2,union=0.2",
)
B, T, D, L, H, V = 32, 128, 64, 2, 4, 259


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))

    def forward(self, x):
        q, k, v = self.qkv(self.ln1(x)).view(x.shape[0], x.shape[1], 3, H, D // H).unbind(2)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                           v.transpose(1, 2), is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(x.shape))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, D), nn.Embedding(T, D)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln, self.head = nn.LayerNorm(D), nn.Linear(D, V, bias=False)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x))


def time_train_step(batches: int) -> tuple[float, int]:
    torch.manual_seed(0)
    model = TinyGPT()
    n_non_emb = sum(p.numel() for n, p in model.named_parameters()
                    if not n.startswith(("tok", "pos")))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    s = Stream("prose=1", 10**9, B, T)
    data = [s.batch(i) for i in range(4)]

    def step(b):
        logits = model(b.x)
        loss = F.cross_entropy(logits.view(-1, V), b.y.view(-1), reduction="none")
        loss = (loss * b.loss_mask.view(-1)).sum() / b.loss_mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(5):
        step(data[i % 4])
    t = time.perf_counter()
    for i in range(batches):
        step(data[i % 4])
    return (time.perf_counter() - t) / batches, n_non_emb


def time_stream(recipe: str, batches: int, offset: int) -> float:
    s = Stream(recipe, 10**9, B, T, seed=1)
    s.batch(0)
    t = time.perf_counter()
    for i in range(batches):
        s.batch(offset + i * 7919)  # fresh, scattered steps (no caching of batches)
    return (time.perf_counter() - t) / batches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default); "
                    "on a shared machine 1 avoids oversubscription stalls")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {B}x{T}, "
          f"reference model {L} layers x {D} wide")
    for r in RECIPES:  # build / load every pool before timing
        Stream(r, 10**9, B, T)
    step_times, rows = [], {r: [] for r in RECIPES}
    for k in range(args.repeats):  # interleave reference and streams to share the noise
        t, n_non_emb = time_train_step(max(args.batches // 10, 10))
        step_times.append(t)
        if k == 0:
            print(f"reference model: {n_non_emb / 1e3:.0f}k non-embedding params; first step "
                  f"timing {t * 1e3:.1f} ms")
        for r in RECIPES:
            rows[r].append(time_stream(r, args.batches, offset=1000 * k))
    step = statistics.median(step_times)
    print(f"training step (median of {args.repeats}): {step * 1e3:.2f} ms = "
          f"{B * T / step / 1e3:.0f}k tokens/s")
    print(f"{'recipe':<50}{'ms/batch':>10}{'Mtok/s':>9}{'% of step':>11}")
    worst = 0.0
    for r in RECIPES:
        t = statistics.median(rows[r])
        worst = max(worst, t / step)
        print(f"{r:<50}{t * 1e3:>10.3f}{B * T / t / 1e6:>9.2f}{100 * t / step:>10.2f}%")
    print(f"worst stream/step ratio: {100 * worst:.2f}% (target < 5%)")


if __name__ == "__main__":
    main()
