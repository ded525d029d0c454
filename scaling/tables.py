"""Reading user tables (CSV): canonical column names, aliases, and validation.

Every command that reads a CSV (``scaling import``, ``scaling fit …``) resolves its columns here,
so the accepted aliases and the error messages are the same everywhere.

Two readers share the checks: :func:`read_csv` (a pandas frame, for the commands that work on
frames) and :func:`read_columns` (numpy arrays from the stdlib's csv module), which the loss-law
tables use (:class:`scaling.fit.law_table.LawTable`): ``scaling fit law`` on a CSV then never
imports pandas, ~0.25 s of a command that takes ~0.7 s. The checks themselves
(:func:`rename_map`, :func:`to_numbers`, :func:`numeric_errors`, :func:`row_problems`) work on
plain arrays; the frame functions (:func:`resolve`, :func:`require_numeric`,
:func:`check_rows`) apply them to a frame's columns.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import ScalingError

if TYPE_CHECKING:
    import pandas as pd

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


def _unreadable(path, e: Exception | str) -> TableError:
    return TableError(f"{path} is not a readable CSV table: {e}")


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV with a clear error when the file is missing or not a table."""
    import pandas as pd

    if not os.path.exists(path):
        raise TableError(f"no such file: {path}")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise _unreadable(path, e) from e


#: Cells read as missing, as pandas reads them (its default ``na_values``).
NA_CELLS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                      "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                      "nan", "null"})


