"""The training loop: one run, top to bottom.

``train(config, out)`` builds the model and the data stream, resumes from the newest good
checkpoint in ``out`` if there is one, and runs AdamW steps under the LR plan of
:mod:`scaling.train.schedule`. At log-spaced steps (plus the last, the stage switch, the decay
branch forks and the recipe's phase starts) the hooks ``evaluate`` and ``checkpoint`` run.

A step ``s`` in metrics and checkpoints means "after ``s`` optimizer steps"; its ``tokens`` is
``s × tokens_per_step`` (all domains, procedural ones included).

Determinism: initialisation, data (``Stream.batch(step)``), stage re-initialisation and the LR
are pure functions of ``(seed, step)``; the checkpoint holds model, optimizer, stage, finished
branches and RNG state, so a resumed run continues exactly (bit-for-bit on CPU).

Records: ``train_loss`` (mean over the steps since the last record), ``val_loss`` per domain,
``skill`` per probe, ``throughput`` (``tokens_per_s`` of training steps only). A skill task of
the recipe (``needle(k=8)`` …) adds two ``skill`` records per evaluation on its fixed held-out
items: ``NAME`` (exact match, ``metric=exact_match``, ``items`` = the items scored) and
``NAME/token`` (per-token teacher-forced accuracy, ``metric=token_accuracy``, ``items`` = the
answer tokens scored); ``items`` is what the grok fits read as the resolution. ``throughput``
also carries ``train_seconds`` and ``eval_seconds`` (cumulative wall time in training steps and
in evaluations). ``data.evals`` adds that many evenly spaced evaluations to the log-spaced
ones (checkpoints stay at the log-spaced steps). WSD decay
branches log their end point with an extra key ``branch=<fraction>`` (and ``fork_step``); the
main run's records carry no ``branch`` key.
"""

from __future__ import annotations

import copy
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from ..errors import ScalingError
from ..hardware import PrecisionChoice, resolve_precision
from ..store import RunDir, RunWriter
from . import distributed as dist_
from .config import RunConfig
from .evaluate import autocast, masked_ce_sum, probe_accuracies, task_accuracies, val_loss
from .model import GPT, build_model
from .schedule import Branch, Plan, log_steps, make_plan


class TrainError(ScalingError):
    """A run that cannot proceed as asked."""


@dataclass
class TrainResult:
    """What :func:`train` returns (``summary()`` is the CLI's ``--json`` object, ``report()``
    its text)."""

    run_id: str
    out: Path
    status: str
    """``done`` or ``failed``."""
    n_params: int
    n_params_total: int
    tokens: int
    """Training tokens seen (all domains)."""
    steps: int
    final: dict[str, dict[str, float]]
    """``{"val_loss": {domain: loss}, "skill": {probe: accuracy}}`` at the last evaluation."""
    tokens_per_s: float | None
    """Training steps only (evaluation, checkpoints and branches excluded)."""
    branches: dict[float, dict[str, Any]] = field(default_factory=dict)
    """``{fraction: {"tokens", "step", "val_loss": {domain: loss}}}`` of WSD decay branches."""
    reason: str = ""
    shape: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "out": str(self.out), "status": self.status,
                "n_params": self.n_params, "n_params_total": self.n_params_total,
                "tokens": self.tokens, "steps": self.steps,
                "final": {"val_loss": self.final.get("val_loss", {}),
                          "skill": self.final.get("skill", {})},
                "tokens_per_s": self.tokens_per_s, "shape": self.shape,
                "branches": {str(k): v for k, v in self.branches.items()},
                "reason": self.reason}

    def report(self) -> str:
        losses = ", ".join(f"{d} {v:.4f}" for d, v in self.final.get("val_loss", {}).items())
        skills = ", ".join(f"{k} {v:.2f}" for k, v in self.final.get("skill", {}).items())
        return (f"{self.status}: {self.tokens:,} tokens → {self.out}\n  val loss: {losses}"
                + (f"\n  skills: {skills}" if skills else "")
                + (f"\n  {self.tokens_per_s:,.0f} tokens/s" if self.tokens_per_s else "")
                + (f"\n  reason: {self.reason}" if self.status == "failed" else ""))


# --------------------------------------------------------------------------- helpers


def make_optimizer(model: GPT, cfg: RunConfig, device: str) -> torch.optim.AdamW:
    """AdamW; weight decay on the block matrices only (not on norms or the embedding)."""
    o = cfg.optim
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and not name.startswith("wte") else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": o.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    # fused kernels exist for CPU and CUDA; they are deterministic for a given device
    return torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), fused=True)


