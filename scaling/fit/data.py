"""Getting fit inputs out of a CSV or a run store, and choosing which points a law sees.

Point selection for loss laws (``points``):

- ``"final"`` (default): the last checkpoint of every run — and of every (run, ``branch``)
  when records carry a WSD decay ``branch`` key. Intermediate checkpoints of a run with a
  decaying learning-rate schedule are not honest L(N, D) points (the schedule had not
  finished), so the default uses only end points. A CSV without a ``run`` column is a table
  of end points: every row is its own run and every row is used.
- ``"all"``: every checkpoint (appropriate for constant-LR or WSD runs); the bootstrap still
  resamples whole runs.
- ``min_tokens``: additionally drop points below a token count (e.g. the noisy early part).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..tables import (
    TableError,
    check_rows,
    describe,
    law_columns,
    read_csv,
    require_numeric,
    resolve,
)
from .laws import FitError

POINTS = ("final", "all")


def select_points(df: pd.DataFrame, points: str = "final",
                  min_tokens: float | None = None) -> pd.DataFrame:
    """Rows of a ``run, tokens, …`` frame that a law fit uses (see module docstring)."""
    if points not in POINTS:
        raise FitError(f"unknown points selection {points!r}; use one of {', '.join(POINTS)}")
    out = df
    if min_tokens is not None:
        out = out[out["tokens"] >= float(min_tokens)]
        if out.empty:
            raise FitError(f"no points with tokens >= {min_tokens:g}; lower --min-tokens")
    if points == "final" and "run" in out.columns:
        keys = ["run"]
        if "branch" in out.columns and out["branch"].notna().any():
            out = out.assign(branch=out["branch"].astype(object).where(out["branch"].notna(),
                                                                       "__main__"))
            keys.append("branch")
        out = out.loc[out.groupby(keys, sort=False)["tokens"].idxmax()]
    return out.reset_index(drop=True)


def val_loss_table(metrics: pd.DataFrame, domain: str | None,
                   source: str = "the runs") -> tuple[pd.DataFrame, str]:
    """The law table ``run, recipe, params, tokens, loss, step[, branch]`` of one validation
    domain from a tidy metrics frame (``load_runs(path).metrics``).

    ``domain`` defaults to the only val_loss domain, else ``prose``; step-0 evaluations
    (tokens = 0) are no L(D) point and are left out.
    """
    vl = metrics[metrics["kind"] == "val_loss"] if "kind" in metrics.columns else metrics.iloc[:0]
    if vl.empty:
        raise FitError(f"no finished runs with val_loss records under {source}")
    names = sorted(vl["name"].dropna().unique())
    if domain is None:
        if len(names) == 1:
            domain = names[0]
        elif "prose" in names:
            domain = "prose"
        else:
            raise FitError(f"runs under {source} log val_loss for several domains "
                           f"({', '.join(names)}); choose one with --domain")
    elif domain not in names:
        raise FitError(f"no val_loss for domain {domain!r} under {source}; "
                       f"domains present: {', '.join(names)}")
    vl = vl[(vl["name"] == domain) & (vl["tokens"] > 0)]
    df = pd.DataFrame({
        "run": vl["run_id"].astype(str), "recipe": vl["recipe"].astype(str),
        "params": pd.to_numeric(vl["n_params"], errors="coerce"),
        "tokens": vl["tokens"], "loss": vl["value"], "step": vl["step"],
    })
    if "branch" in vl.columns:
        df["branch"] = vl["branch"]
    bad = ~(df["params"] > 0)
    if bad.any():
        raise FitError(f"runs {', '.join(df.loc[bad, 'run'].unique()[:5])} under {source} "
                       "have no n_params in config.json")
    return df.reset_index(drop=True), domain


def load_law_table(path: str | os.PathLike, domain: str | None = None,
                   need_params: bool = True,
                   drop_bad_rows: bool = False) -> tuple[pd.DataFrame, dict]:
    """A frame ``run, recipe, params, tokens, loss[, step, branch]`` from a CSV or a run store.

    A CSV's rows with empty, NaN or infinite values and repeated rows are refused, or left
    out with ``drop_bad_rows`` (:func:`scaling.tables.check_rows`). Returns the frame and a
    dict of what was chosen (``domain``, ``source``, ``notes`` on dropped rows).
    """
    path = Path(path)
    if path.is_dir():
        from ..store import load_runs

        df, domain = val_loss_table(load_runs(path).metrics, domain, str(path))
        return df, {"domain": domain, "source": str(path)}
    if not path.exists():
        raise TableError(f"no such file or run directory: {path}")
    df = law_columns(read_csv(path), need_params=need_params, source=str(path))
    df, notes = check_rows(df, [c for c in ("params", "tokens", "loss") if c in df.columns],
                           str(path), drop=drop_bad_rows)
    if "run" not in df.columns:
        df["run"] = [f"row{i + 2}" for i in range(len(df))]  # spreadsheet row numbers
    df["run"] = df["run"].astype(str)
    if "recipe" not in df.columns:
        df["recipe"] = "all"
    df["recipe"] = df["recipe"].astype(str)
    return df, {"domain": None, "source": str(path), "notes": notes}


def skill_table(records: pd.DataFrame) -> pd.DataFrame:
    """Curves ``curve, tokens, value, recipe, skill, run, resolution, metric`` from a store's
    ``kind == "skill"`` records; a curve is one (run_id, probe), labelled ``run_id/probe``.

    ``metric`` is the record's own (``exact_match`` for a task's ``NAME``, ``token_accuracy``
    for its ``NAME/token``); records written before the field existed were exact-match probe
    scores and say ``exact_match``."""
    metric = records["metric"] if "metric" in records else pd.Series(np.nan, index=records.index)
    return pd.DataFrame({
        "curve": records["run_id"].astype(str) + "/" + records["name"].astype(str),
        "tokens": records["tokens"].astype(float), "value": records["value"].astype(float),
        "recipe": records["recipe"].astype(str), "skill": records["name"].astype(str),
        "run": records["run_id"].astype(str), "resolution": skill_resolution(records),
        "metric": metric.where(metric.notna(), "exact_match").astype(str),
    }).reset_index(drop=True)


def skill_resolution(records: pd.DataFrame) -> pd.Series:
    """The step of each skill record's accuracy, ``1 / items`` (NaN where the store does not
    say how many probe items it was scored on)."""
    items = pd.to_numeric(records["items"], errors="coerce") if "items" in records else \
        pd.Series(np.nan, index=records.index)
    return 1.0 / items.where(items > 0)


def load_grok_table(path: str | os.PathLike, skill: str | None = None,
                    drop_bad_rows: bool = False) -> pd.DataFrame:
    """A frame ``curve, tokens, value`` from a CSV or from the ``skill`` records of a store.

    From a store, a curve is one (run_id, skill name), labelled ``run_id/name``; ``recipe``
    and ``skill`` columns are carried along for per-skill comparisons of recipes. A CSV's
    values are accuracies in [0, 1]; its rows with empty, NaN, infinite or out-of-range values
    and repeated rows are refused, or left out with ``drop_bad_rows`` (the note saying so is
    in ``frame.attrs["notes"]``; :func:`scaling.tables.check_rows`).
    """
    path = Path(path)
    if path.is_dir():
        from ..store import load_runs

        metrics = load_runs(path).metrics
        sk = metrics[metrics["kind"] == "skill"]
        if skill is not None:
            sk = sk[sk["name"] == skill]
        if sk.empty:
            raise FitError(f"no skill records{f' for {skill!r}' if skill else ''} in finished "
                           f"runs under {path}")
        return skill_table(sk)
    if not path.exists():
        raise TableError(f"no such file or run directory: {path}")
    df = grok_columns(read_csv(path), source=str(path))
    df, notes = check_rows(df, ["tokens", "value"], str(path), drop=drop_bad_rows,
                           bounds={"value": (0.0, 1.0, "an accuracy")})
    df = df.copy()
    df.attrs["notes"] = notes
    return df


def grok_columns(df: pd.DataFrame, source: str = "the table", need_value: bool = True):
    """Resolve ``curve, tokens, value``; tokens must be ≥ 0 (0 = step 0), values numeric."""
    req = ["curve", "tokens"] + (["value"] if need_value else [])
    df = resolve(df, req, ["recipe"], source=source)
    df = require_numeric(df, [c for c in req if c != "curve"], source=source)
    if "resolution" in df.columns:  # optional: the step of the values (1/items)
        df = require_numeric(df, ["resolution"], positive=["resolution"], source=source)
    neg = df["tokens"] < 0
    if neg.any():
        rows = ", ".join(str(int(i) + 2) for i in np.flatnonzero(neg.to_numpy())[:8])
        raise TableError(f"column {describe('tokens')} of {source} must be ≥ 0; rows {rows} "
                         "are not")
    df["curve"] = df["curve"].astype(str)
    return df
