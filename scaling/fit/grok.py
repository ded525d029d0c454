"""Grokking curves: a sigmoid in log-tokens per skill curve, and a verdict by model comparison.

Each curve (tokens ``t``, value ``y``, e.g. probe accuracy) is fitted three ways on its points
with ``t > 0`` (``x = ln t``; step-0 points carry no log-token and are set aside, counted in
the curve's warnings):

- flat:     ``y = ℓ``                                       (1 parameter)
- linear:   ``y = i + s·x``                                 (2 parameters)
- sigmoid:  ``y = f + (c − f) / (1 + exp(−(x − ln t½)/w))`` (4 parameters, :func:`forms.sigmoid_log`)

and the verdict comes from BIC = n·ln(RSS/n) + k·ln n (Gaussian errors), never from a threshold
on the values. A curve measured in steps of ``q`` (an accuracy over k probe items: q = 1/k, the
optional ``resolution`` column; the store supplies it) cannot be fitted closer than its rounding
error, so every RSS is floored at n·q²/12 (the variance of a uniform rounding error): without
it, a rise of one item between two checkpoints is a "perfect" step that the sigmoid wins.
The sigmoid counts as preferred when it beats the better of flat and linear by ΔBIC ≥ 6
("strong" evidence, Kass & Raftery 1995; see :data:`STRONG_EVIDENCE`):

- ``never``   — flat is preferred: no change within the observed tokens;
- ``not_yet`` — linear is preferred (still moving, no transition seen), or the sigmoid is
  preferred but its midpoint lies beyond the last observed tokens;
- ``grokked`` — the sigmoid is preferred and its midpoint ``t½`` (the grokking time) lies
  within the observed tokens (or before them).

For an accuracy over k items (a ``resolution``), the sigmoid's rise must also exceed
:data:`RESOLVABLE_SD` binomial standard deviations of one evaluation, √(p(1 − p)/k) at the
noisier of its two levels: a rise from 0 to one item in 256 (0.4%) is within one evaluation's
noise, whatever the BIC says, and the verdict falls back to flat or linear (with a warning).

Fitting: small sets of curves go through lmfit (``engine="lmfit"``); thousands of curves go
through the batched Levenberg–Marquardt of :func:`scaling.fit.optim.batch_lm`
(``engine="numpy"``), with every curve and every start one row of one array. ``engine="auto"`` picks lmfit up to 100 curves. Both start
from the same grid (5 midpoints × 2 widths) and give the same optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..jsonsafe import finite_or_none as _f
from . import optim
from .data import grok_columns
from .forms import GROK_MIN_WIDTH, sigmoid_log
from .laws import FitError, two_sided_z

PARAMS = ("floor", "ceiling", "midpoint", "width")
STATUSES = ("grokked", "not_yet", "never")
MIN_POINTS = 6  # a 4-parameter sigmoid needs a few spare points for BIC to mean anything
#: ΔBIC by which the sigmoid must beat the better simple model: "strong" evidence on the
#: Kass & Raftery (1995) scale. Plain BIC over-rewards the sigmoid: under the flat and linear
#: models its midpoint is undefined, so a step can be placed on any run of noise.
STRONG_EVIDENCE = 6.0
#: Binomial standard deviations of one evaluation that a grokking rise must exceed (module
#: docstring): 2, about a 95% two-sided test that the two levels differ.
RESOLVABLE_SD = 2.0


def _binomial_sd(level, step):
    """Standard deviation of an accuracy at ``level`` measured on ``1/step`` items."""
    p = np.clip(level, step, 1 - step)
    return np.sqrt(p * (1 - p) * step)


# --------------------------------------------------------------------------- batched LM


def _sig_rj(theta, x):
    """Residual model and Jacobian for rows ``theta [S, 4] = (f, c, m, ln w)``, ``x [S, n]``."""
    f, c, m, lw = (theta[:, k:k + 1] for k in range(4))
    w = np.exp(lw)
    z = np.clip((x - m) / w, -60, 60)
    s = 1.0 / (1.0 + np.exp(-z))
    yhat = f + (c - f) * s
    ds = (c - f) * s * (1 - s)
    J = np.stack([1 - s, s, -ds / w, -ds * z], axis=-1)
    return yhat, J


class _SigmoidRows:
    """The sigmoid's least squares, one curve per row, as a structure of
    :func:`scaling.fit.optim.batch_lm`: ``x [S, n]`` ln-tokens (the data ``y`` and the
    point mask ``w`` travel through the solver); residuals ``ŷ − y``, objective
    ``Σ (w·(ŷ − y))²`` (the RSS), normal equations ``(Jw)ᵀ(Jw)`` and ``(Jw)ᵀ(w·r)``."""

    def __init__(self, x: np.ndarray):
        self.x = x

    def take(self, rows) -> _SigmoidRows:
        return _SigmoidRows(self.x[rows])

    def evaluate(self, theta, y, w, delta):
        yhat, J = _sig_rj(theta, self.x)
        r = yhat - y
        return r, np.moveaxis(J, -1, 0), ((r * w) ** 2).sum(1)

    def normal_equations(self, r, s, w, delta):
        Ja = np.moveaxis(s, 0, -1) * w[:, :, None]
        Jt = Ja.transpose(0, 2, 1)
        return (Jt @ (r * w)[..., None])[..., 0], Jt @ Ja


#: :func:`scaling.fit.optim.batch_lm`'s options for the sigmoids (an RSS, no Huber).
_LM_OPTIONS = {"tol": 1e-10, "lam0": 1e-3, "lam_min": 1e-10, "lam_max": 1e10,
               "damping": (1e-9, 0.0), "hold_at_bounds": False}


def _batch_sigmoid(theta0, x, y, mask, lo, hi, max_iter=200):
    """Levenberg–Marquardt from every row (curve × start) at once: ``(theta, rss)``."""
    theta, rss, _ = optim.batch_lm(_SigmoidRows(x), theta0, None, y, np.stack([lo, hi], -1),
                                   weights=mask, max_iter=max_iter, **_LM_OPTIONS)
    return theta, rss


def _starts(xmin, xmax, y_first, y_last, y_min, y_max):
    """Starts per curve: 5 midpoints across the observed range × 2 widths (ln-tokens)."""
    span = np.maximum(xmax - xmin, 1e-3)
    out = []
    for q in (0.1, 0.3, 0.5, 0.7, 0.9):
        for wf in (0.04, 0.15):
            m = xmin + q * span
            w = np.maximum(wf * span, GROK_MIN_WIDTH * 2)
            f0 = np.where(y_last >= y_first, y_min, y_max)
            c0 = np.where(y_last >= y_first, y_max, y_min)
            out.append(np.stack([f0, c0, m, np.log(w)], axis=1))
    return np.stack(out, axis=1)  # [C, K, 4]


def _bounds(xmin, xmax, ymin, ymax):
    span = np.maximum(xmax - xmin, 1e-3)
    yr = np.maximum(ymax - ymin, 1e-6)
    lo = np.stack([ymin - 2 * yr, ymin - 2 * yr, xmin - span,
                   np.full_like(xmin, np.log(GROK_MIN_WIDTH))], 1)
    hi = np.stack([ymax + 2 * yr, ymax + 2 * yr, xmax + span, np.log(2 * span)], 1)
    return lo, hi


# --------------------------------------------------------------------------- result


@dataclass
class GrokResult:
    """Per-curve sigmoid fits and verdicts. Build with :func:`fit_grok`.

    Attributes
    ----------
    curves : DataFrame
        One row per curve: curve, status, grokked, midpoint (tokens), width (ln-tokens),
        floor, ceiling, their stderr and ``level`` intervals (``*_lo``, ``*_hi``), r2,
        bic_flat, bic_linear, bic_sigmoid, n_points, warnings; plus ``recipe``/``skill``
        when the input had them.
    params : DataFrame
        Long form: curve, name, value, stderr, ci_low, ci_high.
    warnings : list of str
        Whole-fit warnings (dropped rows, curves that could not be fitted).
    """

    curves: pd.DataFrame
    level: float = 0.9
    warnings: list[str] = field(default_factory=list)
    cov: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def params(self) -> pd.DataFrame:
        rows = []
        for r in self.curves.itertuples():
            for p in PARAMS:
                rows.append({"curve": r.curve, "name": p, "value": getattr(r, p),
                             "stderr": getattr(r, f"{p}_se"), "ci_low": getattr(r, f"{p}_lo"),
                             "ci_high": getattr(r, f"{p}_hi")})
        return pd.DataFrame(rows, columns=["curve", "name", "value", "stderr", "ci_low",
                                           "ci_high"])

    def select(self, **equal) -> GrokResult:
        """The curves whose columns equal the given values, e.g. ``select(recipe="prose=1")``
        (to compare recipes with :func:`speedup`)."""
        keep = np.ones(len(self.curves), bool)
        for col, val in equal.items():
            if col not in self.curves.columns:
                raise FitError(f"no column {col!r} in the curves; columns: "
                               f"{', '.join(self.curves.columns)}")
            keep &= (self.curves[col] == val).to_numpy()
        cur = self.curves[keep].reset_index(drop=True)
        return GrokResult(curves=cur, level=self.level, warnings=list(self.warnings),
                          cov={k: v for k, v in self.cov.items() if k in set(cur["curve"])})

    def by_majority(self, *keys: str) -> GrokResult:
        """The curves with ``grokked`` kept only where more than half the curves of their
        group grok, e.g. ``by_majority("recipe", "skill")`` (a recipe's seeds on one skill):
        one early seed of three says little about when the recipe groks — the others'
        midpoints lie beyond their data — so :func:`speedup` then averages the midpoints of
        groups that grok and leaves the rest without one. ``status`` stays each curve's own
        verdict."""
        keys = keys or ("recipe", "skill")
        missing = [k for k in keys if k not in self.curves.columns]
        if missing:
            raise FitError(f"no column {missing[0]!r} in the curves; columns: "
                           f"{', '.join(self.curves.columns)}")
        share = self.curves.groupby(list(keys))["grokked"].transform("mean")
        cur = self.curves.assign(grokked=self.curves["grokked"] & (share > 0.5))
        return GrokResult(curves=cur, level=self.level, warnings=list(self.warnings),
                          cov=dict(self.cov))

    def _rows(self, curve, tokens):
        if isinstance(curve, pd.DataFrame):
            df = grok_columns(curve, need_value=False)
            curve, tokens = df["curve"].to_numpy(), df["tokens"].to_numpy(float)
        curve = np.atleast_1d(np.asarray(curve).astype(str))
        tokens = np.atleast_1d(np.asarray(tokens, float))
        curve = np.broadcast_to(curve, np.broadcast_shapes(curve.shape, tokens.shape))
        tokens = np.broadcast_to(tokens, curve.shape)
        known = self.curves.set_index("curve")
        missing = sorted(set(curve) - set(known.index))
        if missing:
            raise FitError(f"no fitted curve named {', '.join(missing[:5])}; fitted curves: "
                           f"{', '.join(known.index[:5])}{' …' if len(known) > 5 else ''}")
        return curve, tokens, known

    def predict(self, curve, tokens=None) -> np.ndarray:
        """Value of each named curve's fit at ``tokens`` (or at the rows of a frame).

        Curves without a sigmoid fit (too few points) predict NaN; tokens = 0 gives the
        floor (the sigmoid's limit at ln t → −∞).
        """
        curve, tokens, known = self._rows(curve, tokens)
        k = known.loc[curve]
        with np.errstate(divide="ignore"):
            return sigmoid_log(np.maximum(tokens, 1e-300), k["floor"].to_numpy(float),
                               k["ceiling"].to_numpy(float), k["midpoint"].to_numpy(float),
                               k["width"].to_numpy(float))

    def predict_interval(self, curve, tokens=None, level: float | None = None):
        """Delta-method interval of the fitted curve (parameter uncertainty) at ``tokens``."""
        level = self.level if level is None else level
        curve, tokens, known = self._rows(curve, tokens)
        mid = self.predict(curve, tokens)
        half = np.full(mid.shape, np.nan)
        x = np.log(np.maximum(tokens, 1e-300))
        for i, (c, xi) in enumerate(zip(curve, x, strict=True)):
            cov = self.cov.get(c)
            if cov is None:
                continue
            k = known.loc[c]
            th = np.array([[k["floor"], k["ceiling"], np.log(k["midpoint"]), np.log(k["width"])]])
            _, J = _sig_rj(th, np.array([[xi]]))
            g = J[0, 0]
            half[i] = two_sided_z(level) * np.sqrt(max(float(g @ cov @ g), 0.0))
        return mid - half, mid + half

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: ``{"curves": [{curve, grokked, midpoint, width, floor, ceiling, ci,
        r2, status, warnings, ...}], "warnings": [...]}``."""
        out = []
        for r in self.curves.to_dict("records"):
            d = {"curve": r["curve"], "grokked": bool(r["grokked"]), "status": r["status"]}
            for p in PARAMS:
                d[p] = _f(r[p])
            d["ci"] = {p: [_f(r[f"{p}_lo"]), _f(r[f"{p}_hi"])] for p in PARAMS}
            d["stderr"] = {p: _f(r[f"{p}_se"]) for p in PARAMS}
            d["r2"] = _f(r["r2"])
            d["bic"] = {"flat": _f(r["bic_flat"]), "linear": _f(r["bic_linear"]),
                        "sigmoid": _f(r["bic_sigmoid"])}
            d["n_points"] = int(r["n_points"])
            for extra in ("recipe", "skill"):
                if extra in r:
                    d[extra] = r[extra]
            d["warnings"] = list(r["warnings"])
            out.append(d)
        return {"curves": out, "level": self.level, "warnings": list(self.warnings)}

    def report(self) -> str:
        c = self.curves
        counts = c["status"].value_counts().to_dict()
        lines = [f"{len(c)} curves: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES)]
        extra = [k for k in ("recipe", "skill") if k in c.columns]
        show = c[["curve", *extra, "status", "midpoint", "midpoint_lo", "midpoint_hi",
                  "width", "floor", "ceiling", "r2"]]
        lines.append(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- fitting


def _bic(rss, n, k, scale, step):
    # floor the RSS: a perfectly constant curve must not make ln(0) decide the verdict, and no
    # model fits a curve measured in steps of `step` closer than its rounding error
    floor = np.maximum(1e-24 * np.maximum(scale, 1.0) ** 2, step ** 2 / 12) * n
    return n * np.log(np.maximum(rss, floor) / n) + k * np.log(n)


def _lmfit_one(x, y, start, lo, hi):
    import lmfit

    def model(x, floor, ceiling, log_midpoint, width):
        return sigmoid_log(np.exp(x), floor, ceiling, np.exp(log_midpoint), width)

    mod = lmfit.Model(model)
    pars = mod.make_params(floor=start[0], ceiling=start[1], log_midpoint=start[2],
                           width=np.exp(start[3]))
    pars["floor"].set(min=lo[0], max=hi[0])
    pars["ceiling"].set(min=lo[1], max=hi[1])
    pars["log_midpoint"].set(min=lo[2], max=hi[2])
    pars["width"].set(min=np.exp(lo[3]), max=np.exp(hi[3]))
    res = mod.fit(y, pars, x=x)
    v = res.params
    th = np.array([v["floor"].value, v["ceiling"].value, v["log_midpoint"].value,
                   np.log(v["width"].value)])
    return th, float(np.sum(res.residual ** 2))


@dataclass
class _Curves:
    """The curves of a frame as padded arrays, one row per curve (points with tokens > 0,
    in token order; a short curve's padding repeats its last point, with ``mask`` 0)."""

    names: list[str]
    n: np.ndarray         # points with tokens > 0 per curve
    x: np.ndarray         # ln tokens [C, nmax]
    y: np.ndarray         # values [C, nmax]
    mask: np.ndarray      # 1 on real points [C, nmax]
    step: np.ndarray      # measurement step (resolution) per curve; 0: continuous
    extras: dict[str, list[str]]  # recipe / skill of each curve, where the frame has them
    warnings: list[list[str]]     # per curve

    def stats(self, a: np.ndarray, fn, empty: float) -> np.ndarray:
        """``fn`` (np.min / np.max) of ``a`` over each curve's points; ``empty`` for none."""
        fill = np.inf if fn is np.min else -np.inf
        return np.where(self.n > 0, fn(np.where(self.mask > 0, a, fill), axis=1), empty)

    def mean_of(self, cols: np.ndarray) -> np.ndarray:
        """Mean value over the points where ``cols`` (a ``[C, nmax]`` mask) holds."""
        sel = cols & (self.mask > 0)
        return (self.y * sel).sum(1) / np.maximum(sel.sum(1), 1)


def _curves(frame: pd.DataFrame) -> tuple[_Curves, list[str]]:
    """Read and validate a ``curve, tokens, value`` frame: the curves and whole-fit warnings."""
    df = grok_columns(frame)
    warnings = []
    nan = df["value"].isna() | df["tokens"].isna()
    if nan.any():
        warnings.append(f"{int(nan.sum())} rows with missing tokens/value dropped")
        df = df[~nan]
    if df.empty:
        raise FitError("no curve has any complete row")
    names = list(dict.fromkeys(df["curve"]))
    C = len(names)
    code = pd.Categorical(df["curve"], categories=names).codes
    zero = (df["tokens"] <= 0).to_numpy()
    n_zero = np.bincount(code[zero], minlength=C)
    pos = df[~zero].assign(_c=code[~zero]).sort_values(["_c", "tokens"], kind="stable")
    ci = pos["_c"].to_numpy()
    n = np.bincount(ci, minlength=C)
    col = pos.groupby("_c", sort=False).cumcount().to_numpy()
    nmax = max(int(n.max()) if C else 1, 1)
    x, y, mask = np.zeros((C, nmax)), np.zeros((C, nmax)), np.zeros((C, nmax))
    x[ci, col] = np.log(pos["tokens"].to_numpy(float))
    y[ci, col] = pos["value"].to_numpy(float)
    mask[ci, col] = 1.0
    last = np.maximum(n - 1, 0)
    pad = mask == 0
    x = np.where(pad, x[np.arange(C), last][:, None], x)
    y = np.where(pad, y[np.arange(C), last][:, None], y)
    curve_warn = [[f"{int(z)} point(s) at tokens = 0 set aside (no log-token)"] if z else []
                  for z in n_zero]
    first_rows = df.drop_duplicates("curve").set_index("curve")
    extras = {e: [str(first_rows.loc[k, e]) for k in names]
              for e in ("recipe", "skill") if e in df.columns}
    step = (df.groupby("curve")["resolution"].max().reindex(names).fillna(0.0).to_numpy(float)
            if "resolution" in df.columns else np.zeros(C))  # validated > 0 by grok_columns
    return _Curves(names, n, x, y, mask, step, extras, curve_warn), warnings


def _simple_rss(cv: _Curves) -> tuple[np.ndarray, np.ndarray]:
    """RSS of the flat and the linear-in-log alternatives (closed form)."""
    x, y, mask = cv.x, cv.y, cv.mask
    cnt = np.maximum(cv.n, 1)
    ybar = (y * mask).sum(1) / cnt
    rss_flat = (((y - ybar[:, None]) * mask) ** 2).sum(1)
    xbar = (x * mask).sum(1) / cnt
    sxx = (((x - xbar[:, None]) * mask) ** 2).sum(1)
    sxy = ((x - xbar[:, None]) * (y - ybar[:, None]) * mask).sum(1)
    slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1), 0.0)
    rss_lin = (((y - ybar[:, None] - slope[:, None] * (x - xbar[:, None])) * mask) ** 2).sum(1)
    return rss_flat, rss_lin


def _fit_sigmoids(cv: _Curves, ranges, engine: str):
    """The sigmoid of every curve with enough points: ``(theta [C, 4], rss [C], lo, hi)``
    (NaN rows for the others). All curves × all starts take a few LM steps in one batch,
    each curve's best start continues to convergence; lmfit then confirms small sets."""
    xmin, xmax, ymin, ymax = ranges
    C, x, y, mask, n = len(cv.names), cv.x, cv.y, cv.mask, cv.n
    cols = np.arange(x.shape[1])[None, :]
    y_first = cv.mean_of(cols < 3)
    y_last = cv.mean_of(cols >= (n - 3)[:, None])
    st = _starts(xmin, xmax, y_first, y_last, ymin, ymax)
    K = st.shape[1]
    lo, hi = _bounds(xmin, xmax, ymin, ymax)
    theta, rss = np.full((C, 4), np.nan), np.full(C, np.nan)
    idx = np.flatnonzero(n >= MIN_POINTS)
    if not idx.size:
        return theta, rss, lo, hi
    R = lambda a: np.repeat(a[idx], K, 0)  # noqa: E731  (one row per curve × start)
    th, rs = _batch_sigmoid(st[idx].reshape(-1, 4), R(x), R(y), R(mask), R(lo), R(hi),
                            max_iter=8)
    rs = rs.reshape(len(idx), K)
    best = np.argmin(np.where(np.isfinite(rs), rs, np.inf), axis=1)
    th = th.reshape(len(idx), K, 4)[np.arange(len(idx)), best]
    theta[idx], rss[idx] = _batch_sigmoid(th, x[idx], y[idx], mask[idx], lo[idx], hi[idx])
    if engine == "lmfit" or (engine == "auto" and C <= 100):
        for i in idx:
            th_l, rs_l = _lmfit_one(x[i, :n[i]], y[i, :n[i]], theta[i], lo[i], hi[i])
            if rs_l <= rss[i] * (1 + 1e-9):
                theta[i], rss[i] = th_l, rs_l
    return theta, rss, lo, hi


def _verdict(n, bic_flat, bic_lin, bic_sig, theta, step, xmax, warn):
    """One curve's status (None below 3 points); reasons go to ``warn``."""
    if n < 3:
        warn.append("fewer than 3 points with tokens > 0: no verdict")
        return None
    sig = bic_sig < min(bic_flat, bic_lin) - STRONG_EVIDENCE
    if sig and step > 0:
        f_, c_ = theta[0], theta[1]
        noise = max(_binomial_sd(f_, step), _binomial_sd(c_, step))
        if abs(c_ - f_) < RESOLVABLE_SD * noise:
            sig = False
            warn.append(f"the sigmoid's rise {abs(c_ - f_):.3g} is within the noise of one "
                        f"evaluation on {1 / step:.0f} items (binomial sd {noise:.2g}): "
                        "not counted as a transition")
    if sig:
        return "grokked" if theta[2] <= xmax else "not_yet"
    return "not_yet" if bic_lin < bic_flat else "never"


def _sigmoid_estimates(th, x, rss, lo_width, z, status, warn):
    """Values, standard errors and intervals of one fitted sigmoid (normal approximation on
    the Gauss–Newton covariance; midpoint and width on the log scale): four dicts and the
    covariance."""
    vals = {"floor": th[0], "ceiling": th[1], "midpoint": float(np.exp(th[2])),
            "width": float(np.exp(th[3]))}
    J = _sig_rj(th[None, :], x[None, :])[1][0]
    s2 = rss / max(len(x) - 4, 1)
    try:
        cov = s2 * np.linalg.inv(J.T @ J)
    except np.linalg.LinAlgError:
        cov = np.full((4, 4), np.nan)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    se = {"floor": sd[0], "ceiling": sd[1], "midpoint": vals["midpoint"] * sd[2],
          "width": vals["width"] * sd[3]}
    with np.errstate(over="ignore"):
        lo_ci, hi_ci = ({"floor": th[0] + sgn * z * sd[0], "ceiling": th[1] + sgn * z * sd[1],
                         "midpoint": float(np.exp(th[2] + sgn * z * sd[2])),
                         "width": float(np.exp(th[3] + sgn * z * sd[3]))} for sgn in (-1, 1))
    if th[3] <= lo_width + 1e-6:
        warn.append("transition sharper than the checkpoint spacing resolves "
                    "(width at its lower bound)")
    if status == "grokked" and not np.all(np.isfinite(sd)):
        warn.append("midpoint interval undefined (singular fit)")
    return vals, se, lo_ci, hi_ci, cov


def fit_grok(frame: pd.DataFrame, level: float = 0.9, engine: str = "auto") -> GrokResult:
    """Fit every curve of a ``curve, tokens, value`` frame (see module docstring).

    Parameters
    ----------
    frame : DataFrame
        Columns ``curve``, ``tokens`` (≥ 0), ``value``; optional ``recipe``, ``skill``, and
        ``resolution`` (the step in which a curve's values are measured, e.g. 1/items).
    level : float
        Coverage of the reported intervals (normal approximation on the fit's covariance;
        the midpoint's interval is symmetric in ln-tokens).
    engine : {"auto", "numpy", "lmfit"}

    Returns
    -------
    GrokResult
    """
    if engine not in ("auto", "numpy", "lmfit"):
        raise FitError(f"unknown engine {engine!r}; use auto, numpy or lmfit")
    cv, warnings = _curves(frame)
    n, step = cv.n, cv.step
    ranges = (cv.stats(cv.x, np.min, 0.0), cv.stats(cv.x, np.max, 1.0),
              cv.stats(cv.y, np.min, 0.0), cv.stats(cv.y, np.max, 1.0))
    rss_flat, rss_lin = _simple_rss(cv)
    theta, rss_sig, lo, _ = _fit_sigmoids(cv, ranges, engine)
    ok = n >= MIN_POINTS
    for i in np.flatnonzero(~ok):
        cv.warnings[i].append(f"only {n[i]} points with tokens > 0; a sigmoid needs "
                              f"{MIN_POINTS}: no fit")

    scale = np.maximum(np.abs(ranges[3]), np.abs(ranges[2]))
    nn = np.maximum(n, 1)
    bic_flat = _bic(rss_flat, nn, 1, scale, step)
    bic_lin = _bic(rss_lin, nn, 2, scale, step)
    bic_sig = np.where(ok, _bic(np.where(ok, rss_sig, 1.0), nn, 4, scale, step), np.inf)

    rows = []
    covs: dict[str, np.ndarray] = {}
    z = two_sided_z(level)
    blank = dict.fromkeys(PARAMS, np.nan)
    for i, k in enumerate(cv.names):
        row: dict[str, Any] = {"curve": k, "n_points": int(n[i])}
        row.update({e: v[i] for e, v in cv.extras.items()})
        status = _verdict(n[i], bic_flat[i], bic_lin[i], bic_sig[i], theta[i], step[i],
                          ranges[1][i], cv.warnings[i])
        vals = se = lo_ci = hi_ci = blank
        if ok[i]:
            vals, se, lo_ci, hi_ci, covs[k] = _sigmoid_estimates(
                theta[i], cv.x[i, :n[i]], rss_sig[i], lo[i, 3], z, status, cv.warnings[i])
        for p in PARAMS:
            row[p], row[f"{p}_se"], row[f"{p}_lo"], row[f"{p}_hi"] = \
                vals[p], se[p], lo_ci[p], hi_ci[p]
        row["status"] = status
        row["grokked"] = status == "grokked"
        row["r2"] = (1 - rss_sig[i] / rss_flat[i]) if ok[i] and rss_flat[i] > 0 else np.nan
        row["bic_flat"], row["bic_linear"], row["bic_sigmoid"] = \
            bic_flat[i], bic_lin[i], bic_sig[i]
        row["warnings"] = cv.warnings[i]
        rows.append(row)
    n_unfit = int((~ok).sum())
    if n_unfit:
        warnings.append(f"{n_unfit} curve(s) had fewer than {MIN_POINTS} points with tokens > 0 "
                        "and got no sigmoid fit")
    return GrokResult(curves=pd.DataFrame(rows), level=level, warnings=warnings, cov=covs)


def fit_grok_curve(tokens, value, level: float = 0.9, engine: str = "lmfit") -> GrokResult:
    """Fit one curve given as arrays (a convenience over :func:`fit_grok`)."""
    t = np.asarray(tokens, float)
    return fit_grok(pd.DataFrame({"curve": "curve", "tokens": t,
                                  "value": np.asarray(value, float)}), level, engine)


# --------------------------------------------------------------------------- speed-up


def speedup(baseline: GrokResult, other: GrokResult, by: str = "skill",
            level: float = 0.9) -> pd.DataFrame:
    r"""Per-skill speed-up of ``other`` over ``baseline``: ratio of grokking midpoints.

    .. math:: s_k = t_{1/2}^{\mathrm{base}}(k) / t_{1/2}^{\mathrm{other}}(k)

    ``s > 1``: ``other`` groks skill ``k`` earlier. Midpoints of the grokked curves of a
    group (e.g. several seeds) are averaged in ln-tokens; the standard error combines each
    curve's fit stderr with the spread between curves, and the interval is
    ``exp(Δ ± z·se)``. ``by`` names the column that pairs curves (``skill`` from a run store;
    else ``curve``, so curves with the same name are compared). ``log_se_baseline`` and
    ``log_se_other`` are each side's standard error of its mean ln-midpoint (for a one-sided
    bound where only one side groks).
    """
    out = []
    z = two_sided_z(level)

    def stats(res):
        c = res.curves
        key = by if by in c.columns else "curve"
        c = c[c["grokked"]].copy()
        c["lm"] = np.log(c["midpoint"])
        c["lse"] = c["midpoint_se"] / c["midpoint"]
        res_ = {}
        for k, g in c.groupby(key):
            m = len(g)
            within = float(np.nansum(g["lse"] ** 2)) / m ** 2
            between = float(g["lm"].var(ddof=1)) / m if m > 1 else 0.0
            res_[k] = (float(g["lm"].mean()), np.sqrt(within + between), m)
        return res_

    a, b = stats(baseline), stats(other)
    for k in sorted(set(a) | set(b)):
        if k in a and k in b:
            d = a[k][0] - b[k][0]
            se = float(np.hypot(a[k][1], b[k][1]))
            out.append({by: k, "speedup": np.exp(d), "lower": np.exp(d - z * se),
                        "upper": np.exp(d + z * se), "midpoint_baseline": np.exp(a[k][0]),
                        "midpoint_other": np.exp(b[k][0]), "n_baseline": a[k][2],
                        "n_other": b[k][2], "log_se_baseline": a[k][1],
                        "log_se_other": b[k][1]})
        else:
            out.append({by: k, "speedup": np.nan, "lower": np.nan, "upper": np.nan,
                        "midpoint_baseline": np.exp(a[k][0]) if k in a else np.nan,
                        "midpoint_other": np.exp(b[k][0]) if k in b else np.nan,
                        "n_baseline": a[k][2] if k in a else 0,
                        "n_other": b[k][2] if k in b else 0,
                        "log_se_baseline": a[k][1] if k in a else np.nan,
                        "log_se_other": b[k][1] if k in b else np.nan})
    return pd.DataFrame(out)