def reinit_for_stage(model: GPT, keep: str | None, seed: int, emb: str | None = None) -> None:
    """Re-initialise what a two-stage run does not keep at the switch.

    ``keep=attn``: only attention weights survive (``blocks.*.attn``); ``keep=mlp``: only MLP
    weights; ``keep=all`` or none given: everything survives. Embeddings (and the tied head)
    and LayerNorms are *not* kept under attn/mlp: the procedural stage's token statistics
    are not the main stage's (the procedural-pretraining paper transfers blocks, not embeddings).
    ``emb`` overrides what happens to the token embedding ``wte``: ``keep`` (survives),
    ``reinit`` (drawn afresh), ``mean`` (every row set to the mean row, the paper's diagnostic
    protocol: no token is told apart at the switch, the blocks' computation survives).
    """
    gen = torch.Generator(device=model.wte.weight.device).manual_seed(seed + 7919)
    if keep not in (None, "all"):
        part = {"attn": ".attn.", "mlp": ".mlp."}[keep]
        model.init_weights(gen, select=lambda name: part not in name and
                           not (emb == "keep" and name == "wte.weight"))
    with torch.no_grad():
        w = model.wte.weight
        if emb == "reinit":
            w.copy_(torch.randn(w.shape, generator=gen, device=w.device, dtype=w.dtype) * 0.02)
        elif emb == "mean":
            w.copy_(w.mean(dim=0, keepdim=True).expand_as(w))


def _val_domains(recipe) -> list[str]:
    return list(recipe.domains)


def even_steps(n_steps: int, count: int) -> set[int]:
    """``count`` evaluation steps spread evenly over ``(0, n_steps]`` (the last included)."""
    return {max(1, round(n_steps * i / count)) for i in range(1, count + 1)} if count else set()


def _answer_sets(recipe, config: RunConfig, tok, context: int) -> dict:
    """The fixed held-out items of every skill task the recipe draws (seed 0, every run)."""
    from ..data.domains import is_task
    from ..skills.evaluate import AnswerSet
    from ..skills.tasks import parse_task

    return {d: AnswerSet(parse_task(d).eval_items(config.data.task_items), tok, context)
            for d in recipe.domains if is_task(d)}


def _rng_state() -> dict[str, torch.Tensor]:
    s = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state()
    return s


