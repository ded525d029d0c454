"""Loss-law fits from tables — a frame, a CSV file or a run store — and the fits' predictions
as tables (the entry points :mod:`scaling.fit.output` and the prediction layer call).

Every law fit goes through :func:`fit_law_table` (a :class:`~scaling.fit.law_table.LawTable`:
arrays); a frame is turned into one (:func:`fit_law_frame`), a CSV is read into one without
pandas (:func:`fit_law_path`), so ``scaling fit law`` on a CSV never imports it.

Recipes: a run store (or a CSV with a ``recipe`` column) may hold several recipes. Each
recipe gets its own fit (:func:`fit_law_recipes`); ``recipe=`` picks one. Mixing recipes in
one law would average different data distributions, so it is never done silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .law_table import LawTable
from .laws import FitError, LawResult, fit_law, form_of

if TYPE_CHECKING:
    import pandas as pd


def fit_law_table(table: LawTable, form: str = "chinchilla", bootstrap: int = 0,
                  seed: int = 0, points: str = "final", min_tokens: float | None = None,
                  level: float = 0.9, recipe: str | None = None,
                  cache: bool | None = None, starts=None) -> LawResult:
    """Fit one law to the points of a table.

    Points are chosen by :meth:`~scaling.fit.law_table.LawTable.select` (``points="final"``:
    the end point of every run/branch; ``"all"``; ``min_tokens``). With several recipes,
    ``recipe`` must name one. ``cache``: read the fit from the disk cache when the same one
    was done (:mod:`scaling.fit.cache`); None: as the caller's context says (on inside the
    prediction layer's commands). ``starts``: warm starts instead of the form's grid
    (:func:`~scaling.fit.laws.fit_law`).
    """
    lf = form_of(form)
    recipes = table.recipes
    if recipes:
        if recipe is not None:
            if recipe not in recipes:
                raise FitError(f"no points for recipe {recipe!r}; recipes: {', '.join(recipes)}")
            table = table.take(table.recipe == recipe)
        elif len(recipes) > 1:
            raise FitError(f"the points come from {len(recipes)} recipes ({', '.join(recipes)});"
                           " fit them one at a time (recipe=...) or use fit_law_recipes")
        else:
            recipe = recipes[0]
    need = ["tokens", "loss"] + (["params"] if lf.uses_size else [])
    nan = np.isnan(table.tokens) | np.isnan(table.loss)
    if lf.uses_size:
        nan |= np.isnan(table.params)
    notes = []
    if nan.any():
        notes.append(f"{int(nan.sum())} rows with missing {'/'.join(need)} dropped")
        table = table.take(~nan)
    if not lf.uses_size and table.params is not None:
        n_sizes = len(np.unique(table.params[~np.isnan(table.params)]))
        if n_sizes > 1:
            notes.append(f"the points come from {n_sizes} model sizes but the power form "
                         "ignores N; fit one size, or use the chinchilla form")
    sel = table.select(points, min_tokens)
    from . import cache as fit_cache

    fit = fit_cache.fit_law_cached if (fit_cache.enabled() if cache is None else cache) \
        else fit_law
    res = fit(sel.params if lf.uses_size else None, sel.tokens, sel.loss,
              runs=sel.run.astype(str), form=form, bootstrap=bootstrap, seed=seed,
              level=level, starts=starts)
    res.warnings[:0] = notes
    res.meta.update({"recipe": recipe, "points": points if min_tokens is None
                     else f"{points}, tokens >= {min_tokens:g}"})
    return res


def fit_law_frame(frame: pd.DataFrame, form: str = "chinchilla", **kw) -> LawResult:
    """Fit one law to a ``params, tokens, loss[, run, recipe, branch]`` frame (aliases
    ``N``/``D``; ``kw``: the options of :func:`fit_law_table`)."""
    return fit_law_table(LawTable.from_frame(frame, need_params=form_of(form).uses_size),
                         form=form, **kw)


def _fit_recipes(table: LawTable, recipes: list[str] | None, **kw) -> dict[str, LawResult]:
    names = recipes if recipes is not None else (table.recipes or [None])
    return {str(r): fit_law_table(table, recipe=r, **kw) for r in names}


def fit_law_recipes(frame: pd.DataFrame, recipes: list[str] | None = None,
                    form: str = "chinchilla", **kw) -> dict[str, LawResult]:
    """:func:`fit_law_frame` for every recipe of the frame (or the ones named)."""
    table = LawTable.from_frame(frame, need_params=form_of(form).uses_size)
    return _fit_recipes(table, recipes, form=form, **kw)


def fit_law_path(path: str | os.PathLike, form: str = "chinchilla", domain: str | None = None,
                 recipe: str | None = None, drop_bad_rows: bool = False,
                 **kw) -> dict[str, LawResult]:
    """Fit a law to a CSV (``params,tokens,loss``) or a run store (val_loss of ``domain``).

    A CSV's bad rows (empty, NaN, infinite, repeated) are refused, or left out with
    ``drop_bad_rows`` and named in each result's warnings.

    Returns ``{recipe: LawResult}``: one entry per recipe, or only ``recipe`` when given.
    A store's default domain is its only val_loss domain, else ``prose``.
    """
    sized = form_of(form).uses_size
    if Path(path).is_dir():
        from .data import load_law_table  # a store's records: pandas

        df, info = load_law_table(path, domain=domain, need_params=sized)
        table, domain = LawTable.from_frame(df, need_params=sized), info["domain"]
    else:
        table, domain = LawTable.read_csv(path, need_params=sized,
                                          drop_bad_rows=drop_bad_rows), None
    fits = _fit_recipes(table, None if recipe is None else [recipe], form=form, **kw)
    for r in fits.values():
        r.meta["domain"] = domain
        r.warnings[:0] = table.notes
    return fits


# --------------------------------------------------------------------------- --predict


def _with_interval(X: pd.DataFrame, pred, lo, hi) -> pd.DataFrame:
    return X.assign(predicted=pred, lower=lo, upper=hi)


def law_predict_table(fits: dict[str, LawResult], X: pd.DataFrame) -> pd.DataFrame:
    """X plus ``predicted, lower, upper`` (the fits' level, 90% by default).

    With several recipes X needs a ``recipe`` column saying which law applies to a row.
    """
    import pandas as pd

    from ..tables import law_columns

    first = next(iter(fits.values()))
    cols = law_columns(X, need_loss=False, need_params=first.law_form.uses_size,
                       source="the --predict table")
    pred = pd.Series(float("nan"), index=X.index)
    lo, hi = pred.copy(), pred.copy()
    if len(fits) > 1 or ("recipe" in X.columns and list(fits) != [None]):
        if "recipe" not in X.columns:
            raise FitError(f"the fit holds {len(fits)} recipes ({', '.join(fits)}); give the "
                           "--predict table a recipe column, or fit one with --recipe")
        unknown = sorted(set(X["recipe"].astype(str)) - set(fits))
        if unknown and len(fits) > 1:
            raise FitError(f"--predict rows name recipes {', '.join(unknown)} that were not "
                           f"fitted; fitted: {', '.join(fits)}")
    for name, fit in fits.items():
        rows = X.index if len(fits) == 1 else X.index[X["recipe"].astype(str) == name]
        if len(rows) == 0:
            continue
        sub = cols.loc[rows]
        args = tuple(sub[c].to_numpy(float) for c in fit.law_form.columns)
        pred.loc[rows] = fit.predict(*args)
        l_, h_ = fit.predict_interval(*args)
        lo.loc[rows], hi.loc[rows] = l_, h_
    return _with_interval(X, pred.to_numpy(), lo.to_numpy(), hi.to_numpy())


def grok_predict_table(result, X: pd.DataFrame) -> pd.DataFrame:
    """X (``curve, tokens``) plus ``predicted, lower, upper``."""
    from .data import grok_columns

    cols = grok_columns(X, source="the --predict table", need_value=False)
    c, t = cols["curve"].to_numpy(), cols["tokens"].to_numpy(float)
    lo, hi = result.predict_interval(c, t)
    return _with_interval(X, result.predict(c, t), lo, hi)


def mixture_predict_table(result, X: pd.DataFrame) -> pd.DataFrame:
    """X (the ``mix_*`` columns) plus ``predicted, lower, upper``."""
    lo, hi = result.predict_interval(X)
    return _with_interval(X, result.predict(X), lo, hi)
