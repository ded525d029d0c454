"""Model, shape rule, parameter/FLOP accounting and LR schedules of the trainer."""

import math

import numpy as np
import pytest
import torch

from scaling.train.config import (
    ConfigError,
    ModelConfig,
    OptimConfig,
    RunConfig,
    parse_branches,
)
from scaling.train.model import (
    EXPLICIT_ATTENTION_MAX,
    GPT,
    SizeError,
    build_model,
    causal_attention,
    count_params,
    estimate_mfu,
    flops_per_token,
    non_embedding_params,
    shape_for,
)
from scaling.train.schedule import log_steps, make_plan


def _cfg(L=2, d=64, h=2, V=259, T=32, tie=True):
    return ModelConfig(n_layer=L, d_model=d, n_head=h, vocab_size=V, seq_len=T,
                       tie_embeddings=tie)


@pytest.mark.parametrize("size, shape", [(100_000, (2, 64, 2)), (800_000, (4, 128, 4)),
                                         (3_000_000, (5, 224, 7)),
                                         (100_000_000, (20, 640, 10))])
def test_shape_rule_matches_documented_shapes(size, shape):
    s = shape_for(size)
    assert (s.n_layer, s.d_model, s.n_head) == shape
    # the rule keeps 12 L d^2 within a factor 1.5 of the request
    assert 1 / 1.5 < 12 * s.n_layer * s.d_model**2 / size < 1.5


def test_shape_rule_monotone_close_and_refuses_tiny():
    prev = 0
    for n in np.geomspace(2e4, 3e9, 300):
        s = shape_for(int(n))
        exact = non_embedding_params(s.n_layer, s.d_model)
        assert exact >= prev, f"size {n:.3g} gives a smaller model than a smaller request"
        assert 1 / 1.5 < exact / n < 1.5  # shapes below 50k are 2x apart
        assert 16 <= s.d_model / s.n_layer <= 128
        prev = exact
    with pytest.raises(SizeError, match="too small"):
        shape_for(500)


def test_fixed_depth_sweeps_width_monotonically():
    widths = [shape_for(n, layers=2).d_model for n in (25e3, 100e3, 220e3, 400e3, 600e3)]
    assert widths == [32, 64, 96, 128, 160]
    prev = 0
    for n in np.geomspace(2e5, 1e7, 200):
        s = shape_for(int(n), layers=4)
        assert s.n_layer == 4 and 16 <= s.d_model / 4 <= 128
        assert non_embedding_params(4, s.d_model) >= prev
        prev = non_embedding_params(4, s.d_model)
    with pytest.raises(SizeError, match=r"no 1-layer model .*\(range 12,384"):
        shape_for(10**7, layers=1)
    cfg = RunConfig.from_args(size="220k", mix="prose=1", tokens="1M", layers=2)
    assert (cfg.model.n_layer, cfg.model.d_model) == (2, 96) and cfg.n_params == 221_664
    # the config records the shape, not how it was chosen: the same model is the same run
    assert cfg.run_id == RunConfig.from_args(size="220k", mix="prose=1", tokens="1M").run_id
    assert RunConfig.from_args(size="50k", mix="prose=1", tokens="1M", layers=2).shape \
        != RunConfig.from_args(size="50k", mix="prose=1", tokens="1M").shape


@pytest.mark.parametrize("tie", [True, False])
def test_param_counts_are_exact(tie):
    cfg = _cfg(tie=tie)
    m = GPT(cfg)
    L, d, V = cfg.n_layer, cfg.d_model, cfg.vocab_size
    non_emb = L * (12 * d * d + 2 * d) + d  # blocks + final LayerNorm, no biases
    assert m.num_params(non_embedding=True) == non_emb
    total = non_emb + V * d + (0 if tie else V * d)
    assert m.num_params(non_embedding=False) == total
    assert count_params(cfg) == (non_emb, total)
    assert len({id(p) for p in m.parameters()}) == sum(1 for _ in m.parameters())


def test_flops_and_mfu_formula():
    cfg = _cfg(L=2, d=64, T=128)
    f = flops_per_token(cfg)
    assert f == 6 * (2 * 12 * 64 * 64 + 64 * 259) + 12 * 2 * 64 * 128
    assert estimate_mfu(cfg, tokens_per_s=1e6, peak_flops=f * 2e6) == pytest.approx(0.5)