def _set_rng_state(s: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(s["cpu"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state(s["cuda"])


def result_from_metrics(cfg: RunConfig, out: Path, status: str, reason: str = "",
                        tokens_per_step: int | None = None) -> TrainResult:
    """Rebuild the summary of a run from its metrics records (used for finished runs)."""
    recs = RunDir(out).records()
    main = [r for r in recs if "branch" not in r]
    last = max((r["step"] for r in main if r["kind"] == "val_loss"), default=0)
    final: dict[str, dict[str, float]] = {"val_loss": {}, "skill": {}}
    for r in main:
        if r["step"] == last and r["kind"] in final:
            final[r["kind"]][r["name"]] = r["value"]
    tps = [r["value"] for r in main if r["kind"] == "throughput" and r["name"] == "tokens_per_s"]
    steps = max((r["step"] for r in main), default=0)
    tokens = max((r["tokens"] for r in main), default=0)
    branches: dict[float, dict[str, Any]] = {}
    for r in recs:
        if "branch" in r and r["kind"] == "val_loss":
            b = branches.setdefault(float(r["branch"]), {"tokens": r["tokens"], "step": r["step"],
                                                         "val_loss": {}})
            b["val_loss"][r["name"]] = r["value"]
    return TrainResult(cfg.run_id, out, status, cfg.n_params, cfg.n_params_total, tokens,
                       steps, final, tps[-1] if tps else None, branches, reason,
                       cfg.to_dict()["shape"])


# --------------------------------------------------------------------------- the run


def train(config: RunConfig, out: str | Path, device: str | None = None, progress: bool = True,
          *, precision: str | PrecisionChoice | None = "auto", compile: bool = False,
          keep_checkpoints: int | None = None) -> TrainResult:
    """Train one run into the run directory ``out`` (resuming it if it holds this config).

    Parameters
    ----------
    config : RunConfig
    out : path
        The run directory itself. A directory holding a different config is refused
        (:class:`scaling.store.ConfigMismatch` names the differing keys); a finished run
        returns its summary at once; a failed one is retried from its newest good checkpoint.
    device : str, optional
        ``cpu``, ``cuda``, ``cuda:1``; default: CUDA when available. Not part of the config.
    progress : bool
        tqdm bar on stderr (silent when stderr is not a terminal).
    precision : {"auto", "fp32", "bf16", "fp16"} or PrecisionChoice
        ``auto``: the fastest the device supports (:func:`scaling.hardware.resolve_precision`:
        bf16 autocast only on native bf16 hardware, fp16 with a gradient scaler on CUDA tensor
        cores without bf16, else fp32). Runtime-only (not in the config hash); the choice
        and its reason go to ``runtime.json``.
    compile : bool
        ``torch.compile`` the model for the training steps.
    keep_checkpoints : int, optional
        Keep only the newest K checkpoints (older ones are deleted after each save); default:
        keep all. Runtime-only: the run id and the metrics do not depend on it.
    """
    from ..data.stream import Stream, val_batches
    from ..data.tokenizer import get_tokenizer
    from ..recipe import parse_recipe

    out = Path(out)
    if keep_checkpoints is not None and keep_checkpoints < 1:
        raise TrainError(f"--keep-checkpoints must be >= 1 (the newest is needed to resume), "
                         f"got {keep_checkpoints}")
    dist = dist_.setup(device)
    dev = dist.device
    choice = resolve_precision(precision, dev)
    precision = choice.precision
    writer = RunWriter(out, config.to_dict()) if dist.is_main else None
    if dist_.broadcast_object(writer.status == "done" if writer else None, dist):
        dist_.teardown(dist)
        if not dist.is_main:
            return None
        return result_from_metrics(config, out, "done", writer.reason)
    if writer is not None:
        writer.clear_failed()
        writer.write_runtime(
            {"device": dev, "precision": precision, "precision_reason": choice.reason,
             "compile": compile,
             "world_size": dist.world_size, "torch": torch.__version__,
             "python": platform.python_version()})

    # ---- data, model, plan ------------------------------------------------------------
    recipe = parse_recipe(config.recipe)
    tok = get_tokenizer(config.data.tokenizer)
    if config.data.batch_size % dist.world_size:
        raise TrainError(f"--batch-size {config.data.batch_size} does not split over "
                         f"{dist.world_size} processes; use a multiple of {dist.world_size}")
    stream = Stream(recipe, config.data.tokens, config.data.batch_size // dist.world_size,
                    config.data.seq_len, seed=config.seed, rank=dist.rank,
                    world_size=dist.world_size, tokenizer=tok)
    n_steps, tps_step = stream.n_steps, stream.tokens_per_step
    front = recipe.front
    switch = stream.step_of(front.fraction) if front is not None and front.reset else None
    # a continuous front with emb=: the embeddings change where the data does, nothing else
    emb_at = (stream.step_of(front.fraction) if front is not None and front.emb
              and not front.reset else None)
    plan: Plan = make_plan(config.optim, n_steps, switch)
    phase_starts = tuple(stream.step_of(p.start) for p in recipe.phases())
    ckpt_at = set(log_steps(n_steps, extra=(*phase_starts, *(b.fork for b in plan.branches),
                                            *([switch] if switch else []))))
    eval_at = ckpt_at | even_steps(n_steps, config.data.evals)
    model = build_model(config.model, seed=config.seed, device=dev)
    opt = make_optimizer(model, config, dev)
    scaler = make_scaler(precision, dev)

    # ---- resume -----------------------------------------------------------------------
    step, stage, branches_done, train_time, timed_steps = 0, 0, [], 0.0, 0
    eval_time = 0.0
    ck = writer.load_latest_checkpoint() if writer is not None else None
    if writer is not None:
        for path, why in writer.refused_checkpoints:
            print(f"warning: refused checkpoint {path} ({why}); resuming from the previous "
                  "good one", file=sys.stderr)
    ck_step = dist_.broadcast_object(ck[0] if ck else None, dist)
    if ck_step is not None:
        if ck is None:  # other ranks read the file rank 0 chose
            ck = (ck_step, RunDir(out).load_checkpoint(ck_step))
        state = ck[1]
        model.load_state_dict(state["model"])
        step, stage = state["step"], state["stage"]
        branches_done = list(state["branches_done"])
        train_time, timed_steps = state["train_time"], state["timed_steps"]
        eval_time = state.get("eval_time", 0.0)
        opt.load_state_dict(state["optim"])  # (of the main stage's fresh AdamW after a switch)
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        if writer is not None:
            _truncate_metrics(writer, step, branches_done)
    elif writer is not None:
        writer.truncate_metrics_after(-1)  # no checkpoint: start the metrics over

    train_model = torch.compile(model) if compile else model
    if dist.enabled:
        train_model = DDP(train_model, device_ids=[dev] if dev.startswith("cuda") else None)
    val = ({d: val_batches(d, config.data.val_batches, config.data.val_batch_size,
                           config.data.seq_len, seed=0, tokenizer=tok)
            for d in _val_domains(recipe)} if dist.is_main else {})
    answer_sets = _answer_sets(recipe, config, tok, model.cfg.seq_len) if dist.is_main else {}

    # ---- hooks ------------------------------------------------------------------------
    pending: list[dict] = []

    def evaluate(at: int, m: GPT, branch: Branch | None = None) -> list[dict]:
        """Per-domain validation loss and every skill probe, as records (rank 0)."""
        extra = {} if branch is None else {"branch": branch.fraction, "fork_step": branch.fork}
        recs = [dict(step=at, tokens=at * tps_step, kind="val_loss", name=d,
                     value=val_loss(m, bs, dev, precision), **extra) for d, bs in val.items()]
        acc = probe_accuracies(m, tok, config.data.probe_n, config.data.probe_difficulty, dev,
                               precision)
        recs += [dict(step=at, tokens=at * tps_step, kind="skill", name=k, value=v, **extra)
                 for k, v in acc.items()]
        for k, (exact, per_token) in task_accuracies(m, answer_sets, dev, precision).items():
            s = answer_sets[k]
            recs += [dict(step=at, tokens=at * tps_step, kind="skill", name=k, value=exact,
                          items=s.n_items, metric="exact_match", **extra),
                     dict(step=at, tokens=at * tps_step, kind="skill", name=f"{k}/token",
                          value=per_token, items=s.n_tokens, metric="token_accuracy", **extra)]
        return recs

    def checkpoint(at: int) -> None:
        writer.save_checkpoint({
            "model": model.state_dict(), "optim": opt.state_dict(), "step": at,
            "stage": stage, "branches_done": list(branches_done), "rng": _rng_state(),
            "train_time": train_time, "timed_steps": timed_steps, "run_id": config.run_id,
            "eval_time": eval_time,
            **({"scaler": scaler.state_dict()} if scaler is not None else {}),
        }, at)
        if keep_checkpoints:
            writer.prune_checkpoints(keep_checkpoints)

    def step_on(m, pm: GPT, o, s: int, lr: float, sc=scaler) -> float:
        """One step on ``stream.batch(s)``: ``m`` runs forward, ``pm`` holds the parameters."""
        b = stream.batch(s)
        return train_step(m, pm, o, b.x, b.y, b.loss_mask, lr, dev=dev, precision=precision,
                          dist=dist, grad_clip=config.optim.grad_clip, scaler=sc)

    def run_branch(b: Branch) -> list[dict]:
        """Cool down a copy of model + optimizer from the fork; evaluate its end point."""
        bm = copy.deepcopy(model)
        bo = make_optimizer(bm, config, dev)
        bo.load_state_dict(opt.state_dict())
        bs = make_scaler(precision, dev)
        if bs is not None:
            bs.load_state_dict(scaler.state_dict())
        bm_train = DDP(bm, device_ids=[dev] if dev.startswith("cuda") else None) \
            if dist.enabled else bm
        for s in range(b.fork, b.end):
            loss = step_on(bm_train, bm, bo, s, config.optim.lr * plan.factor(s, b), bs)
            if not math.isfinite(loss):
                raise FloatingPointError(f"non-finite loss {loss} at step {s + 1} of decay "
                                         f"branch {b.fraction}")
        return evaluate(b.end, bm, b) if dist.is_main else []

    def fail(reason: str) -> TrainResult:
        if writer is not None:
            writer.log_many(pending)
            writer.mark_failed(reason)
        dist_.teardown(dist)
        res = (result_from_metrics(config, out, "failed", reason) if dist.is_main else None)
        return res

    # ---- the loop ---------------------------------------------------------------------
    bar = None
    if progress and dist.is_main:
        from tqdm import tqdm
        bar = tqdm(total=n_steps, initial=step, unit="step", file=sys.stderr, disable=None,
                   desc=config.run_id)
    log_every = max(1, n_steps // 200)
    loss_acc, loss_n = 0.0, 0
    t0, t0_step = time.perf_counter(), step
    while step < n_steps:
        if switch is not None and step == switch and stage == 0:
            # two-stage front-loading: keep what the recipe says, fresh AdamW and warm-up
            reinit_for_stage(model, front.keep, config.seed, front.emb)
            opt = make_optimizer(model, config, dev)
            stage = 1
        elif emb_at is not None and step == emb_at and stage == 0:
            reinit_for_stage(model, None, config.seed, front.emb)
            stage = 1
        for b in plan.branches:
            if b.fork == step and b.fraction not in branches_done:
                train_time += time.perf_counter() - t0
                try:
                    recs = run_branch(b)
                except FloatingPointError as e:
                    return fail(str(e))
                if writer is not None:
                    writer.log_many(recs)
                branches_done.append(b.fraction)
                t0 = time.perf_counter()
        loss = step_on(train_model, model, opt, step, config.optim.lr * plan.factor(step))
        step += 1
        if not math.isfinite(loss):
            return fail(f"non-finite training loss ({loss}) at step {step}")
        loss_acc, loss_n = loss_acc + loss, loss_n + 1
        if step % log_every == 0 or step in eval_at:
            pending.append(dict(step=step, tokens=step * tps_step, kind="train_loss",
                                name="train", value=loss_acc / loss_n))
            loss_acc, loss_n = 0.0, 0
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        if step in eval_at:
            if dev.startswith("cuda"):
                torch.cuda.synchronize()
            train_time += time.perf_counter() - t0
            timed_steps += step - t0_step
            if dist.is_main:
                tps = timed_steps * tps_step / max(train_time, 1e-9)
                t_eval = time.perf_counter()
                pending += evaluate(step, model)
                eval_time += time.perf_counter() - t_eval
                pending += [dict(step=step, tokens=step * tps_step, kind="throughput", name=k,
                                 value=v) for k, v in (("tokens_per_s", tps),
                                                       ("train_seconds", train_time),
                                                       ("eval_seconds", eval_time))]
                writer.log_many(pending)
                pending.clear()
                if step in ckpt_at:
                    checkpoint(step)
            dist_.barrier(dist)
            t0, t0_step = time.perf_counter(), step
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.mark_done(f"finished {n_steps} steps, {n_steps * tps_step} tokens")
    dist_.barrier(dist)  # every rank leaves together, after the run is marked done
    dist_.teardown(dist)
    if not dist.is_main:
        return None
    return result_from_metrics(config, out, "done", "finished")


def make_scaler(precision: str, device: str) -> torch.amp.GradScaler | None:
    """The dynamic loss scaler that fp16 needs (its gradients underflow without); else None."""
    return torch.amp.GradScaler(torch.device(device).type) if precision == "fp16" else None


def train_step(m, params_model: GPT, opt: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, mask: torch.Tensor, lr: float, *, dev: str = "cpu",
               precision: str = "fp32", dist: dist_.Dist | None = None,
               grad_clip: float = 1.0, scaler: torch.amp.GradScaler | None = None) -> float:
    """One AdamW step; returns the global masked-mean loss (nats/token).

    ``m`` is what runs forward (possibly compiled / DDP-wrapped), ``params_model`` the plain
    module whose gradients are clipped. Loss = Σ_ranks Σ_t m_t CE_t / Σ_ranks Σ_t m_t: each
    rank's sum is scaled by ``world_size / global count`` because DDP averages gradients.
    With a ``scaler`` (fp16) the loss is scaled for the backward pass and the gradients
    unscaled before clipping; a step with overflowing gradients is skipped by the scaler.
    """
    dist = dist or dist_.Dist()
    for g in opt.param_groups:
        g["lr"] = lr
    x, y, mask = x.to(dev), y.to(dev), mask.to(dev)
    count = dist_.all_sum(mask.sum().to(torch.float32), dist).clamp(min=1)
    with autocast(dev, precision):
        logits = m(x)
    loss_sum = masked_ce_sum(logits, y, mask)
    scaled = loss_sum * (dist.world_size / count)
    (scaler.scale(scaled) if scaler is not None else scaled).backward()
    if scaler is not None:
        scaler.unscale_(opt)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params_model.parameters(), grad_clip)
    if scaler is not None:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    opt.zero_grad(set_to_none=True)
    return float(dist_.all_sum(loss_sum.detach().float(), dist) / count)


def _truncate_metrics(writer: RunWriter, step: int, branches_done: list[float]) -> None:
    """Drop records after checkpoint ``step``, except the end points of finished branches."""
    keep = [r for r in writer.records()
            if r.get("branch") is not None and r["branch"] in branches_done and r["step"] > step]
    writer.truncate_metrics_after(step)
    writer.log_many(keep)
