"""``scaling report``: a multi-page PDF of a run store (DESIGN.md, presentation layer).

Pages, in order: summary (grid, headline savings with intervals); loss curves per recipe and
size with the fitted laws; the L(N, D) fit with residuals and a parameter table (intervals,
identifiability warnings); per-skill grokking curves; the skill emergence chart; the
aggregation figure (skill curves → loss power law); savings vs model size up to the target;
the midtraining start × weight surface; the backtest; methods and provenance.

A section the runs cannot support (no completed runs, one size only, no probes, …) becomes a
page that says what is missing and what it needs; the report always builds.

Reproducibility: with ``SOURCE_DATE_EPOCH`` set, the PDF's creation date is that time and the
same store gives the same bytes (all fits are seeded; nothing time- or machine-dependent is
printed except package versions and the store path).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..defaults import BOOTSTRAP
from ..errors import ScalingError
from .context import Missing, ReportContext, load_context

__all__ = ["ReportContext", "ReportResult", "build_report", "load_context"]

#: (section title, builder name in .pages, what the section needs — said when it is missing)
SECTIONS = [
    ("Summary", "summary_page", None),
    ("Loss curves and fitted laws", "loss_pages",
     "completed runs with val_loss records and a baseline"),
    ("The L(N, D) fit: residuals and parameters", "law_fit_page",
     "runs of each recipe at ≥ 2 model sizes"),
    ("Per-skill grokking curves", "grok_pages",
     "skill records: probes (probe_n > 0 in the grid spec) or skill tasks trained in --mix"),
    ("Skill emergence chart", "emergence_page",
     "skill records: probes (probe_n > 0 in the grid spec) or skill tasks trained in --mix"),
    ("Aggregation: skill curves → loss power law", "aggregation_page",
     "a run with ≥ 3 skill curves and ≥ 4 validation checkpoints (the baseline's, where it "
     "has them)"),
    ("Savings vs model size", "savings_size_page",
     "a baseline and ≥ 1 other recipe, each with runs at ≥ 2 sizes"),
    ("Midtraining: start × weight", "midtraining_page",
     "recipes prose=1;mid=DOMAIN:WEIGHT@START at several starts and weights"),
    ("Backtest", "backtest_page", "runs at ≥ 3 model sizes"),
    ("Methods and provenance", "provenance_pages", None),
]


class ReportError(ScalingError):
    """The report cannot be written as asked (the message says what to fix)."""


@dataclass
class ReportResult:
    """What :func:`build_report` wrote."""

    path: Path
    pages: list[str]
    """Title of every page, in order."""
    missing: dict[str, str] = field(default_factory=dict)
    """Section → why it was not drawn (a page says so in the PDF)."""
    problems: list[str] = field(default_factory=list)
    """Problems of the store as a whole (no completed runs, one size only, …)."""
    headline: list[dict] = field(default_factory=list)
    """``predict --json``-style summaries of the headline savings (one per recipe)."""
    seconds: float = 0.0

    @property
    def n_pages(self) -> int:
        return len(self.pages)

    def summary(self) -> dict[str, Any]:
        """JSON contract of ``scaling report --json``."""
        return {"path": str(self.path), "n_pages": self.n_pages, "pages": list(self.pages),
                "missing": dict(self.missing), "problems": list(self.problems),
                "headline": [{k: h[k] for k in ("recipe", "baseline", "size", "tokens",
                                                "savings_ratio", "interval", "extrapolated",
                                                "verdict", "at_bound") if k in h}
                             for h in self.headline],
                "seconds": round(self.seconds, 2)}

    def report(self) -> str:
        lines = [f"wrote {self.path} ({self.n_pages} pages, {self.seconds:.1f} s)"]
        lines += [f"  not drawn: {k}: {v}" for k, v in self.missing.items()]
        lines += [f"  note: {p}" for p in self.problems]
        return "\n".join(lines)


def _pdf_metadata() -> dict:
    md = {"Title": "scaling report", "Creator": "scaling report", "Subject":
          "data savings, loss laws and skill emergence of a run store"}
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            when = datetime.fromtimestamp(int(sde), UTC)
        except ValueError:
            raise ReportError(f"SOURCE_DATE_EPOCH must be an integer (seconds since 1970), got "
                              f"{sde!r}") from None
        md["CreationDate"] = when
        md["ModDate"] = when
    return md


def build_report(runs, out, target_domain: str | None = None, baseline: str | None = None,
                 size: float | None = None, bootstrap: int = BOOTSTRAP, seed: int = 0,
                 level: float = 0.9) -> ReportResult:
    """Write the PDF report of the run store ``runs`` to ``out``.

    Parameters
    ----------
    runs : path
        A run store (a folder of run directories, e.g. written by ``scaling grid``).
    out : path
        The PDF to write (parent folders are created).
    target_domain : str, optional
        Validation domain whose loss defines the laws and savings (default: the store's only
        one, else ``prose``).
    baseline : str, optional
        Baseline recipe (default ``prose=1``).
    size : float, optional
        Headline target size (non-embedding params; default 10× the grid's largest).
    bootstrap, seed, level
        Bootstrap resamples per law (default :data:`scaling.defaults.BOOTSTRAP`, the same as
        ``predict``, so the headline interval is the one ``scaling predict`` prints), their
        seed, interval coverage.

    Returns
    -------
    ReportResult
    """
    from matplotlib.backends.backend_pdf import PdfPages

    from . import pages, style

    t0 = time.perf_counter()
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise ReportError(f"--out must name a .pdf file, got {out}")
    if isinstance(size, str):
        from ..units import parse_count

        size = parse_count(size, "size")
    ctx = load_context(runs, target_domain, baseline, size, bootstrap, seed, level)
    out.parent.mkdir(parents=True, exist_ok=True)
    titles, missing = [], {}
    opts = {"bootstrap": bootstrap, "seed": seed, "level": level}
    # numerical warnings of the fits (overflow in far-out bootstrap samples, …) are not for
    # the terminal: what matters reaches the report through the result objects' warnings
    with style.plt.rc_context(style.RC), warnings.catch_warnings(), \
            np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        tmp = out.with_name(out.name + ".part")  # a failed build leaves no half a PDF
        try:
            with PdfPages(tmp, metadata=_pdf_metadata()) as pdf:
                for title, name, needs in SECTIONS:
                    fn = getattr(pages, name)
                    try:
                        figs = fn(ctx, opts) if name == "provenance_pages" else fn(ctx)
                    except Missing as e:
                        missing[title] = str(e)
                        figs = [style.missing_page(title, [str(e)], needs)]
                    for fig in figs:
                        pdf.savefig(fig)
                        style.plt.close(fig)
                        titles.append(title)
            os.replace(tmp, out)
        finally:
            style.plt.close("all")
            tmp.unlink(missing_ok=True)
    headline = []
    try:
        headline = [p.summary() for p in ctx.savings.values()]
    except Missing:
        pass
    return ReportResult(path=out, pages=titles, missing=missing, problems=list(ctx.problems),
                        headline=headline, seconds=time.perf_counter() - t0)
