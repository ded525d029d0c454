"""The report's pages, one module per section. Each builder takes a
:class:`~scaling.report.context.ReportContext` and returns a list of figures; a builder whose
inputs are missing raises :class:`~scaling.report.context.Missing`, and
:func:`scaling.report.build_report` draws a page that says so instead.
"""

from __future__ import annotations

from .aggregation import aggregation_page
from .backtest import backtest_page
from .emergence import emergence_page
from .grokking import grok_pages
from .law_fit import law_fit_page
from .loss_curves import loss_pages
from .midtraining import midtraining_page
from .provenance import provenance_pages
from .savings_by_size import savings_size_page
from .summary import summary_page

__all__ = ["aggregation_page", "backtest_page", "emergence_page", "grok_pages", "law_fit_page",
           "loss_pages", "midtraining_page", "provenance_pages", "savings_size_page",
           "summary_page"]
