"""The training loop: one run, top to bottom.

``train(config, out)`` builds the model and the data stream, resumes from the newest good
checkpoint in ``out`` if there is one, and runs AdamW steps under the LR plan of
:mod:`scaling.train.schedule`. At log-spaced steps (plus the last, the stage switch, the decay
branch forks and the recipe's phase starts) the hooks ``evaluate`` and ``checkpoint`` run.
``train`` reads as its stages (``setup``, ``resume``, ``prepare_evaluation``, ``train_steps``,
then ``finish`` or ``fail``); they and the hooks share one :class:`Run`, the state of the run.

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

from ..data.domains import is_task
from ..data.stream import Stream, val_batches
from ..data.tokenizer import get_tokenizer
from ..errors import ScalingError
from ..hardware import PrecisionChoice, resolve_precision
from ..recipe import Recipe, parse_recipe
from ..skills.evaluate import AnswerSet
from ..skills.tasks import parse_task
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


@dataclass
class Run:
    """One run in progress: what :func:`setup` built, and the state a checkpoint saves.

    The hooks below read and advance it; ``writer`` is None on every rank but rank 0."""

    config: RunConfig
    out: Path
    dist: dist_.Dist
    precision: str
    writer: RunWriter | None
    keep_checkpoints: int | None
    recipe: Recipe
    tok: Any
    stream: Stream
    plan: Plan
    switch: int | None
    """The step of a two-stage switch (``front=…:reset``)."""
    emb_at: int | None
    """The step where a continuous front's ``emb=`` option applies."""
    ckpt_at: set[int]
    eval_at: set[int]
    model: GPT
    opt: torch.optim.AdamW
    scaler: torch.amp.GradScaler | None
    # ---- what a checkpoint saves (with model, optimizer, scaler and the RNG)
    step: int = 0
    stage: int = 0
    branches_done: list[float] = field(default_factory=list)
    train_time: float = 0.0
    timed_steps: int = 0
    eval_time: float = 0.0
    # ---- set by prepare_evaluation and the step loop
    train_model: Any = None
    """What runs forward: ``model``, compiled and/or DDP-wrapped."""
    val: dict = field(default_factory=dict)
    answer_sets: dict = field(default_factory=dict)
    pending: list[dict] = field(default_factory=list)
    """Records not yet written (train losses between evaluations)."""
    t0: float = 0.0
    t0_step: int = 0
    """Wall clock and step where the current stretch of timed training steps began."""

    @property
    def dev(self) -> str:
        return self.dist.device

    @property
    def n_steps(self) -> int:
        return self.stream.n_steps

    @property
    def tps_step(self) -> int:
        return self.stream.tokens_per_step


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
    out = Path(out)
    if keep_checkpoints is not None and keep_checkpoints < 1:
        raise TrainError(f"--keep-checkpoints must be >= 1 (the newest is needed to resume), "
                         f"got {keep_checkpoints}")
    dist = dist_.setup(device)
    choice = resolve_precision(precision, dist.device)
    writer = RunWriter(out, config.to_dict()) if dist.is_main else None
    if dist_.broadcast_object(writer.status == "done" if writer else None, dist):
        dist_.teardown(dist)
        return result_from_metrics(config, out, "done", writer.reason) if dist.is_main else None
    if writer is not None:
        writer.clear_failed()
        writer.write_runtime(
            {"device": dist.device, "precision": choice.precision,
             "precision_reason": choice.reason, "compile": compile,
             "world_size": dist.world_size, "torch": torch.__version__,
             "python": platform.python_version()})
    run = setup(config, out, dist, choice.precision, writer, keep_checkpoints)
    resume(run)
    prepare_evaluation(run, compile)
    reason = train_steps(run, progress)
    return fail(run, reason) if reason is not None else finish(run)


# --------------------------------------------------------------------------- its stages


def setup(config: RunConfig, out: Path, dist: dist_.Dist, precision: str,
          writer: RunWriter | None, keep_checkpoints: int | None) -> Run:
    """Data, model, optimizer and the plan of a fresh run (step 0)."""
    dev = dist.device
    recipe = parse_recipe(config.recipe)
    tok = get_tokenizer(config.data.tokenizer)
    if config.data.batch_size % dist.world_size:
        raise TrainError(f"--batch-size {config.data.batch_size} does not split over "
                         f"{dist.world_size} processes; use a multiple of {dist.world_size}")
    stream = Stream(recipe, config.data.tokens, config.data.batch_size // dist.world_size,
                    config.data.seq_len, seed=config.seed, rank=dist.rank,
                    world_size=dist.world_size, tokenizer=tok)
    n_steps = stream.n_steps
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
    return Run(config, out, dist, precision, writer, keep_checkpoints, recipe, tok, stream, plan,
               switch, emb_at, ckpt_at, eval_at, model, opt, scaler)


