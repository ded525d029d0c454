"""Look of the report: page size, fonts, colours, and the helpers every page shares.

Pages are A4 landscape; no text is set below 6.5 pt (it must survive printing and a 100-dpi
render). Colours: sizes on ``viridis`` (small → large), recipes on ``tab20`` with the
baseline always black, so a recipe keeps its colour on every page.
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")  # a report is written to a file, never shown

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: A4 landscape, inches.
PAGE = (11.69, 8.27)
#: Smallest font used anywhere (points).
SMALL = 6.5
RC = {
    "font.size": 8.5, "axes.titlesize": 9, "axes.labelsize": 8.5, "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "figure.titlesize": 13,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.25, "lines.linewidth": 1.2, "pdf.fonttype": 42,
    # fixed hash salt for the SVG/PDF ids matplotlib generates: same input, same bytes
    "svg.hashsalt": "scaling-report",
}
BASELINE_COLOR = "black"
MARKERS = "osD^vP*Xh<>p"


def new_page(title: str, subtitle: str | None = None):
    """A blank A4-landscape figure with the page title (and a grey subtitle line)."""
    fig = plt.figure(figsize=PAGE)
    fig.text(0.03, 0.965, title, fontsize=14, weight="bold", va="top")
    if subtitle:
        fig.text(0.03, 0.93, wrap(subtitle, 175), fontsize=8.5, color="0.35", va="top",
                 linespacing=1.3)
    return fig


def recipe_colors(recipes: list[str], baseline: str | None) -> dict[str, object]:
    """One colour per recipe, stable across pages (baseline black)."""
    cmap = plt.get_cmap("tab20")
    out, i = {}, 0
    for r in recipes:
        if r == baseline:
            out[r] = BASELINE_COLOR
        else:
            out[r] = cmap(i % 20)
            i += 1
    return out


def recipe_markers(recipes: list[str], baseline: str | None) -> dict[str, str]:
    out, i = {}, 0
    for r in recipes:
        if r == baseline:
            out[r] = "o"
        else:
            out[r] = MARKERS[i % len(MARKERS)]
            i += 1
    return out


def size_colors(sizes) -> dict[float, object]:
    sizes = sorted(float(s) for s in sizes)
    cmap = plt.get_cmap("viridis")
    n = max(len(sizes) - 1, 1)
    return {s: cmap(0.05 + 0.8 * i / n) for i, s in enumerate(sizes)}


def wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(line, width, subsequent_indent="    ") if line else ""
                     for line in text.split("\n"))


def text_block(fig, x: float, y: float, lines: list[str], width: int = 150,
               size: float = 8.0, max_lines: int | None = None, **kw) -> int:
    """Write wrapped ``lines`` from (x, y) down (figure coordinates); returns lines used.

    Beyond ``max_lines`` the rest is cut and a final line says how many were left out."""
    out: list[str] = []
    for ln in lines:
        out += wrap(ln, width).split("\n")
    if max_lines is not None and len(out) > max_lines:
        cut = len(out) - max_lines + 1
        out = out[:max_lines - 1] + [f"… ({cut} more lines; see the --json summary)"]
    fig.text(x, y, "\n".join(out), fontsize=size, va="top", ha="left", family="monospace"
             if kw.pop("mono", False) else None, linespacing=1.35, **kw)
    return len(out)


def missing_page(title: str, reasons: list[str], needs: str | None = None):
    """A page that says what is missing instead of drawing empty axes."""
    fig = new_page(title, "not drawn: the runs lack what this page needs")
    lines = [f"• {r}" for r in reasons]
    if needs:
        lines += ["", f"What it needs: {needs}"]
    text_block(fig, 0.06, 0.85, lines, width=120, size=11)
    return fig


def short(recipe: str, width: int = 34) -> str:
    """A recipe name cut to ``width`` characters for crowded legends (full names are in the
    tables)."""
    return recipe if len(recipe) <= width else recipe[:width - 1] + "…"


def log_ticks(ax, axis: str = "x") -> None:
    """Plain-number log ticks (1k, 10k, 1M) instead of powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from ..units import format_count

    fmt = FuncFormatter(lambda v, _: format_count(v) if v > 0 else "")
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(LogLocator(numticks=6))
    a.set_major_formatter(fmt)
    a.set_minor_formatter(NullFormatter())


def plain_log(ax, axis: str = "x") -> None:
    """Plain decimals (0.5, 1, 2) on a log axis, minor labels off (they collide)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=8))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


def fmt_interval(v: float, lo: float, hi: float, digits: int = 3) -> str:
    def f(x):
        return "∞" if np.isinf(x) else ("–" if not np.isfinite(x) else f"{x:.{digits}g}")
    return f"{f(v)} [{f(lo)}, {f(hi)}]"