def test_model_is_causal_and_deterministic():
    cfg = _cfg()
    a, b = build_model(cfg, seed=3), build_model(cfg, seed=3)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(p, q), n
    x = torch.randint(0, cfg.vocab_size, (2, 20))
    y = x.clone()
    y[:, 12:] = (y[:, 12:] + 1) % cfg.vocab_size
    la, lb = a(x), a(y)
    assert la.shape == (2, 20, cfg.vocab_size)
    assert torch.allclose(la[:, :12], lb[:, :12], atol=1e-5)  # future tokens never leak back
    assert not torch.allclose(la[:, 12:], lb[:, 12:])
    with pytest.raises(ValueError, match="exceeds the context"):
        a(torch.zeros(1, 33, dtype=torch.long))


@pytest.mark.parametrize("limit", [EXPLICIT_ATTENTION_MAX, 0])
def test_cpu_bf16_attention_matches_fp32_sdpa(limit, monkeypatch):
    """Both CPU bf16 paths (explicit scores; fp32 flash above the size limit) agree with fp32
    SDPA in values and gradients to bf16 precision, and stay causal."""
    import scaling.train.model as model_mod
    monkeypatch.setattr(model_mod, "EXPLICIT_ATTENTION_MAX", limit)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 40, 16, generator=g, requires_grad=True) for _ in range(3))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = causal_attention(q, k, v)
    assert out.dtype == torch.bfloat16
    grads = torch.autograd.grad(out.float().square().sum(), (q, k, v))
    assert torch.allclose(out.float(), ref, atol=3e-2)
    for a, b in zip(grads, ref_grads, strict=True):
        assert (a - b).abs().max() < 0.05 * b.abs().max()
    # causal: the output at position t ignores positions after t
    v2 = v.detach().clone()
    v2[:, :, 20:] += 100.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out2 = causal_attention(q.detach(), k.detach(), v2)
    assert torch.equal(out2[:, :, :20], out.detach()[:, :, :20])


def test_rope_scores_depend_on_relative_position_only():
    """<R(m) q, R(n) k> depends on m - n only (Su et al., 2021), and RoPE preserves norms."""
    from scaling.train.model import apply_rope, rope_tables

    cos, sin = rope_tables(64, 16)
    q, k = torch.randn(16), torch.randn(16)
    qs = apply_rope(q.expand(64, 16), cos, sin)  # q at every position
    ks = apply_rope(k.expand(64, 16), cos, sin)
    s = qs @ ks.T  # s[m, n]
    for shift in (1, 7, 30):
        assert torch.allclose(s[10 + shift, 3 + shift], s[10, 3], atol=1e-4)
    assert not torch.allclose(s[10, 3], s[10, 4])
    assert torch.allclose(qs.norm(dim=-1), q.norm().expand(64), atol=1e-4)


@pytest.mark.parametrize("used", ["qkv", "qk", "v"])
def test_split_rotary_matches_the_plain_expression(used):
    """The eager one-pass RoPE split (custom backward) gives apply_rope's q, k, v and the
    same gradient, also when some outputs take no part in the loss."""
    from scaling.train.model import RotaryQKV, apply_rope, rope_tables

    B, T, H, hd = 2, 24, 3, 16
    cos, sin = rope_tables(T, hd)
    qkv = torch.randn(B, T, 3, H, hd, generator=torch.Generator().manual_seed(0),
                      requires_grad=True)
    plain = apply_rope(qkv[:, :, :2], cos[:, None, None], sin[:, None, None]).unbind(2)
    plain = [t.transpose(1, 2) for t in (*plain, qkv[:, :, 2])]
    fused = RotaryQKV.apply(qkv, cos[:, None], sin[:, None])
    weights = [torch.randn(B, H, T, hd) if n in used else None for n in "qkv"]

    def loss(outs):
        return sum((o * w).sum() for o, w in zip(outs, weights, strict=True) if w is not None)

    for a, b in zip(fused, plain, strict=True):
        assert a.shape == b.shape == (B, H, T, hd) and a.is_contiguous()
        assert torch.allclose(a, b, atol=1e-6)
    (g_fused,) = torch.autograd.grad(loss(fused), qkv)
    (g_plain,) = torch.autograd.grad(loss(plain), qkv)
    assert torch.allclose(g_fused, g_plain, atol=1e-5)


