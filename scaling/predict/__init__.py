"""Prediction layer: data savings of a recipe vs a baseline at a target size, with intervals.

- :func:`ask` — one ``scaling predict`` question: :func:`predict_savings` plus, on request,
  :func:`suggest_run` and :func:`crossover_size` attached to the answer.
- :func:`predict_savings` — the savings ratio ``s = D_r / D_b`` (DESIGN.md) from per-recipe
  loss laws, bootstrap intervals, extrapolation flags and widening, per-skill speed-ups.
- :mod:`scaling.predict.joint` — the default answer with ≥ 2 recipes: the joint multi-recipe
  law (:func:`scaling.fit.fit_joint`), savings ``1/k_r(N)`` and an interval in parts.
- :func:`backtest` — hold out the largest size, predict it from the rest, score the answers.
- :func:`suggest_run` — which extra small run would most shrink the savings interval.
- :func:`crossover_size` — the model size at which the savings turn (s − 1 changes sign).
- :func:`load_points` — read a store once; pass the :class:`LawPoints` to several calls (fits
  are cached on it, e.g. the baseline's law when predicting many recipes).
- :mod:`scaling.predict.simulate` — grids from known laws (tests, calibration).
"""

from .ask import ask
from .backtest import BacktestResult, backtest
from .crossover import Crossover, crossover_size
from .points import LawPoints, load_points
from .savings import PredictError, SavingsPrediction, predict_savings
from .suggest import Suggestion, suggest_run

__all__ = ["BacktestResult", "Crossover", "LawPoints", "PredictError", "SavingsPrediction",
           "Suggestion", "ask", "backtest", "crossover_size", "load_points", "predict_savings",
           "suggest_run"]
