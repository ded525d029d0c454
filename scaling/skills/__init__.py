"""Skill probes (needle, copy, reverse, sort, brackets, addition, modular addition), their
exact-match evaluation with a causal LM, and the same skills as trainable tasks
(:mod:`scaling.skills.tasks`).

The scoring functions need torch and are imported on first use, so that recipes (which parse
skill-task names) stay importable without it.
"""

from .probes import PROBES, Example, Probe, ProbeError, get_probe
from .tasks import FAMILIES, SkillTask, TaskError, parse_task

__all__ = ["FAMILIES", "PROBES", "Example", "Probe", "ProbeError", "SkillTask", "TaskError",
           "answer_accuracy", "evaluate_probes", "get_probe", "greedy_decode", "parse_task",
           "score_examples"]

_LAZY = ("answer_accuracy", "evaluate_probes", "greedy_decode", "score_examples")


def __getattr__(name: str):
    if name in _LAZY:
        from . import evaluate

        return getattr(evaluate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
