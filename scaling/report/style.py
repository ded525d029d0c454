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


def darker(color, amount: float = 0.35):
    """``color`` mixed with ``amount`` of black: text in a light recipe colour stays legible."""
    from matplotlib.colors import to_rgb

    return tuple((1 - amount) * c for c in to_rgb(color))


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


def wrap_recipe(recipe: str, width: int) -> str:
    """A recipe name on lines of at most ``width`` characters, broken only after a separator
    (``;`` ``,`` ``:``) so that no number or domain name is cut in two; a part longer than
    ``width`` keeps its own line."""
    parts, cur = [], ""
    for ch in recipe:
        cur += ch
        if ch in ";,:":
            parts.append(cur)
            cur = ""
    if cur:
        parts.append(cur)
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


#: Advance width of a monospace character, in ems (DejaVu Sans Mono, matplotlib's default).
MONO_EM = 0.602


def text_table(fig, x: float, y: float, width: float, header: list[str],
               rows: list[list[str]], colors: list[list] | None = None, size: float = 7.5,
               wrap_first: int | None = None, gap: int = 2) -> float:
    """A monospace table from (x, y) (figure coordinates, top left) at most ``width`` wide.

    Columns are as wide as their longest line plus ``gap`` characters, so cells never overlap;
    the font shrinks to fit, down to :data:`SMALL`, below which the first column (recipe
    names) is re-wrapped at separators (:func:`wrap_recipe`). Cells may hold several lines.
    Returns the y of the table's bottom edge."""
    fig_w, fig_h = fig.get_size_inches()
    avail = width * fig_w * 72  # points

    def widths(rs):
        return [max(len(line) for r in [header] + rs for line in str(r[j]).split("\n"))
                for j in range(len(header))]

    w = widths(rows)
    f = min(size, avail / (MONO_EM * (sum(w) + gap * (len(w) - 1))))
    if f < SMALL:
        f = SMALL
        room = int(avail / (MONO_EM * f)) - sum(w[1:]) - gap * (len(w) - 1)
        first = max(room, wrap_first or 12)
        rows = [[wrap_recipe(str(r[0]).replace("\n", ""), first)] + list(r[1:]) for r in rows]
        w = widths(rows)
    cw = MONO_EM * f / 72 / fig_w  # one character, in figure width
    lh = 1.25 * f / 72 / fig_h     # one line, in figure height
    xs = [x]
    for k in w[:-1]:
        xs.append(xs[-1] + (k + gap) * cw)
    for j, h in enumerate(header):
        fig.text(xs[j], y, h, fontsize=f, family="monospace", weight="bold", va="top")
    yy = y - 1.4 * lh
    for i, r in enumerate(rows):
        n = max(str(c).count("\n") + 1 for c in r)
        for j, c in enumerate(r):
            col = colors[i][j] if colors is not None and colors[i][j] is not None else "0.1"
            fig.text(xs[j], yy, str(c), fontsize=f, family="monospace", va="top", color=col,
                     linespacing=1.25)
        yy -= (n + 0.35) * lh
    return yy


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


def ratio_ticks(ax, lo: float, hi: float, axis: str = "y") -> None:
    """Ticks at round ratios (0.8, 1, 1.25, 1.5, 2, …) on a log axis spanning ``[lo, hi]``:
    the finest ladder that gives 3 to 7 ticks (1, the no-difference line, among them)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    ladders = [
        (0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3),
        (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10),
        (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100),
        tuple(10.0 ** k for k in range(-8, 9)),
    ]
    ticks = []
    for ladder in ladders:
        ticks = [t for t in ladder if lo <= t <= hi]
        if 3 <= len(ticks) <= 7 or (ticks and len(ticks) <= 7 and ladder is ladders[-1]):
            break
    a = ax.yaxis if axis == "y" else ax.xaxis
    a.set_major_locator(FixedLocator(ticks or [1.0]))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_locator(NullLocator())
    a.set_minor_formatter(NullFormatter())


def num(x: float, digits: int = 2) -> str:
    """``x`` to ``digits`` significant figures, without exponent notation for 100–99,999
    (``120``, not ``1.2e+02``)."""
    t = f"{x:.{digits}g}"
    return f"{x:.0f}" if "e+" in t and abs(x) < 1e5 else t


def num_pair(lo: float, hi: float, digits: int = 2) -> str:
    """``[lo, hi]`` with as many figures (up to 5) as it takes for the two ends to differ: a
    narrow interval never prints as ``[0.27, 0.27]``."""
    for d in range(digits, 6):
        a, b = num(lo, d), num(hi, d)
        if a != b:
            break
    return f"[{a}, {b}]"


def fmt_interval(v: float, lo: float, hi: float, digits: int = 3) -> str:
    """``s [lo, hi]``; an end that is not 1 never prints as ``1`` (the verdict turns on which
    side of 1 it lies, so 1.0006 prints as 1.0006, not 1)."""
    def f(x):
        if np.isinf(x):
            return "∞"
        if not np.isfinite(x):
            return "–"
        for d in range(digits, 6):
            t = f"{x:.{d}g}"
            if t != "1" or x == 1:
                break
        return t
    return f"{f(v)} [{f(lo)}, {f(hi)}]"
