"""The ``scaling`` command line: thin wrappers that parse, call the library, and print.

Every command takes ``--json`` (one JSON object on stdout, stable keys). Errors a user can fix
end with a non-zero exit and one line on stderr saying what to fix.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import ScalingError

app = typer.Typer(
    name="scaling",
    help="Predict what a change of training data buys a language model: skill grokking "
         "curves, loss laws, data savings with intervals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object (stable keys).")]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit_json(obj: dict) -> None:
    typer.echo(json.dumps(_jsonable(obj), indent=2))


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(fn):
    """Turn errors a user can fix into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ScalingError, FileNotFoundError) as e:
            fail(str(e).strip('"'))

    return wrapper


# --------------------------------------------------------------------------- runs / import


@app.command("runs")
@user_errors
def runs_cmd(
    directory: Annotated[Path, typer.Argument(help="A run, a grid, or a folder of grids.")],
    as_json: JsonOpt = False,
) -> None:
    """Table of runs and their status (done / failed / incomplete)."""
    from .store import load_runs

    table = load_runs(directory).runs
    if as_json:
        emit_json({"runs": [
            {k: r[k] for k in ("run_id", "recipe", "n_params", "seed", "status", "tokens",
                               "reason", "grid")}
            for r in table.to_dict("records")
        ]})
        return
    if table.empty:
        typer.echo(f"no runs under {directory}")
        return
    show = table[["run_id", "grid", "recipe", "n_params", "seed", "status", "tokens", "reason"]]
    typer.echo(show.to_string(index=False))
    counts = table["status"].value_counts().to_dict()
    typer.echo("\n" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


@app.command("import")
@user_errors
def import_cmd(
    csv: Annotated[Path, typer.Argument(help="CSV with params/N, tokens/D, loss or name+value "
                                              "(optional: run, step, recipe, seed, kind).")],
    out: Annotated[Path, typer.Option("--out", help="Run store to write (created if needed).")],
    as_json: JsonOpt = False,
) -> None:
    """Build a run store from a plain CSV (other trainers, published curves)."""
    from .importer import import_csv

    res = import_csv(csv, out)
    summary = {"out": str(res.out), "runs": res.run_ids, "n_records": res.n_records,
               "dropped_rows": res.dropped_rows}
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"imported {len(res.run_ids)} runs ({res.n_records} records) into {res.out}"
                   + (f"; dropped {res.dropped_rows} incomplete rows" if res.dropped_rows else ""))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
