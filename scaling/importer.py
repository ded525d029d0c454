"""Build a run store from a plain CSV (W&B exports, published tables of losses).

Columns (case-insensitive; aliases in brackets):

- ``params`` [``N``, ``n_params``] — non-embedding parameters; required, > 0
- ``tokens`` [``D``, ``n_tokens``] — training tokens seen, ≥ 0; required unless the table has
  steps: then ``step × tokens_per_step``, from a ``tokens_per_step`` column (runs of other
  trainers may differ in batch size) or ``--tokens-per-step``
- ``loss`` — one validation loss per row, or ``name`` + ``value`` (long form, several metrics
  per point; an optional ``kind`` column says which, default ``val_loss``)
- ``run`` [``run_id``, ``run_name``] — optional; rows sharing it form one run. Without it, each
  distinct (``params``, ``recipe``, ``seed``) is one run when a ``step`` column is present, and each
  row is its own run otherwise (a table of final losses, one run per (N, D) point).
- ``step`` — optional; defaults to the rank of ``tokens`` within the run
- ``recipe``, ``seed`` — optional run attributes (defaults ``imported`` and 0). A recipe is
  any name (``DCLM baseline``, ``fineweb-edu 50%``); ``predict --mix NAME`` finds it as written,
  and names that are ``--mix`` strings are also read as recipes (interpolation, procedural
  shares)

The whole table is validated before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .store import KINDS, RunWriter, config_hash
from .tables import TableError, check_rows, describe, read_csv, require_numeric, resolve


@dataclass
class ImportResult:
    out: Path
    run_ids: list[str]
    n_records: int
    dropped_rows: int
    notes: list[str]
    """What ``drop_bad_rows`` left out (empty when nothing was)."""

    def summary(self) -> dict[str, Any]:
        """JSON contract of ``scaling import --json``."""
        return {"out": str(self.out), "runs": list(self.run_ids), "n_records": self.n_records,
                "dropped_rows": self.dropped_rows, "warnings": list(self.notes)}

    def report(self) -> str:
        """The line ``scaling import`` prints (the notes are warnings, said on stderr)."""
        return f"imported {len(self.run_ids)} runs ({self.n_records} records) into {self.out}"


def _tokens_from_steps(df: pd.DataFrame, source: str,
                       tokens_per_step: float | None) -> pd.DataFrame:
    """``tokens = step × tokens per step`` for a table with steps and no tokens column."""
    df = resolve(df, [], ["tokens", "step", "tokens_per_step"])
    if "tokens" in df.columns or "step" not in df.columns:
        return df  # resolve() below names a missing tokens column
    if "tokens_per_step" in df.columns:
        df = require_numeric(df, ["tokens_per_step"], positive=["tokens_per_step"],
                             source=source)
        per = df["tokens_per_step"]
        if tokens_per_step is not None:
            raise TableError(f"{source} has a tokens_per_step column and --tokens-per-step "
                             "was given too; drop one")
    elif tokens_per_step is None:
        raise TableError(f"{source} has steps but no {describe('tokens')} column: give "
                         "--tokens-per-step (batch size × sequence length) or a "
                         "tokens_per_step column")
    else:
        per = float(tokens_per_step)
    steps = require_numeric(df, ["step"], source=source)["step"]
    return df.assign(tokens=steps * per)


def _tidy(df: pd.DataFrame, source: str, drop_bad_rows: bool = False,
          tokens_per_step: float | None = None) -> tuple[pd.DataFrame, list[str]]:
    df = _tokens_from_steps(df, source, tokens_per_step)
    present = set(resolve(df, [], ["loss", "name", "value"]).columns)
    long_form = "loss" not in present
    required = ["params", "tokens"] + (["name", "value"] if long_form else ["loss"])
    if long_form and not {"name", "value"} & present:
        raise TableError(f"{source} needs a {describe('loss')} column, or "
                         f"{describe('name')} + {describe('value')} columns (long form)")
    df = resolve(df, required, ["run", "step", "kind", "recipe", "seed"], source=source)
    value_col = "value" if long_form else "loss"
    numeric = ["params", "tokens", value_col] + (["step"] if "step" in df.columns else [])
    df = require_numeric(df, numeric, positive=["params"], source=source)
    if (df["tokens"] < 0).any():
        raise TableError(f"column {describe('tokens')} of {source} must be ≥ 0")
    df, notes = check_rows(df, numeric, source, drop=drop_bad_rows)
    if not long_form:
        df = df.rename(columns={"loss": "value"}).assign(name="loss")
    if "kind" not in df.columns:
        df["kind"] = "val_loss"
    bad_kind = ~df["kind"].isin(KINDS)
    if bad_kind.any():
        raise TableError(f"column 'kind' of {source} holds {df.loc[bad_kind, 'kind'].iloc[0]!r};"
                         f" known kinds: {', '.join(KINDS)}")
    df["recipe"] = df["recipe"].astype(str) if "recipe" in df.columns else "imported"
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").fillna(0).astype(int) \
        if "seed" in df.columns else 0
    if "run" not in df.columns:
        if "step" in df.columns:
            keys = ["params", "recipe", "seed"]
            df["run"] = df.groupby(keys, sort=False).ngroup().map(lambda i: f"run{i}")
        else:
            # One run per (N, D) point (several metrics of a point share it).
            df["run"] = df.groupby(["params", "tokens", "recipe", "seed"], sort=False) \
                .ngroup().map(lambda i: f"run{i}")
    df["run"] = df["run"].astype(str)
    for col in ("params", "recipe", "seed"):
        n = df.groupby("run")[col].nunique()
        if (n > 1).any():
            raise TableError(f"run {n[n > 1].index[0]!r} of {source} has several {describe(col)} "
                             "values; one run has one model size, recipe and seed")
    if "step" not in df.columns:
        df["step"] = df.groupby("run")["tokens"].rank(method="dense").astype(int) - 1
    return df, notes


def import_csv(path: str | os.PathLike, out: str | os.PathLike,
               drop_bad_rows: bool = False,
               tokens_per_step: float | None = None) -> ImportResult:
    """Validate ``path`` and write one run directory per run under ``out``
    (``tokens_per_step``: for a table of steps without tokens; module docstring).

    Raises :class:`~scaling.tables.TableError` (nothing written) when a required column is
    missing or not numeric, or when rows are empty, NaN, infinite or repeated
    (:func:`scaling.tables.check_rows`) and ``drop_bad_rows`` is not set.
    """
    source = os.path.basename(str(path))
    raw = read_csv(path)
    df, notes = _tidy(raw, source, drop_bad_rows, tokens_per_step)
    dropped = len(raw) - len(df)
    out = Path(out)
    run_ids, n = [], 0
    for label, g in df.groupby("run", sort=False):
        first = g.iloc[0]
        config = {
            "name": str(label),
            "recipe": str(first["recipe"]),
            "n_params": _number(first["params"]),
            "n_params_total": None,
            "seed": int(first["seed"]),
            "source": f"import:{source}",
        }
        # The id hashes the data too, so re-importing an edited table makes new runs.
        content = g[["step", "tokens", "kind", "name", "value"]].to_csv(index=False)
        run_id = f"{_slug(str(label))}-{config_hash({**config, 'data': content}, 8)}"
        w = RunWriter.in_grid(out, config, run_id=run_id)
        w.truncate_metrics_after(-1)  # re-import replaces the metrics
        g = g.sort_values(["step", "kind", "name"])
        w.log_many(
            dict(step=int(r.step), tokens=_number(r.tokens), kind=r.kind, name=str(r.name),
                 value=float(r.value))
            for r in g.itertuples()
        )
        w.mark_done(f"imported from {source}")
        run_ids.append(run_id)
        n += len(g)
    return ImportResult(out=out, run_ids=run_ids, n_records=n, dropped_rows=dropped,
                        notes=notes)


def _slug(s: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in s).strip("-")
    return keep[:40] or "run"


def _number(x: float) -> int | float:
    x = float(x)
    return int(x) if x.is_integer() else x
