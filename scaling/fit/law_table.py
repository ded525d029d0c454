"""The points of a loss-law fit as arrays, and which of them a fit uses.

A :class:`LawTable` is what :func:`scaling.fit.frames.fit_law_table` fits: ``tokens, loss``
(and ``params``, the model sizes), each point's ``run``, ``recipe`` and WSD ``branch``. It is
read from a CSV without pandas (:meth:`LawTable.read_csv`, the same checks as every other user
table: :mod:`scaling.tables`), or taken from a frame (:meth:`LawTable.from_frame`: a run store's
``val_loss`` table, a notebook's frame).

Point selection (``points``):

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
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from ..tables import (
    numeric_errors,
    read_columns,
    rename_map,
    repeated_rows,
    row_problems,
    to_numbers,
)
from .laws import FitError

if TYPE_CHECKING:
    import pandas as pd

POINTS = ("final", "all")

#: The label of a point that belongs to the main run, not to a WSD decay branch.
MAIN_BRANCH = "__main__"


def final_rows(run: np.ndarray, tokens: np.ndarray, branch: np.ndarray | None = None
               ) -> np.ndarray:
    """Positions of the end point of every run (or (run, branch)): its row with the most
    tokens (the first such row on a tie), in the order the runs first appear."""
    keys = np.asarray(run).astype(str)
    if branch is not None:
        keys = np.char.add(np.char.add(keys, "\0"), np.asarray(branch).astype(str))
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    n = len(keys)
    # by group, then tokens from the most (NaN last), then position
    order = np.lexsort((np.arange(n), -np.asarray(tokens, float), group))
    starts = np.r_[True, group[order][1:] != group[order][:-1]]
    per_group = order[starts]  # indexed by group number
    return per_group[np.argsort(first, kind="stable")]


def selected_rows(tokens: np.ndarray, run: np.ndarray | None = None,
                  branch: np.ndarray | None = None, points: str = "final",
                  min_tokens: float | None = None) -> np.ndarray:
    """Positions of the points a law fit uses (see the module docstring); ``run`` None: every
    point is its own run."""
    if points not in POINTS:
        raise FitError(f"unknown points selection {points!r}; use one of {', '.join(POINTS)}")
    rows = np.arange(len(tokens))
    if min_tokens is not None:
        rows = rows[np.asarray(tokens, float) >= float(min_tokens)]
        if not len(rows):
            raise FitError(f"no points with tokens >= {min_tokens:g}; lower --min-tokens")
    if points == "final" and run is not None:
        rows = rows[final_rows(np.asarray(run)[rows], np.asarray(tokens, float)[rows],
                               None if branch is None else np.asarray(branch)[rows])]
    return rows


@dataclass
class LawTable:
    """Loss-law points as arrays (one entry per point).

    ``params`` is None for a table without model sizes (a ``power`` fit of one size);
    ``recipe`` None for a table that names no recipe; ``branch`` None for a table without WSD
    decay branches (else :data:`MAIN_BRANCH` where a point is on the main run). ``notes``
    say what reading the table left out.
    """

    tokens: np.ndarray
    loss: np.ndarray
    run: np.ndarray
    params: np.ndarray | None = None
    recipe: np.ndarray | None = None
    branch: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)

    def take(self, rows) -> LawTable:
        """The points at ``rows`` (a mask or positions)."""
        return replace(self, **{f.name: getattr(self, f.name)[rows] for f in fields(self)
                                if f.name != "notes" and getattr(self, f.name) is not None})

    @property
    def recipes(self) -> list[str]:
        """The recipes the table names, sorted (empty when it names none)."""
        return [] if self.recipe is None else sorted(set(self.recipe.tolist()))

    def select(self, points: str = "final", min_tokens: float | None = None) -> LawTable:
        """The points a law fit uses (:func:`selected_rows`)."""
        return self.take(selected_rows(self.tokens, self.run, self.branch, points, min_tokens))

    # -- reading ------------------------------------------------------------------------
    @classmethod
    def read_csv(cls, path: str | os.PathLike, need_params: bool = True,
                 drop_bad_rows: bool = False) -> LawTable:
        """A CSV's ``params, tokens, loss`` (aliases N, D) and optional ``run, recipe,
        branch`` columns, checked as every user table is (:mod:`scaling.tables`): names and
        values (numeric, > 0) first, then the rows (empty, NaN, infinite, repeated), which are
        refused or, with ``drop_bad_rows``, left out and named in :attr:`notes`. Without a
        ``run`` column every row is its own run (``row<spreadsheet row>``); without a
        ``recipe`` column every row is recipe ``all``."""
        source = str(path)
        raw = read_columns(path)
        need = (["params"] if need_params else []) + ["tokens", "loss"]
        names = rename_map(list(raw), need, ["run", "recipe", "branch"], source)
        cols = {names.get(k, k): v for k, v in raw.items()}
        labels = np.arange(len(next(iter(cols.values()))) if cols else 0)
        numbers = {}
        for c in need:
            v, bad = to_numbers(cols[c])
            numeric_errors(c, v, bad, cols[c][bad][0] if bad.any() else None, True, source,
                           labels)
            numbers[c] = v
        cells = [numbers.get(k, v) for k, v in cols.items()]
        keep, notes = row_problems(numbers, repeated_rows(cells), labels, source,
                                   drop_bad_rows)
        n = int(keep.sum())

        def text(c, default):
            if c not in cols:
                return np.array(default(n))
            return np.array(["nan" if v is None else str(v) for v in cols[c][keep]])

        branch = None
        if "branch" in cols and any(v is not None for v in cols["branch"][keep]):
            branch = np.array([MAIN_BRANCH if v is None else str(v)
                               for v in cols["branch"][keep]], object)
        return cls(tokens=numbers["tokens"][keep], loss=numbers["loss"][keep],
                   params=numbers["params"][keep] if need_params else
                   (to_numbers(cols["params"][keep])[0] if "params" in cols else None),
                   run=text("run", lambda k: [f"row{i + 2}" for i in range(k)]),
                   recipe=text("recipe", lambda k: ["all"] * k), branch=branch, notes=notes)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, need_params: bool = True,
                   source: str = "the table") -> LawTable:
        """The points of a ``params, tokens, loss[, run, recipe, branch]`` frame (aliases
        ``N``/``D``; values numeric and > 0, empty cells kept as NaN). Without a ``run``
        column every row is its own run (``row<i>``)."""
        from ..tables import law_columns

        df = law_columns(frame, need_params=need_params, source=source)
        n = len(df)
        branch = None
        if "branch" in df.columns and df["branch"].notna().any():
            b = df["branch"].astype(object)
            branch = b.where(b.notna(), MAIN_BRANCH).to_numpy(object)
        return cls(tokens=df["tokens"].to_numpy(float), loss=df["loss"].to_numpy(float),
                   params=df["params"].to_numpy(float) if "params" in df.columns else None,
                   run=(df["run"].astype(str).to_numpy() if "run" in df.columns
                        else np.array([f"row{i}" for i in range(n)])),
                   recipe=df["recipe"].astype(str).to_numpy() if "recipe" in df.columns
                   else None, branch=branch)

    def frame(self) -> pd.DataFrame:
        """The table as a frame: ``run, recipe, params, tokens, loss[, branch]`` (NaN where
        a point is on the main run)."""
        import pandas as pd

        cols = {"run": self.run, "recipe": self.recipe, "params": self.params,
                "tokens": self.tokens, "loss": self.loss}
        df = pd.DataFrame({k: v for k, v in cols.items() if v is not None})
        if self.branch is not None:
            df["branch"] = pd.Series(self.branch, dtype=object).where(
                self.branch != MAIN_BRANCH, np.nan)
        return df
