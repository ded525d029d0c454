"""Fitting layer: loss laws, grokking curves, aggregation of skills, mixture laws.

Every fit returns a result object with ``.params`` (name, value, stderr, ci_low, ci_high),
``.predict``, ``.predict_interval``, ``.summary()`` (JSON-safe), ``.report()`` and ``.warnings``.

The submodules are imported on first use (``from scaling.fit import fit_law`` loads the law
fit, not scipy.stats for the mixture laws nor lmfit for the grokking curves), so that a
command pays only for the fits it runs.
"""

import importlib

from . import forms
from .forms import chinchilla, chinchilla_invert, power, power_invert, sigmoid_log

#: Public name → the submodule that defines it (imported on first access).
_LAZY = {
    "AggregateResult": "aggregate", "fit_aggregate": "aggregate",
    "fit_law_frame": "frames", "fit_law_path": "frames", "fit_law_recipes": "frames",
    "fit_law_table": "frames", "LawTable": "law_table",
    "load_grok_table": "data", "load_law_table": "data", "select_points": "data",
    "GrokResult": "grok", "fit_grok": "grok", "fit_grok_curve": "grok", "speedup": "grok",
    "FitError": "laws", "LawResult": "laws", "fit_law": "laws",
    "JointResult": "joint", "fit_joint": "joint",
    "MixtureResult": "mixture", "fit_mixture": "mixture", "fit_mixture_csv": "mixture",
    "QuantaSimulation": "quantization", "simulate_quanta": "quantization",
}


def __getattr__(name: str):
    if name == "optim":  # the solver (it loads scipy.optimize): a submodule on first use
        return importlib.import_module(".optim", __name__)
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AggregateResult", "FitError", "GrokResult", "LawResult", "MixtureResult",
    "QuantaSimulation", "chinchilla", "chinchilla_invert", "fit_aggregate", "fit_grok",
    "fit_grok_curve", "fit_joint", "JointResult", "fit_law", "fit_law_frame", "fit_law_path",
    "fit_law_recipes", "fit_law_table", "LawTable",
    "fit_mixture", "fit_mixture_csv", "load_grok_table", "load_law_table", "power",
    "power_invert", "select_points", "sigmoid_log", "simulate_quanta", "speedup", "forms",
    "optim",
]
