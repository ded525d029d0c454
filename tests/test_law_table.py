"""The pandas-free law table (scaling.fit.law_table) against the frame path it replaces on a CSV:
the same points, the same selection, the same refusals and notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaling.fit.law_table import LawTable, final_rows
from scaling.tables import TableError, check_rows, law_columns, read_columns


def frame_final(df: pd.DataFrame, keys: list[str]) -> list[int]:
    """The end point of every run by pandas: groupby (in order of appearance) and idxmax."""
    return df.groupby(keys, sort=False)["tokens"].idxmax().tolist()


@pytest.mark.parametrize("seed", range(5))
def test_final_rows_match_pandas_groupby(seed):
    rng = np.random.default_rng(seed)
    n = 200
    df = pd.DataFrame({"run": rng.choice([f"r{i}" for i in range(17)], n),
                       "branch": rng.choice(["__main__", "0.1", "0.2"], n),
                       "tokens": rng.integers(1, 20, n).astype(float)})  # ties included
    assert final_rows(df["run"].to_numpy(), df["tokens"].to_numpy()).tolist() == \
        frame_final(df, ["run"])
    assert final_rows(df["run"].to_numpy(), df["tokens"].to_numpy(),
                      df["branch"].to_numpy()).tolist() == frame_final(df, ["run", "branch"])


def write(path, text: str):
    path.write_text(text)
    return path


def test_csv_reader_reads_what_pandas_reads(tmp_path):
    # aliases in another case, a byte-order mark, a blank line, a short row, NA spellings,
    # quoted cells with commas
    csv = write(tmp_path / "t.csv", "\ufeffN,d,Loss,run,note\n"
                "1e6,2e7,3.5,a,\"x, y\"\n\n"
                "2e6,4e7,3.1,b,NA\n"
                "3e6,8e7,2.9\n")
    cols = read_columns(csv)
    ref = pd.read_csv(csv)
    assert list(cols) == list(ref.columns)
    for c in cols:
        ours = [np.nan if v is None else v for v in cols[c]]
        theirs = ref[c].tolist()
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            if isinstance(b, float) and np.isnan(b):
                assert a is np.nan or (isinstance(a, float) and np.isnan(a))
            else:
                assert float(a) == b if isinstance(b, float) else a == b
    t = LawTable.read_csv(csv)
    assert t.params.tolist() == [1e6, 2e6, 3e6] and t.loss.tolist() == [3.5, 3.1, 2.9]
    assert t.run.tolist() == ["a", "b", "nan"] and t.recipe.tolist() == ["all"] * 3


BAD = {
    "nan": "params,tokens,loss\n1e6,1e7,3\n1e6,2e7,\n2e6,1e7,2.9\n2e6,2e7,2.8\n",
    "inf": "params,tokens,loss\n1e6,1e7,inf\n1e6,2e7,3\n2e6,1e7,2.9\n2e6,2e7,2.8\n",
    "dup": "params,tokens,loss\n1e6,1e7,3\n1e6,2e7,3.1\n1e6,1e7,3\n2e6,2e7,2.8\n",
    "text": "params,tokens,loss\n1e6,1e7,3\n1e6,lots,3.1\n",
    "negative": "params,tokens,loss\n1e6,1e7,3\n-1e6,2e7,3.1\n",
    "missing": "params,loss\n1e6,3\n",
    "header": "params,tokens,loss\n",
    "ragged": "params,tokens,loss\n1e6,1e7,3,4\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("drop", [False, True])
def test_bad_tables_get_the_frame_paths_answer(tmp_path, case, drop):
    """Every bad table is refused (or its rows dropped) with the same message as the pandas
    checks give (scaling.tables.law_columns and check_rows on pd.read_csv)."""
    csv = write(tmp_path / f"{case}.csv", BAD[case])
    if case == "ragged":
        # pandas reads a row with one field too many by taking the first column as the index
        # (every value lands in the wrong column); the law table refuses it
        with pytest.raises(TableError, match="not a readable CSV table: expected 3 fields in "
                                             "row 2, saw 4"):
            LawTable.read_csv(csv, drop_bad_rows=drop)
        return

    def frame_path():
        df = law_columns(pd.read_csv(csv), source=str(csv))
        return check_rows(df, ["params", "tokens", "loss"], str(csv), drop=drop)

    try:
        kept, notes = frame_path()
    except TableError as e:
        with pytest.raises(TableError) as ours:
            LawTable.read_csv(csv, drop_bad_rows=drop)
        assert str(ours.value) == str(e)
        return
    t = LawTable.read_csv(csv, drop_bad_rows=drop)
    assert t.notes == notes
    assert t.loss.tolist() == kept["loss"].tolist()
