"""Fitting layer: loss laws, grokking curves, aggregation of skills, mixture laws.

Every fit returns a result object with ``.params`` (name, value, stderr, ci_low, ci_high),
``.predict``, ``.predict_interval``, ``.summary()`` (JSON-safe), ``.report()`` and ``.warnings``.
"""

from . import forms, optim
from .aggregate import AggregateResult, fit_aggregate
from .api import fit_law_frame, fit_law_path, fit_law_recipes
from .data import load_grok_table, load_law_table, select_points
from .forms import chinchilla, chinchilla_invert, power, power_invert, sigmoid_log
from .grok import GrokResult, fit_grok, fit_grok_curve, speedup
from .laws import FitError, LawResult, fit_law
from .mixture import MixtureResult, fit_mixture, fit_mixture_csv
from .quantization import QuantaSimulation, simulate_quanta

__all__ = [
    "AggregateResult", "FitError", "GrokResult", "LawResult", "MixtureResult",
    "QuantaSimulation", "chinchilla", "chinchilla_invert", "fit_aggregate", "fit_grok",
    "fit_grok_curve", "fit_law", "fit_law_frame", "fit_law_path", "fit_law_recipes",
    "fit_mixture", "fit_mixture_csv", "load_grok_table", "load_law_table", "power",
    "power_invert", "select_points", "sigmoid_log", "simulate_quanta", "speedup", "forms",
    "optim",
]
