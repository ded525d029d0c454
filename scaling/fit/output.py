"""What a ``scaling fit law|grok|mixture`` command prints: the fit, and where its ``--predict``
rows were written.

:func:`fit_law_source`, :func:`fit_grok_source` and :func:`fit_mixture_source` fit a CSV (or a
run store), apply the fit to a ``--predict`` table when one is given, write that table and
return a :class:`FitOutput`. :class:`LawFits` is the law fits of several recipes as one result.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tables import read_csv
from ..validate import ConfigError
from . import frames
from .laws import LawResult

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class LawFits:
    """The law fit of every recipe of a source (``{recipe: LawResult}``, one for one recipe)."""

    form: str
    fits: dict[str, LawResult]

    def summary(self) -> dict:
        summaries = [r.summary() for r in self.fits.values()]
        return summaries[0] if len(summaries) == 1 else {"form": self.form, "fits": summaries}

    def report(self) -> str:
        return "\n\n".join(r.report() for r in self.fits.values())


@dataclass
class FitOutput:
    """A fit (anything with ``.summary()`` and ``.report()``) and the file its predictions were
    written to (None: no ``--predict``)."""

    fit: Any
    predictions: str | None = None

    def summary(self) -> dict:
        return {**self.fit.summary(),
                **({"predictions": self.predictions} if self.predictions else {})}

    def report(self) -> str:
        text = self.fit.report()
        return f"{text}\npredictions written to {self.predictions}" if self.predictions \
            else text


PathLike = str | os.PathLike


def write_predictions(predict: PathLike | None, out: PathLike | None,
                      make: Callable[[pd.DataFrame], pd.DataFrame]) -> str | None:
    """``make(the predict CSV)`` written to ``out`` (its folder created); returns ``out`` as
    given, or None when neither file is given."""
    if predict is None and out is None:
        return None
    if predict is None or out is None:
        raise ConfigError("--predict X.csv and --out P.csv go together")
    table = make(read_csv(predict))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return str(out)


def fit_law_source(source: PathLike, form: str = "chinchilla", *, domain: str | None = None,
                   recipe: str | None = None, drop_bad_rows: bool = False,
                   predict: PathLike | None = None, out: PathLike | None = None,
                   **kw) -> FitOutput:
    """The law fit of every recipe of a CSV or run store (:func:`~scaling.fit.frames.fit_law_path`,
    ``kw`` its options), applied to the ``predict`` rows written to ``out``."""
    fits = frames.fit_law_path(source, form=form, domain=domain, recipe=recipe,
                            drop_bad_rows=drop_bad_rows, **kw)
    written = write_predictions(predict, out, lambda X: frames.law_predict_table(fits, X))
    return FitOutput(LawFits(form, fits), written)


def fit_grok_source(source: PathLike, *, skill: str | None = None, drop_bad_rows: bool = False,
                    predict: PathLike | None = None, out: PathLike | None = None) -> FitOutput:
    """The grokking fit of every curve of a CSV or of a store's ``skill`` records, applied to
    the ``predict`` rows written to ``out``; the table's notes (rows left out) lead the
    warnings."""
    from .data import load_grok_table  # pandas: the law fit of a CSV runs without it
    from .grok import fit_grok

    table = load_grok_table(source, skill=skill, drop_bad_rows=drop_bad_rows)
    res = fit_grok(table)
    res.warnings[:0] = table.attrs.get("notes", [])
    written = write_predictions(predict, out, lambda X: frames.grok_predict_table(res, X))
    return FitOutput(res, written)


def fit_mixture_source(train: PathLike, target: str, *, folds: int = 5, seed: int = 0,
                       predict: PathLike | None = None,
                       out: PathLike | None = None) -> FitOutput:
    """The mixture law of a CSV (chosen by ``folds``-fold cross-validation), applied to the
    ``predict`` rows written to ``out``."""
    # scipy.stats, only here: the law and grok fits start without it (tests/test_lazy_imports)
    from .mixture import fit_mixture_csv

    res = fit_mixture_csv(train, target, folds=folds, seed=seed)
    written = write_predictions(predict, out, lambda X: frames.mixture_predict_table(res, X))
    return FitOutput(res, written)
