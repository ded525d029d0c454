"""Prepare a finished run store for committing (how ``runs/reference/`` was made from a grid).

    .venv/bin/python analysis/ship_store.py runs/reference.new [--digits 9]

For every run directory: deletes ``ckpt/`` (weights are not shipped) and the lock file, and
rewrites ``metrics.jsonl`` with float values rounded to ``--digits`` significant digits (9 is all
a float32 computation carries; the trainer itself writes full precision). Refuses a store with
runs that are not DONE, so nothing half-finished is shipped. Prints the store's size before and
after.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.store import atomic_write_text, find_run_dirs, metrics_line  # noqa: E402


def _round(v, digits: int):
    return float(f"{v:.{digits}g}") if isinstance(v, float) else v


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--digits", type=int, default=9)
    a = ap.parse_args(argv)
    runs = find_run_dirs(a.store)
    pending = [r.name for r in runs if not (r / "DONE").exists()]
    if not runs or pending:
        print(f"{a.store}: {len(runs)} runs, not DONE: {', '.join(pending[:10]) or 'none found'}",
              file=sys.stderr)
        return 1
    before = _size(a.store)
    for run in runs:
        shutil.rmtree(run / "ckpt", ignore_errors=True)
        (run / "LOCK").unlink(missing_ok=True)
        path = run / "metrics.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        text = "".join(metrics_line({k: _round(v, a.digits) for k, v in r.items()}) + "\n"
                       for r in lines)
        atomic_write_text(path, text)
    print(f"{a.store}: {len(runs)} runs, {before / 2**20:.1f} MiB → "
          f"{_size(a.store) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
