"""``scaling demo``: the embedded default end to end on this machine.

Runs the ``cpu-tiny`` grid (a few minutes on a 2-core CPU; a rerun resumes or skips finished
runs), fits a Chinchilla law per recipe to the prose validation loss, predicts the data savings
of every recipe against the baseline at 10× the grid's largest model, and writes the PDF report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .grid import GridSpec, run_grid
from .paths import grid_spec
from .predict import load_points, predict_savings
from .report import build_report

DEFAULT_OUT = Path("demo-out")


@dataclass
class DemoResult:
    """What the demo made: the grid's folder, the PDF (and its page count), the grid's
    summary and the savings answers (each printed as it came)."""

    grid_dir: Path
    report_path: Path | None
    grid: dict
    predictions: list = field(default_factory=list)
    n_pages: int = 0

    def summary(self) -> dict:
        return {"out": str(self.grid_dir),
                "report": str(self.report_path) if self.report_path else None,
                "grid": self.grid, "predictions": [p.summary() for p in self.predictions]}

    def report(self) -> str:
        """The demo's last line (its earlier steps are printed as they run)."""
        return (f"[3/3] report: {self.report_path} ({self.n_pages} pages); runs: "
                f"`scaling runs {self.grid_dir}`")


def run_demo(out: str | os.PathLike = DEFAULT_OUT, spec: str = "cpu-tiny", jobs: int = 1,
             progress: bool = True, echo: Callable[[str], None] = print,
             precision: str | None = None) -> DemoResult:
    """Grid → fits → predictions → report, saying what it does as it goes (``echo``)."""
    gs = GridSpec.load(grid_spec(spec))
    grid_dir = Path(out) / gs.name
    echo(f"[1/3] grid {gs.name}: {len(gs.configs())} runs into {grid_dir} "
         "(a rerun skips finished runs)")
    res = run_grid(gs, grid_dir, jobs=jobs, progress=progress, precision=precision)
    for r in res.results:
        if r["status"] != "done":
            echo(f"      run {r['run_id']} {r['status']}: {r.get('reason', '')}")
    baseline = gs.recipes[0].mix
    echo(f"[2/3] fitting L(N, D) per recipe; savings vs the baseline {baseline!r}")
    grid = load_points(grid_dir)  # read once; fits are cached across the predictions
    preds = []
    for entry in gs.recipes[1:]:
        p = predict_savings(grid, recipe=entry.mix, baseline=baseline)
        preds.append(p)
        echo(p.report())
    report = Path(out) / "report.pdf"
    rep = build_report(grid_dir, report, baseline=baseline)
    # the demo's JSON names the grid by its folder ("out"), as it always has
    grid = {k: v for k, v in res.summary().items() if k != "grid"}
    return DemoResult(grid_dir=grid_dir, report_path=report, grid=grid, predictions=preds,
                      n_pages=rep.n_pages)
