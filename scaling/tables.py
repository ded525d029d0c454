"""Reading user tables (CSV): canonical column names, aliases, and validation.

Every command that reads a CSV (``scaling import``, ``scaling fit …``) resolves its columns here,
so the accepted aliases and the error messages are the same everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import ScalingError

#: canonical column -> accepted spellings (case-insensitive), canonical first.
ALIASES: dict[str, tuple[str, ...]] = {
    "run": ("run", "run_id", "run_name"),
    "params": ("params", "N", "n_params"),
    "tokens": ("tokens", "D", "n_tokens"),
    "step": ("step",),
    "loss": ("loss",),
    "name": ("name", "metric"),
    "value": ("value",),
    "kind": ("kind",),
    "recipe": ("recipe",),
    "seed": ("seed",),
    "curve": ("curve",),
}


class TableError(ScalingError, ValueError):
    """A user table lacks a column, or holds values that cannot be used."""


def describe(column: str) -> str:
    """``'tokens' (aliases: D, n_tokens)`` — how error messages name a column."""
    names = ALIASES.get(column, (column,))
    rest = [n for n in names if n != column]
    return f"'{column}'" + (f" (aliases: {', '.join(rest)})" if rest else "")


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV with a clear error when the file is missing or not a table."""
    if not os.path.exists(path):
        raise TableError(f"no such file: {path}")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise TableError(f"{path} is not a readable CSV table: {e}") from e


def resolve(df: pd.DataFrame, required: Iterable[str], optional: Iterable[str] = (),
            source: str = "the table") -> pd.DataFrame:
    """Rename aliased columns to their canonical names and check the required ones exist.

    Columns that match no alias are kept unchanged (e.g. ``mix_*`` features).
    """
    lower = {c.lower(): c for c in df.columns}
    rename: dict[str, str] = {}
    wanted = list(required) + list(optional)
    for canon in wanted:
        for alias in ALIASES.get(canon, (canon,)):
            if alias.lower() in lower:
                rename[lower[alias.lower()]] = canon
                break
    out = df.rename(columns=rename)
    missing = [c for c in required if c not in out.columns]
    if missing:
        have = ", ".join(map(str, df.columns)) or "none"
        raise TableError(
            f"{source} lacks column {' and '.join(describe(c) for c in missing)}; "
            f"columns present: {have}"
        )
    return out


def require_numeric(df: pd.DataFrame, columns: Iterable[str], positive: Iterable[str] = (),
                    source: str = "the table") -> pd.DataFrame:
    """Coerce columns to float; non-numeric cells and non-positive values are errors.

    Empty cells (NaN) are left for the caller, who drops and counts them.
    """
    out = df.copy()
    positive = set(positive)
    for c in columns:
        num = pd.to_numeric(out[c], errors="coerce")
        bad = num.isna() & out[c].notna()
        if bad.any():
            rows = _row_list(bad)
            raise TableError(f"column {describe(c)} of {source} is not numeric in rows {rows} "
                             f"(e.g. {out.loc[bad, c].iloc[0]!r})")
        if c in positive:
            nonpos = num.notna() & (num <= 0)
            if nonpos.any():
                raise TableError(f"column {describe(c)} of {source} must be > 0; "
                                 f"rows {_row_list(nonpos)} are not")
        out[c] = num.astype(float)
    return out


def law_columns(df: pd.DataFrame, need_loss: bool = True, need_params: bool = True,
                source: str = "the table") -> pd.DataFrame:
    """Resolve ``params, tokens, loss`` (aliases N, D) and check values are numeric and > 0.

    Rows with empty cells are kept as NaN (the fitter drops and counts them).
    """
    required = (["params"] if need_params else []) + ["tokens"] + (["loss"] if need_loss
                                                                   else [])
    df = resolve(df, required, ["run", "step", "recipe", "branch"], source=source)
    return require_numeric(df, required, positive=required, source=source)


def _row_list(mask: pd.Series, limit: int = 8) -> str:
    # Row numbers as a user sees them in a spreadsheet: header is line 1, first data row 2.
    rows = [int(i) + 2 for i in np.flatnonzero(mask.to_numpy())]
    s = ", ".join(map(str, rows[:limit]))
    return s + (f" … ({len(rows)} in all)" if len(rows) > limit else "")



def check_rows(df: pd.DataFrame, columns: Iterable[str], source: str = "the table",
               drop: bool = False,
               bounds: dict[str, tuple[float, float, str]] | None = None
               ) -> tuple[pd.DataFrame, list[str]]:
    """The one check of a user table's rows, shared by ``import``, ``fit law`` and ``fit grok``.

    Bad rows are those with a missing (empty or NaN) or infinite value in ``columns``, a value
    outside ``bounds`` (``{column: (low, high, what it is)}``), or a repeat of an earlier row
    (every cell equal: a pasted-twice row would count as a second run). By default they are
    refused, naming their row numbers (spreadsheet numbering: the header is row 1); with
    ``drop`` they are left out and one note says how many and which.

    Returns
    -------
    (frame, notes)
        The rows kept and the notes of what was dropped (empty when nothing was).
    """
    if df.empty:
        raise TableError(f"{source} has no data rows (only a header); give at least one row")
    problems: list[tuple[str, pd.Series]] = []
    for c in columns:
        v = pd.to_numeric(df[c], errors="coerce")
        problems.append((f"a missing or NaN {describe(c)}", v.isna()))
        problems.append((f"an infinite {describe(c)}", np.isinf(v)))
        if bounds and c in bounds:
            lo, hi, what = bounds[c]
            out = v.notna() & ((v < lo) | (v > hi))
            problems.append((f"{describe(c)} outside [{lo:g}, {hi:g}] ({what})", out))
    problems.append(("a repeat of an earlier row", df.duplicated(keep="first")))
    bad = pd.Series(False, index=df.index)
    parts = []
    for what, mask in problems:
        mask = mask & ~bad  # each row named once, under its first problem
        if mask.any():
            parts.append(f"{_rows(mask)} {'has' if mask.sum() == 1 else 'have'} {what}")
            bad |= mask
    if not bad.any():
        return df, []
    if not drop:
        raise TableError(f"{source}: {'; '.join(parts)}; fix the table or pass --drop-bad-rows "
                         "to leave such rows out")
    kept = df[~bad]
    if kept.empty:
        raise TableError(f"{source}: every row is bad ({'; '.join(parts)})")
    return kept, [f"--drop-bad-rows: {int(bad.sum())} of {len(df)} rows of {source} dropped "
                  f"({'; '.join(parts)})"]


def _rows(mask: pd.Series, limit: int = 8) -> str:
    # by index label: the frame may already be filtered; labels are positions of the file
    rows = [int(i) + 2 for i in mask.index[mask.to_numpy()]]
    s = ", ".join(map(str, rows[:limit]))
    return ("row " if len(rows) == 1 else "rows ") + s + (
        f" … ({len(rows)} in all)" if len(rows) > limit else "")