def resume(run: Run) -> None:
    """Continue from the newest good checkpoint (rank 0 picks it), or start the metrics over."""
    writer = run.writer
    ck = writer.load_latest_checkpoint() if writer is not None else None
    if writer is not None:
        for path, why in writer.refused_checkpoints:
            print(f"warning: refused checkpoint {path} ({why}); resuming from the previous "
                  "good one", file=sys.stderr)
    ck_step = dist_.broadcast_object(ck[0] if ck else None, run.dist)
    if ck_step is None:
        if writer is not None:
            writer.truncate_metrics_after(-1)  # no checkpoint: start the metrics over
        return
    if ck is None:  # other ranks read the file rank 0 chose
        ck = (ck_step, RunDir(run.out).load_checkpoint(ck_step))
    load_state(run, ck[1])
    if writer is not None:
        _truncate_metrics(writer, run.step, run.branches_done)


def prepare_evaluation(run: Run, compile: bool) -> None:
    """The model that trains (compiled, DDP-wrapped) and what rank 0 evaluates on."""
    cfg, dev = run.config, run.dev
    run.train_model = torch.compile(run.model) if compile else run.model
    if run.dist.enabled:
        run.train_model = DDP(run.train_model,
                              device_ids=[dev] if dev.startswith("cuda") else None)
    if run.dist.is_main:
        run.val = {d: val_batches(d, cfg.data.val_batches, cfg.data.val_batch_size,
                                  cfg.data.seq_len, seed=0, tokenizer=run.tok)
                   for d in _val_domains(run.recipe)}
        run.answer_sets = _answer_sets(run.recipe, cfg, run.tok, run.model.cfg.seq_len)


def train_steps(run: Run, progress: bool) -> str | None:
    """The step loop from ``run.step`` to the end: the reason it failed, or None."""
    bar = None
    if progress and run.dist.is_main:
        from tqdm import tqdm
        bar = tqdm(total=run.n_steps, initial=run.step, unit="step", file=sys.stderr,
                   disable=None, desc=run.config.run_id)
    log_every = max(1, run.n_steps // 200)
    loss_acc, loss_n = 0.0, 0
    run.t0, run.t0_step = time.perf_counter(), run.step
    while run.step < run.n_steps:
        switch_stage(run)
        if (reason := run_branches(run)) is not None:
            return reason
        loss = step_on(run, run.train_model, run.model, run.opt, run.step,
                       run.config.optim.lr * run.plan.factor(run.step), run.scaler)
        run.step += 1
        if not math.isfinite(loss):
            return f"non-finite training loss ({loss}) at step {run.step}"
        loss_acc, loss_n = loss_acc + loss, loss_n + 1
        if run.step % log_every == 0 or run.step in run.eval_at:
            run.pending.append(dict(step=run.step, tokens=run.step * run.tps_step,
                                    kind="train_loss", name="train", value=loss_acc / loss_n))
            loss_acc, loss_n = 0.0, 0
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        if run.step in run.eval_at:
            evaluate_and_checkpoint(run)
    if bar is not None:
        bar.close()
    return None


def finish(run: Run) -> TrainResult | None:
    """Mark the run done; every rank leaves together. The summary on rank 0."""
    if run.writer is not None:
        run.writer.mark_done(f"finished {run.n_steps} steps, {run.n_steps * run.tps_step} "
                             "tokens")
    dist_.barrier(run.dist)  # every rank leaves together, after the run is marked done
    dist_.teardown(run.dist)
    if not run.dist.is_main:
        return None
    return result_from_metrics(run.config, run.out, "done", "finished")


def fail(run: Run, reason: str) -> TrainResult | None:
    """Write what is pending, mark the run failed with ``reason``; the summary on rank 0."""
    if run.writer is not None:
        run.writer.log_many(run.pending)
        run.writer.mark_failed(reason)
    dist_.teardown(run.dist)
    return (result_from_metrics(run.config, run.out, "failed", reason) if run.dist.is_main
            else None)


# --------------------------------------------------------------------------- the hooks


def step_on(run: Run, m, pm: GPT, o, s: int, lr: float,
            scaler: torch.amp.GradScaler | None) -> float:
    """One step on ``stream.batch(s)``: ``m`` runs forward, ``pm`` holds the parameters."""
    b = run.stream.batch(s)
    return train_step(m, pm, o, b.x, b.y, b.loss_mask, lr, dev=run.dev,
                      precision=run.precision, dist=run.dist,
                      grad_clip=run.config.optim.grad_clip, scaler=scaler)


def switch_stage(run: Run) -> None:
    """At the end of a front= warm-up: re-initialise what the recipe does not keep."""
    front = run.recipe.front
    if run.switch is not None and run.step == run.switch and run.stage == 0:
        # two-stage front-loading: keep what the recipe says, fresh AdamW and warm-up
        reinit_for_stage(run.model, front.keep, run.config.seed, front.emb)
        run.opt = make_optimizer(run.model, run.config, run.dev)
        run.stage = 1
    elif run.emb_at is not None and run.step == run.emb_at and run.stage == 0:
        reinit_for_stage(run.model, None, run.config.seed, front.emb)
        run.stage = 1


def run_branches(run: Run) -> str | None:
    """The WSD decay branches that fork at this step (not yet done): the reason one failed."""
    for b in run.plan.branches:
        if b.fork == run.step and b.fraction not in run.branches_done:
            run.train_time += time.perf_counter() - run.t0
            try:
                recs = run_branch(run, b)
            except FloatingPointError as e:
                return str(e)
            if run.writer is not None:
                run.writer.log_many(recs)
            run.branches_done.append(b.fraction)
            run.t0 = time.perf_counter()
    return None


def run_branch(run: Run, b: Branch) -> list[dict]:
    """Cool down a copy of model + optimizer from the fork; evaluate its end point."""
    bm = copy.deepcopy(run.model)
    bo = make_optimizer(bm, run.config, run.dev)
    bo.load_state_dict(run.opt.state_dict())
    bs = make_scaler(run.precision, run.dev)
    if bs is not None:
        bs.load_state_dict(run.scaler.state_dict())
    bm_train = DDP(bm, device_ids=[run.dev] if run.dev.startswith("cuda") else None) \
        if run.dist.enabled else bm
    for s in range(b.fork, b.end):
        loss = step_on(run, bm_train, bm, bo, s, run.config.optim.lr * run.plan.factor(s, b), bs)
        if not math.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss} at step {s + 1} of decay "
                                     f"branch {b.fraction}")
    return evaluate(run, b.end, bm, b) if run.dist.is_main else []