def test_split_rotary_under_compile_is_the_plain_expression(monkeypatch):
    """What torch.compile traces (the plain expression) gives the eager split's values."""
    from scaling.train.model import rope_tables, split_rotary

    cos, sin = rope_tables(24, 16)
    qkv = torch.randn(2, 24, 3, 3, 16, generator=torch.Generator().manual_seed(1))
    eager = split_rotary(qkv, cos[:, None], sin[:, None])
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    traced = split_rotary(qkv, cos[:, None], sin[:, None])
    for a, b in zip(eager, traced, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_reinit_select_touches_only_selected():
    m = build_model(_cfg(), seed=0)
    before = {n: p.clone() for n, p in m.named_parameters()}
    m.init_weights(torch.Generator().manual_seed(99), select=lambda n: ".mlp." in n)
    for n, p in m.named_parameters():
        if ".mlp." in n:
            assert not torch.equal(p, before[n]), n
        else:
            assert torch.equal(p, before[n]), n


# --------------------------------------------------------------------------- schedules


def test_cosine_schedule_shape():
    plan = make_plan(OptimConfig(lr=1e-3, warmup_frac=0.1, min_lr_ratio=0.1), 100)
    f = [plan.factor(s) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b - 1e-12 for a, b in zip(f[9:], f[10:], strict=False))  # decays
    assert f[-1] == pytest.approx(0.1, abs=2e-3)
    mid = 10 + 45
    assert f[mid] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def test_wsd_branch_equals_shorter_wsd_run():
    """A decay branch of fraction φ is the WSD schedule of a run of φ·n steps (same warm-up)."""
    opt = OptimConfig(lr=1e-3, schedule="wsd", warmup_frac=0.05, decay_frac=0.2,
                      branches=(0.5,))
    plan = make_plan(opt, 200)
    (b,) = plan.branches
    assert (b.fork, b.end) == (80, 100)
    short = make_plan(OptimConfig(lr=1e-3, schedule="wsd", warmup_frac=0.1, decay_frac=0.2),
                      100)
    for s in range(b.fork, b.end):
        assert plan.factor(s, b) == pytest.approx(short.factor(s))
    assert plan.factor(b.end - 1, b) == pytest.approx(opt.min_lr_ratio)
    assert plan.factor(150) == 1.0 and plan.factor(199) == pytest.approx(opt.min_lr_ratio)


def test_two_stage_plan_restarts_warmup():
    plan = make_plan(OptimConfig(lr=1e-3, warmup_frac=0.1), 100, switch_step=20)
    assert plan.switch_step == 20
    f = [plan.factor(s) for s in range(100)]
    assert f[19] < 0.2  # the procedural stage has decayed
    assert f[20] == pytest.approx(1 / 8)  # fresh warm-up over 10% of the 80 main steps
    assert f[27] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="stage switch"):
        make_plan(OptimConfig(lr=1e-3), 100, switch_step=0)


def test_fixed_warmup_steps_are_the_same_for_every_budget_and_keep_old_run_ids():
    opt = OptimConfig(lr=1e-3, schedule="wsd", warmup_steps=24)
    for n in (61, 122, 244, 488):
        assert make_plan(opt, n).stages[0].warmup == 24
    assert make_plan(opt, 10).stages[0].warmup == 9  # capped one step short of the stage
    two = make_plan(opt, 100, switch_step=5)
    assert [st.warmup for st in two.stages] == [24, 24]
    # a procedural stage shorter than the warm-up ends on the ramp, never above it
    assert [two.factor(s) for s in range(6)] == pytest.approx([1 / 24, 2 / 24, 3 / 24, 4 / 24,
                                                               5 / 24, 1 / 24])
    # the 1M-token run's 5% warm-up is what its branches see
    assert make_plan(OptimConfig(lr=1e-3, schedule="wsd"), 488).stages[0].warmup == 24
    # written to config.json only when set: configs of older runs hash as before
    plain = RunConfig.from_args(size="25k", mix="prose=1", tokens="125k")
    assert "warmup_steps" not in plain.to_dict()["optim"]
    fixed = RunConfig.from_args(size="25k", mix="prose=1", tokens="125k", warmup_steps=24)
    assert fixed.to_dict()["optim"]["warmup_steps"] == 24 and fixed.run_id != plain.run_id
    assert RunConfig.from_dict(fixed.to_dict()) == fixed
    assert RunConfig.from_dict(plain.to_dict()).run_id == plain.run_id


def test_branch_inside_warmup_refused_and_branch_parsing():
    with pytest.raises(ConfigError, match="warm-up"):
        make_plan(OptimConfig(lr=1e-3, schedule="wsd", branches=(0.01,)), 100)
    assert parse_branches("0.5, 0.25") == (0.25, 0.5)
    for bad in ("0.5,x", "1.0", "0.3,0.3"):
        with pytest.raises(ConfigError):
            parse_branches(bad)


def test_log_steps():
    s = log_steps(1000, count=12, first=8, extra=(333,))
    assert s[0] == 8 and s[-1] == 1000 and 333 in s
    assert 12 <= len(s) <= 13
    ratios = [b / a for a, b in zip(s[1:-2], s[2:-1], strict=False) if 333 not in (a, b)]
    assert max(ratios) < 1.8
    assert log_steps(5) == [5]