def read_columns(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A CSV as ``{header: cells}`` without pandas: object arrays of the cells as written,
    None where a cell is missing (:data:`NA_CELLS`, or a short row's trailing fields).

    Blank lines are skipped and a row with more fields than the header is an error, as
    :func:`read_csv` has them; row ``i`` of every array is the file's data row ``i``
    (spreadsheet row ``i + 2``)."""
    if not os.path.exists(path):
        raise TableError(f"no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except (UnicodeDecodeError, csv.Error) as e:
        raise _unreadable(path, e) from e
    if not rows:
        raise _unreadable(path, "no columns to parse from the file")
    header, body = rows[0], rows[1:]
    for i, r in enumerate(body):
        if len(r) > len(header):
            raise _unreadable(path, f"expected {len(header)} fields in row {i + 2}, saw {len(r)}")
    cols = {}
    for j, name in enumerate(header):
        cells = np.empty(len(body), object)
        cells[:] = [r[j] if j < len(r) and r[j].strip() not in NA_CELLS else None for r in body]
        cols[name] = cells
    return cols


def rename_map(columns: Sequence[str], required: Iterable[str], optional: Iterable[str] = (),
               source: str = "the table") -> dict[str, str]:
    """``{column as written: canonical name}`` for the aliased columns among ``columns``;
    a :class:`TableError` naming the required ones that are missing."""
    lower = {str(c).lower(): c for c in columns}
    rename: dict[str, str] = {}
    required = list(required)
    for canon in required + list(optional):
        for alias in ALIASES.get(canon, (canon,)):
            if alias.lower() in lower:
                rename[lower[alias.lower()]] = canon
                break
    have = {rename.get(c, c) for c in columns}
    missing = [c for c in required if c not in have]
    if missing:
        raise TableError(
            f"{source} lacks column {' and '.join(describe(c) for c in missing)}; "
            f"columns present: {', '.join(map(str, columns)) or 'none'}"
        )
    return rename


def resolve(df: pd.DataFrame, required: Iterable[str], optional: Iterable[str] = (),
            source: str = "the table") -> pd.DataFrame:
    """Rename aliased columns to their canonical names and check the required ones exist.

    Columns that match no alias are kept unchanged (e.g. ``mix_*`` features).
    """
    return df.rename(columns=rename_map(list(df.columns), required, optional, source))


def to_numbers(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells as floats, and where a present cell is not a number (None and NaN: missing, NaN
    and not flagged)."""
    cells = np.asarray(cells, object)
    out = np.full(len(cells), np.nan)
    bad = np.zeros(len(cells), bool)
    for i, v in enumerate(cells):
        if v is None:
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            bad[i] = True
    return out, bad


def numeric_errors(column: str, values: np.ndarray, not_numeric: np.ndarray, example,
                   positive: bool, source: str, labels: np.ndarray) -> None:
    """The :class:`TableError` of a column with cells that are not numbers (``example`` is the
    first), or, when ``positive``, values ≤ 0; ``labels`` are the rows' file positions."""
    if not_numeric.any():
        raise TableError(f"column {describe(column)} of {source} is not numeric in rows "
                         f"{_row_numbers(labels, not_numeric)} (e.g. {example!r})")
    if positive:
        with np.errstate(invalid="ignore"):
            nonpos = values <= 0
        if nonpos.any():
            raise TableError(f"column {describe(column)} of {source} must be > 0; rows "
                             f"{_row_numbers(labels, nonpos)} are not")


def require_numeric(df: pd.DataFrame, columns: Iterable[str], positive: Iterable[str] = (),
                    source: str = "the table") -> pd.DataFrame:
    """Coerce columns to float; non-numeric cells and non-positive values are errors.

    Empty cells (NaN) are left for the caller, who drops and counts them.
    """
    import pandas as pd

    out = df.copy()
    positive = set(positive)
    positions = np.arange(len(df))
    for c in columns:
        num = pd.to_numeric(out[c], errors="coerce")
        bad = (num.isna() & out[c].notna()).to_numpy()
        numeric_errors(c, num.to_numpy(float), bad, out[c][bad].iloc[0] if bad.any() else None,
                       c in positive, source, positions)
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


def _row_numbers(labels: np.ndarray, mask: np.ndarray, limit: int = 8) -> str:
    """The masked rows as a user sees them in a spreadsheet (the header is row 1, the first
    data row 2); ``labels`` are the rows' positions in the file."""
    rows = [int(i) + 2 for i in np.asarray(labels)[np.asarray(mask, bool)]]
    s = ", ".join(map(str, rows[:limit]))
    return s + (f" … ({len(rows)} in all)" if len(rows) > limit else "")


def row_problems(numbers: dict[str, np.ndarray], repeated: np.ndarray, labels: np.ndarray,
                 source: str, drop: bool,
                 bounds: dict[str, tuple[float, float, str]] | None = None
                 ) -> tuple[np.ndarray, list[str]]:
    """The one check of a table's rows (:func:`check_rows` says which rows are bad) on arrays:
    ``numbers`` the checked columns as floats, ``repeated`` the rows that repeat an earlier
    one, ``labels`` the rows' file positions. Returns ``(rows kept, notes)``; raises when a
    row is bad and not ``drop``."""
    n = len(repeated)
    if n == 0:
        raise TableError(f"{source} has no data rows (only a header); give at least one row")
    problems: list[tuple[str, np.ndarray]] = []
    for c, v in numbers.items():
        problems.append((f"a missing or NaN {describe(c)}", np.isnan(v)))
        problems.append((f"an infinite {describe(c)}", np.isinf(v)))
        if bounds and c in bounds:
            lo, hi, what = bounds[c]
            with np.errstate(invalid="ignore"):
                out = ~np.isnan(v) & ((v < lo) | (v > hi))
            problems.append((f"{describe(c)} outside [{lo:g}, {hi:g}] ({what})", out))
    problems.append(("a repeat of an earlier row", np.asarray(repeated, bool)))
    bad = np.zeros(n, bool)
    parts = []
    for what, mask in problems:
        mask = mask & ~bad  # each row named once, under its first problem
        if mask.any():
            rows = _row_numbers(labels, mask)
            parts.append(f"{'row' if mask.sum() == 1 else 'rows'} {rows} "
                         f"{'has' if mask.sum() == 1 else 'have'} {what}")
            bad |= mask
    if not bad.any():
        return np.ones(n, bool), []
    if not drop:
        raise TableError(f"{source}: {'; '.join(parts)}; fix the table or pass --drop-bad-rows "
                         "to leave such rows out")
    if bad.all():
        raise TableError(f"{source}: every row is bad ({'; '.join(parts)})")
    return ~bad, [f"--drop-bad-rows: {int(bad.sum())} of {n} rows of {source} dropped "
                  f"({'; '.join(parts)})"]


def repeated_rows(columns: Iterable[np.ndarray]) -> np.ndarray:
    """Rows whose every cell equals an earlier row's (``DataFrame.duplicated`` on arrays;
    NaN equals NaN)."""
    seen: set = set()
    cols = [np.asarray(c, object) for c in columns]
    out = np.zeros(len(cols[0]) if cols else 0, bool)
    for i, row in enumerate(zip(*cols, strict=True)):
        key = tuple("nan" if isinstance(v, float) and v != v else v for v in row)
        out[i] = key in seen
        seen.add(key)
    return out


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
    import pandas as pd

    numbers = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in columns}
    # labels: the frame may already be filtered; its index labels are positions of the file
    keep, notes = row_problems(numbers, df.duplicated(keep="first").to_numpy(),
                               df.index.to_numpy(), source, drop, bounds)
    return (df, notes) if keep.all() else (df[keep], notes)