def evaluate_and_checkpoint(run: Run) -> None:
    """At an evaluation step: evaluate, log throughput and what is pending, checkpoint."""
    step = run.step
    if run.dev.startswith("cuda"):
        torch.cuda.synchronize()
    run.train_time += time.perf_counter() - run.t0
    run.timed_steps += step - run.t0_step
    if run.dist.is_main:
        tps = run.timed_steps * run.tps_step / max(run.train_time, 1e-9)
        t_eval = time.perf_counter()
        run.pending += evaluate(run, step, run.model)
        run.eval_time += time.perf_counter() - t_eval
        run.pending += [dict(step=step, tokens=step * run.tps_step, kind="throughput", name=k,
                             value=v) for k, v in (("tokens_per_s", tps),
                                                   ("train_seconds", run.train_time),
                                                   ("eval_seconds", run.eval_time))]
        run.writer.log_many(run.pending)
        run.pending.clear()
        if step in run.ckpt_at:
            checkpoint(run, step)
    dist_.barrier(run.dist)
    run.t0, run.t0_step = time.perf_counter(), step


def evaluate(run: Run, at: int, m: GPT, branch: Branch | None = None) -> list[dict]:
    """Per-domain validation loss and every skill probe, as records (rank 0)."""
    cfg, dev, prec, tokens = run.config, run.dev, run.precision, at * run.tps_step
    extra = {} if branch is None else {"branch": branch.fraction, "fork_step": branch.fork}
    recs = [dict(step=at, tokens=tokens, kind="val_loss", name=d,
                 value=val_loss(m, bs, dev, prec), **extra) for d, bs in run.val.items()]
    acc = probe_accuracies(m, run.tok, cfg.data.probe_n, cfg.data.probe_difficulty, dev, prec)
    recs += [dict(step=at, tokens=tokens, kind="skill", name=k, value=v, **extra)
             for k, v in acc.items()]
    for k, (exact, per_token) in task_accuracies(m, run.answer_sets, dev, prec).items():
        s = run.answer_sets[k]
        recs += [dict(step=at, tokens=tokens, kind="skill", name=k, value=exact,
                      items=s.n_items, metric="exact_match", **extra),
                 dict(step=at, tokens=tokens, kind="skill", name=f"{k}/token",
                      value=per_token, items=s.n_tokens, metric="token_accuracy", **extra)]
    return recs


def checkpoint(run: Run, at: int) -> None:
    """Save the state after step ``at``; prune to the newest ``keep_checkpoints``."""
    run.writer.save_checkpoint({
        "model": run.model.state_dict(), "optim": run.opt.state_dict(), "step": at,
        "stage": run.stage, "branches_done": list(run.branches_done), "rng": _rng_state(),
        "train_time": run.train_time, "timed_steps": run.timed_steps,
        "run_id": run.config.run_id, "eval_time": run.eval_time,
        **({"scaler": run.scaler.state_dict()} if run.scaler is not None else {}),
    }, at)
    if run.keep_checkpoints:
        run.writer.prune_checkpoints(run.keep_checkpoints)


def load_state(run: Run, state: dict) -> None:
    """The inverse of :func:`checkpoint`: model, counters, optimizer, scaler, RNG."""
    run.model.load_state_dict(state["model"])
    run.step, run.stage = state["step"], state["stage"]
    run.branches_done = list(state["branches_done"])
    run.train_time, run.timed_steps = state["train_time"], state["timed_steps"]
    run.eval_time = state.get("eval_time", 0.0)
    run.opt.load_state_dict(state["optim"])  # (of the main stage's fresh AdamW after a switch)
    if run.scaler is not None and "scaler" in state:
        run.scaler.load_state_dict(state["scaler"])
    _set_rng_state(state["rng"])


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
