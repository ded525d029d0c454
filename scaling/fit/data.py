"""Getting fit inputs out of a CSV or a run store as frames, and choosing which points a law
sees (``points``: :mod:`scaling.fit.law_table`, whose rule :func:`select_points` applies to a
frame)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..recipe import parse_recipe
from ..store import RunDir, Runs, load_runs
from ..tables import (
    TableError,
    check_rows,
    describe,
    read_csv,
    require_numeric,
    resolve,
)
from ..units import format_count
from .law_table import MAIN_BRANCH, LawTable, selected_rows
from .laws import FitError


def select_points(df: pd.DataFrame, points: str = "final",
                  min_tokens: float | None = None) -> pd.DataFrame:
    """Rows of a ``run, tokens, …`` frame that a law fit uses (:mod:`scaling.fit.law_table`;
    rows of WSD branches carry their ``branch``, the main run's ``__main__``)."""
    out, branch = df, None
    if "branch" in df.columns and df["branch"].notna().any():
        out = df.assign(branch=df["branch"].astype(object).where(df["branch"].notna(),
                                                                 MAIN_BRANCH))
        branch = out["branch"].to_numpy()
    rows = selected_rows(out["tokens"].to_numpy(float),
                         out["run"].to_numpy() if "run" in out.columns else None,
                         branch, points, min_tokens)
    return out.iloc[rows].reset_index(drop=True)


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
        df, domain = val_loss_table(load_runs(path).metrics, domain, str(path))
        return df, {"domain": domain, "source": str(path)}
    if not path.exists():
        raise TableError(f"no such file or run directory: {path}")
    table = LawTable.read_csv(path, need_params=need_params, drop_bad_rows=drop_bad_rows)
    return table.frame(), {"domain": None, "source": str(path), "notes": table.notes}


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


def skill_start(config: dict, skill: str) -> float:
    """Tokens a run had trained before its data first held ``skill``: the skill's clock starts
    there (0 for a skill drawn from the first step, and for a probe never trained on).

    ``skill`` is a skill record's name (``needle(k=2,key=3)``, its ``…/token`` twin, a
    probe's ``needle``); it is trained when its name (before any ``/``) is a domain of the
    run's recipe. The phase that first draws it starts at ``fraction × tokens``; the stream
    switches at the first step whose first token lies at or beyond that
    (:meth:`scaling.data.stream.DataStream.step_of`), so the skill's first token is
    ``ceil(fraction · tokens / tokens_per_step) · tokens_per_step`` with
    ``tokens_per_step = batch_size · seq_len · world_size``. A config that does not say
    (written by hand, imported) gives 0.
    """
    name = str(skill).split("/")[0]
    try:
        recipe = parse_recipe(config.get("recipe_spec") or config["recipe"])
        if name not in recipe.domains:
            return 0.0
        start = next((p.start for p in recipe.phases() if p.weights.get(name, 0) > 0), 0.0)
        if start <= 0:
            return 0.0
        data = config["data"]
        per_step = int(data["batch_size"]) * int(data["seq_len"]) * \
            int(data.get("world_size", 1) or 1)
        return float(math.ceil(start * float(data["tokens"]) / per_step - 1e-12) * per_step)
    except (ScalingError, KeyError, TypeError, ValueError):
        return 0.0


def shape_label(config: dict) -> str | None:
    """``2×16`` (layers × width) from a run's config.json; None where it does not say."""
    shape = config.get("shape") or config.get("model") or {}
    try:
        return f"{int(shape['n_layer'])}×{int(shape['d_model'])}"
    except (KeyError, TypeError, ValueError):
        return None


def skill_curves(store) -> pd.DataFrame:
    """Every skill curve of a run store's completed runs, each on its own skill clock.

    ``store``: a run store's path, or what :func:`scaling.store.load_runs` returned.
    Columns: those of :func:`skill_table` (``curve, tokens, value, recipe, skill, run,
    resolution, metric``) with ``tokens`` counted from the skill's start
    (:func:`skill_start`: the tokens of a warm-up before the task are not the task's), plus
    ``start`` (that offset; ``tokens + start`` is the run's own count), ``params``
    (non-embedding parameters), ``size`` (the grid's nominal size, config ``size``; the
    parameter count where the config has none: a grid entry that fixes its own shape gives
    several shapes one size), ``shape`` (``layers×width``, or the parameter count) and
    ``seed``. Records of a trained skill taken before its data started (the skill scored
    during a warm-up) are left out.
    """
    runs = store if isinstance(store, Runs) else load_runs(store)
    m = runs.metrics
    sk = m[m["kind"] == "skill"] if len(m) else m
    if sk.empty:
        raise FitError("no skill records in the completed runs")
    t = skill_table(sk)
    params = pd.to_numeric(sk["n_params"], errors="coerce").to_numpy(float)
    paths = dict(zip(runs.runs["run_id"].astype(str), runs.runs["path"], strict=True))
    info, start = {}, {}
    for run, g in t.groupby("run"):
        cfg = (RunDir(paths[run]).read_config() if run in paths else None) or {}
        info[run] = (cfg.get("size"), shape_label(cfg))
        for k in g["skill"].unique():
            start[(run, k)] = skill_start(cfg, k)
    t = t.assign(params=params, seed=sk["seed"].to_numpy())
    off = np.array([start[(r, k)] for r, k in zip(t["run"], t["skill"], strict=True)])
    size = pd.to_numeric(t["run"].map(lambda r: info[r][0]), errors="coerce")
    shape = t["run"].map(lambda r: info[r][1])
    t = t.assign(tokens=t["tokens"] - off, start=off,
                 size=size.where(size.notna(), t["params"]).astype(float),
                 shape=shape.where(shape.notna(), t["params"].map(_count)))
    return t[t["tokens"] >= 0].reset_index(drop=True)


def _count(n: float) -> str:
    return format_count(float(n))


def mixture_loss(metrics: pd.DataFrame, weights: dict) -> pd.Series:
    r"""The held-out loss of one run's training mixture, :math:`L(D) = \sum_d p_d L_d(D) /
    \sum_d p_d` over the domains ``weights`` names (the recipe's weights ``p_d``) that the run
    evaluated, indexed by tokens (> 0; main run, decay branches left out; evaluations where a
    domain is missing dropped). For a one-domain recipe (``prose=1``) it is that domain's
    loss."""
    vl = metrics[(metrics["kind"] == "val_loss") & (metrics["tokens"] > 0)]
    if "branch" in vl.columns:
        vl = vl[vl["branch"].isna()]
    wide = vl.pivot_table(index="tokens", columns="name", values="value", aggfunc="mean")
    doms = [d for d in weights if d in wide.columns]
    if not doms:
        raise FitError(f"no val_loss of the mixture's domains ({', '.join(weights)})")
    w = pd.Series({d: float(weights[d]) for d in doms})
    wide = wide[doms].dropna()
    return ((wide * w).sum(axis=1) / w.sum()).rename("loss")
