"""Page 9, the backtest: the largest size predicted from the others, with coverage."""

from __future__ import annotations

import numpy as np

from ...units import format_count
from .. import style
from ..context import ReportContext
from ..style import new_page, plt
from .common import recipe_colors


def backtest_page(ctx: ReportContext) -> list:
    """Held-out largest size: predicted vs observed losses and savings, with coverage."""
    bt = ctx.backtest
    colors = recipe_colors(ctx)
    fig = new_page("Backtest: predict the largest size from the others",
                   f"held out: every run at {format_count(bt.held_out_size)} params; laws "
                   f"fitted to the smaller sizes; {int(bt.level * 100)}% intervals")
    _loss_panel(fig.add_axes([0.07, 0.30, 0.40, 0.55]), bt, colors)
    ax2 = fig.add_axes([0.56, 0.30, 0.40, 0.55])
    _savings_panel(ax2, bt, colors)
    _legend(fig, ctx, bt, colors)
    ax2.set_xlabel("true savings (held-out runs)")
    ax2.set_ylabel("predicted savings")
    lines = [f"Overall coverage of the {int(bt.level * 100)}% intervals: {bt.coverage:.0%} "
             f"of {len(bt.cases)} cases (dots inside, × outside their interval)."]
    b = bt.bias()
    if b["loss"] is not None and b["savings"] is not None:
        lines.append(f"Direction: losses predicted {b['loss']:+.1%} on average; savings "
                     f"{b['savings']:+.3g} on average, {b['savings_above']} of "
                     f"{b['n_savings']} above their truth.")
    lines += [f"• {w}" for w in bt.warnings]
    style.text_block(fig, 0.07, 0.085, lines, width=170, size=7.5, max_lines=4)
    return [fig]


def _loss_panel(ax, bt, colors: dict) -> None:
    """Predicted against observed loss of every held-out end point, with its interval."""
    loss = [c for c in bt.cases if c["kind"] == "loss"]
    for c in loss:
        lo, hi = c["interval"]
        col = colors.get(c["recipe"], "0.4")
        ax.plot([c["observed"]] * 2, [lo, hi], color=col, lw=0.8, alpha=0.6)
        ax.plot([c["observed"]], [c["predicted"]], "o" if c["covered"] else "x", color=col,
                ms=4)
    if loss:
        # the limits hold every point and every interval (nothing is cut at the axes)
        v = np.array([x for c in loss for x in (c["observed"], c["predicted"], *c["interval"])])
        v = v[np.isfinite(v)]
        pad = 0.03 * (v.max() - v.min())
        lim = [v.min() - pad, v.max() + pad]
        ax.plot(lim, lim, color="0.4", lw=0.8, ls="--")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
    ax.set_xlabel("observed loss (held-out runs)")
    ax.set_ylabel("predicted loss")
    ax.set_title(f"loss: {len(loss)} end points, mean rel. error {bt.loss_rel_error:.2%}, "
                 f"coverage {bt.coverage_loss:.0%}", fontsize=8.5, loc="left")


def _savings_panel(ax2, bt, colors: dict) -> None:
    """Predicted against true savings of every recipe at the held-out size (log-log), or
    why there are none."""
    sav = [c for c in bt.cases if c["kind"] == "savings"]
    if not sav:
        ax2.axis("off")
        ax2.text(0.0, 0.9, "no savings cases:\n" + "\n".join(style.wrap(w, 60) for w in
                                                              bt.warnings[:4]),
                 fontsize=8, va="top", transform=ax2.transAxes)
        return
    v = np.array([x for c in sav for x in (c["truth"], c["predicted"], *c["interval"])])
    v = v[np.isfinite(v) & (v > 0)]
    lim = [v.min() / 1.15, v.max() * 1.15]
    for c in sav:
        lo, hi = c["interval"]
        col = colors.get(c["recipe"], "0.4")
        if np.isfinite(hi):
            ax2.plot([c["truth"]] * 2, [lo, hi], color=col, lw=1, alpha=0.7)
        else:  # unbounded above: an arrow to the top edge
            ax2.annotate("", xy=(c["truth"], 1.0), xycoords=("data", "axes fraction"),
                         xytext=(c["truth"], lo),
                         arrowprops=dict(arrowstyle="->", color=col, lw=1, alpha=0.7))
        ax2.plot([c["truth"]], [c["predicted"]], "o" if c["covered"] else "x", color=col,
                 ms=5)
    ax2.plot(lim, lim, color="0.4", lw=0.8, ls="--")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlim(lim)
    ax2.set_ylim(lim)
    style.ratio_ticks(ax2, *lim, axis="x")
    style.ratio_ticks(ax2, *lim, axis="y")
    ax2.set_title(f"savings: {len(sav)} recipes, mean abs. error "
                  f"{bt.savings_abs_error:.3g}, coverage {bt.coverage_savings:.0%}",
                  fontsize=8.5, loc="left")


def _legend(fig, ctx: ReportContext, bt, colors: dict) -> None:
    """What the marks mean, then one colour per recipe."""
    keys = [plt.Line2D([], [], color="0.3", marker="o", ls="none", ms=5),
            plt.Line2D([], [], color="0.3", marker="x", ls="none", ms=5),
            plt.Line2D([], [], color="0.3", lw=1),
            plt.Line2D([], [], color="0.4", lw=0.8, ls="--")]
    labels = ["prediction inside its interval", "outside its interval",
              f"{int(bt.level * 100)}% interval", "perfect prediction"]
    shown = [r for r in ctx.recipes if any(c["recipe"] == r for c in bt.cases)]
    keys += [plt.Line2D([], [], color=colors.get(r, "0.4"), marker="o", ls="none", ms=5)
             for r in shown]
    labels += [style.short(r, 40) + (" (baseline)" if r == ctx.baseline else "")
               for r in shown]
    fig.legend(keys, labels, loc="upper left", bbox_to_anchor=(0.06, 0.225), ncol=4,
               fontsize=7, frameon=False, handletextpad=0.4, columnspacing=1.2)
