"""Loss-law fits from tables — a frame, a CSV file or a run store — and the fits' predictions
as tables (the entry points :mod:`scaling.fit.output` and the prediction layer call).

Recipes: a run store (or a CSV with a ``recipe`` column) may hold several recipes. Each
recipe gets its own fit (:func:`fit_law_recipes`); ``recipe=`` picks one. Mixing recipes in
one law would average different data distributions, so it is never done silently.
"""

from __future__ import annotations

import os

import pandas as pd

from ..tables import law_columns
from .data import grok_columns, load_law_table, select_points
from .laws import FitError, LawResult, fit_law, form_of


def fit_law_frame(frame: pd.DataFrame, form: str = "chinchilla", bootstrap: int = 0,
                  seed: int = 0, points: str = "final", min_tokens: float | None = None,
                  level: float = 0.9, recipe: str | None = None,
                  cache: bool | None = None, starts=None) -> LawResult:
    """Fit one law to a ``params, tokens, loss[, run, recipe, branch]`` frame.

    Aliases ``N``/``D`` are accepted. Points are chosen by :func:`select_points`
    (``points="final"``: the end point of every run/branch; ``"all"``; ``min_tokens``).
    With a ``recipe`` column holding several recipes, ``recipe`` must name one. ``cache``:
    read the fit from the disk cache when the same one was done (:mod:`scaling.fit.cache`);
    None: as the caller's context says (on inside the prediction layer's commands).
    ``starts``: warm starts instead of the form's grid (:func:`~scaling.fit.laws.fit_law`).
    """
    lf = form_of(form)
    df = law_columns(frame, need_params=lf.uses_size)
    if "recipe" in df.columns:
        recipes = sorted(df["recipe"].astype(str).unique())
        if recipe is not None:
            if recipe not in recipes:
                raise FitError(f"no points for recipe {recipe!r}; recipes: {', '.join(recipes)}")
            df = df[df["recipe"].astype(str) == recipe]
        elif len(recipes) > 1:
            raise FitError(f"the points come from {len(recipes)} recipes ({', '.join(recipes)});"
                           " fit them one at a time (recipe=...) or use fit_law_recipes")
        else:
            recipe = recipes[0]
    if "run" not in df.columns:
        df = df.assign(run=[f"row{i}" for i in range(len(df))])
    need = ["tokens", "loss"] + (["params"] if lf.uses_size else [])
    nan = df[need].isna().any(axis=1)
    notes = []
    if nan.any():
        notes.append(f"{int(nan.sum())} rows with missing {'/'.join(need)} dropped")
        df = df[~nan]
    if not lf.uses_size and "params" in df.columns and df["params"].nunique() > 1:
        notes.append(f"the points come from {df['params'].nunique()} model sizes but the power "
                     "form ignores N; fit one size, or use the chinchilla form")
    sel = select_points(df, points, min_tokens)
    N = sel["params"].to_numpy(float) if "params" in sel.columns else None
    from . import cache as fit_cache

    fit = fit_cache.fit_law_cached if (fit_cache.enabled() if cache is None else cache) \
        else fit_law
    res = fit(N, sel["tokens"].to_numpy(float), sel["loss"].to_numpy(float),
              runs=sel["run"].astype(str).to_numpy(), form=form, bootstrap=bootstrap,
              seed=seed, level=level, starts=starts)
    res.warnings[:0] = notes
    res.meta.update({"recipe": recipe, "points": points if min_tokens is None
                     else f"{points}, tokens >= {min_tokens:g}"})
    return res


def fit_law_recipes(frame: pd.DataFrame, recipes: list[str] | None = None,
                    **kw) -> dict[str, LawResult]:
    """:func:`fit_law_frame` for every recipe of the frame (or the ones named)."""
    have = sorted(frame["recipe"].astype(str).unique()) if "recipe" in frame.columns \
        else [None]
    recipes = have if recipes is None else recipes
    return {str(r): fit_law_frame(frame, recipe=r, **kw) for r in recipes}


def fit_law_path(path: str | os.PathLike, form: str = "chinchilla", domain: str | None = None,
                 recipe: str | None = None, drop_bad_rows: bool = False,
                 **kw) -> dict[str, LawResult]:
    """Fit a law to a CSV (``params,tokens,loss``) or a run store (val_loss of ``domain``).

    A CSV's bad rows (empty, NaN, infinite, repeated) are refused, or left out with
    ``drop_bad_rows`` and named in each result's warnings.

    Returns ``{recipe: LawResult}``: one entry per recipe, or only ``recipe`` when given.
    A store's default domain is its only val_loss domain, else ``prose``.
    """
    df, info = load_law_table(path, domain=domain, need_params=form_of(form).uses_size,
                              drop_bad_rows=drop_bad_rows)
    fits = fit_law_recipes(df, None if recipe is None else [recipe], form=form, **kw)
    for r in fits.values():
        r.meta["domain"] = info["domain"]
        r.warnings[:0] = info.get("notes", [])
    return fits


# --------------------------------------------------------------------------- --predict


def _with_interval(X: pd.DataFrame, pred, lo, hi) -> pd.DataFrame:
    return X.assign(predicted=pred, lower=lo, upper=hi)


def law_predict_table(fits: dict[str, LawResult], X: pd.DataFrame) -> pd.DataFrame:
    """X plus ``predicted, lower, upper`` (the fits' level, 90% by default).

    With several recipes X needs a ``recipe`` column saying which law applies to a row.
    """
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
    cols = grok_columns(X, source="the --predict table", need_value=False)
    c, t = cols["curve"].to_numpy(), cols["tokens"].to_numpy(float)
    lo, hi = result.predict_interval(c, t)
    return _with_interval(X, result.predict(c, t), lo, hi)


def mixture_predict_table(result, X: pd.DataFrame) -> pd.DataFrame:
    """X (the ``mix_*`` columns) plus ``predicted, lower, upper``."""
    lo, hi = result.predict_interval(X)
    return _with_interval(X, result.predict(X), lo, hi)
