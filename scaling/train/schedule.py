"""Learning-rate schedules: warm-up + cosine, WSD with decay branches, two-stage runs.

Every schedule is a pure function of the step, so a resumed run gets the same LR.

* **cosine** over a stage ``[start, end)`` with ``W`` warm-up steps::

      f(s) = (s - start + 1) / W                                   s < start + W
      f(s) = m + (1 - m) · ½ (1 + cos(π (s - start - W) / (end - start - W)))   otherwise

* **wsd** (warm-up, stable, decay; Hägele et al., 2024): warm-up as above, ``f = 1`` in the
  stable phase, then a linear decay over the last ``K = round(decay_frac · (end - start))``
  steps: ``f(s) = 1 - (1 - m) (s - (end - K) + 1) / K``, reaching ``m`` at the last step.
* **decay branches**: branch ``b`` of budget fraction ``φ`` ends at
  ``end_b = start + round(φ · (end - start))`` and forks from the stable phase at
  ``end_b - round(decay_frac · (end_b - start))``: it is the WSD schedule of a run of budget
  ``φ·D`` that shares the main run's warm-up (its steps and data up to the fork are identical).
* **two-stage runs** (``front=…:reset``): the procedural stage ``[0, S)`` runs its own cosine
  schedule after the warm-up the whole run would have (never squeezed into the stage: a stage
  shorter than it ends on the ramp); the main stage ``[S, n)`` starts a fresh warm-up and then
  follows the run's schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import ConfigError, OptimConfig


@dataclass(frozen=True)
class Stage:
    """A span of steps ``[start, end)`` with its own warm-up and schedule."""

    start: int
    end: int
    warmup: int
    schedule: str


@dataclass(frozen=True)
class Branch:
    """A WSD decay branch: fork at ``fork`` (state after ``fork`` steps), last step ``end-1``."""

    fraction: float
    fork: int
    end: int


@dataclass(frozen=True)
class Plan:
    """All LR decisions of a run."""

    n_steps: int
    stages: tuple[Stage, ...]
    branches: tuple[Branch, ...]
    min_lr_ratio: float
    decay_frac: float

    @property
    def switch_step(self) -> int | None:
        """First step of the main stage of a two-stage run (None for one stage)."""
        return self.stages[1].start if len(self.stages) > 1 else None

    def stage_at(self, step: int) -> Stage:
        return self.stages[-1] if step >= self.stages[-1].start else self.stages[0]

    def factor(self, step: int, branch: Branch | None = None) -> float:
        """LR multiplier (of the peak LR) for ``step``; ``branch`` selects a decay branch."""
        st = self.stage_at(step)
        m = self.min_lr_ratio
        if step < st.start + st.warmup:
            return (step - st.start + 1) / st.warmup
        if branch is not None:
            k = branch.end - branch.fork
            return 1.0 - (1.0 - m) * (step - branch.fork + 1) / k
        if st.schedule == "cosine":
            span = max(1, st.end - st.start - st.warmup)
            p = (step - st.start - st.warmup) / span
            return m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * p))
        k = max(1, round(self.decay_frac * (st.end - st.start)))
        if step < st.end - k:
            return 1.0
        return 1.0 - (1.0 - m) * (step - (st.end - k) + 1) / k


def _warmup(opt: OptimConfig, n: int) -> int:
    """Warm-up steps of a stage of ``n`` steps: ``warmup_steps`` when set, else
    ``warmup_frac · n``; at least 1 and at most ``n - 1``."""
    want = opt.warmup_steps if opt.warmup_steps > 0 else round(opt.warmup_frac * n)
    return max(1, min(n - 1, want)) if n > 1 else 1


def make_plan(opt: OptimConfig, n_steps: int, switch_step: int | None = None) -> Plan:
    """The plan of a run of ``n_steps`` (two stages when ``switch_step`` is given)."""
    if switch_step is not None and not 0 < switch_step < n_steps:
        raise ConfigError(f"the stage switch falls at step {switch_step} of {n_steps}; the "
                          "procedural stage must hold at least one step and leave at least one "
                          "for the main stage (raise --tokens or the front fraction)")
    if switch_step is None:
        stages = (Stage(0, n_steps, _warmup(opt, n_steps), opt.schedule),)
    else:
        # The procedural stage warms up over as many steps as the whole run would: squeezed
        # into a stage of a few steps, a 24-step warm-up became 4 steps (or 1) at up to the
        # peak LR from initialisation, which set the widest models back for the rest of the
        # run. A stage shorter than its warm-up ends on the ramp.
        stages = (Stage(0, switch_step, _warmup(opt, n_steps), "cosine"),
                  Stage(switch_step, n_steps, _warmup(opt, n_steps - switch_step),
                        opt.schedule))
    main = stages[-1]
    branches = []
    for f in opt.branches:
        end = main.start + round(f * (main.end - main.start))
        fork = end - max(1, round(opt.decay_frac * (end - main.start)))
        if fork < main.start + main.warmup or end >= main.end:
            raise ConfigError(
                f"decay branch {f} would fork at step {fork}, inside the warm-up (steps "
                f"{main.start}–{main.start + main.warmup - 1}) or past the end; use a larger "
                "fraction or a larger --tokens")
        branches.append(Branch(f, fork, end))
    return Plan(n_steps, stages, tuple(branches), opt.min_lr_ratio, opt.decay_frac)


def log_steps(n_steps: int, count: int = 12, first: int = 8,
              extra: tuple[int, ...] = ()) -> list[int]:
    """Evaluation/checkpoint steps: ~``count`` geometric from ``first`` to ``n_steps``,
    the last step, and ``extra`` (stage switch, branch forks, phase starts), sorted, unique.

    A step ``s`` means "after ``s`` optimizer steps".
    """
    pts = {n_steps}
    if n_steps > first:
        r = (n_steps / first) ** (1 / max(1, count - 1))
        pts |= {min(n_steps, round(first * r**i)) for i in range(count)}
    pts |= {s for s in extra if 0 < s <= n_steps}
    return sorted(pts)
