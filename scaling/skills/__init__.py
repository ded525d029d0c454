"""Skill probes (needle, copy, reverse, sort, brackets, addition, modular addition) and their
exact-match evaluation with a causal LM."""

from .evaluate import evaluate_probes, greedy_decode, score_examples
from .probes import PROBES, Example, Probe, ProbeError, get_probe

__all__ = ["PROBES", "Example", "Probe", "ProbeError", "evaluate_probes", "get_probe",
           "greedy_decode", "score_examples"]
