"""Loss laws: L(D) = E + B·D^-β (``power``) and L(N, D) = E + A/N^α + B/D^β (``chinchilla``).

Method (DESIGN.md; Hoffmann et al. 2022, Besiroglu et al. 2024): fit in log space as a
log-sum-exp, Huber loss (δ = 1e-3) on the log residuals, from the full grid of starts
(4,500 for ``chinchilla``) run as one vectorised batch (:mod:`scaling.fit.optim`), best few
polished with L-BFGS-B.

Intervals: bootstrap over *runs* (points are resampled in whole runs when run ids are given,
one point per "run" otherwise), percentile intervals. The samples are stretched about the
estimate by sqrt(G/(G−P)) (G runs, P parameters; the usual degrees-of-freedom correction,
since a bootstrap of a P-parameter fit under-disperses by that factor) — E on its natural scale,
the others on the internal one (log A, log B, exponents). Each resample starts from the
full-sample optimum and the next best distinct optima of the full-sample search (4 starts per
resample), all resamples in one batch (resampling = integer multiplicities on the points).

Identifiability: parameter correlations (bootstrap samples when there are any, else the
Gauss–Newton curvature) and warnings when α and β cannot be told apart on the design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ScalingError
from ..jsonsafe import finite_or_none as _f
from . import forms, optim

if TYPE_CHECKING:
    import pandas as pd

FORMS = tuple(forms.LAW_FORMS)


class FitError(ScalingError, ValueError):
    """The data cannot support the fit asked for (too few points, bad values, ...)."""


#: Share of the loss below which a law's term counts as absent at a point (its softmax weight
#: in the log-sum-exp): a term that is absent at every point is not identified.
VANISHING = 1e-6


def form_of(form: str) -> forms.LawForm:
    """The :class:`~scaling.fit.forms.LawForm` named ``form``; :class:`FitError` if unknown."""
    if form not in FORMS:
        raise FitError(f"unknown form {form!r}; known: {', '.join(FORMS)}")
    return forms.LAW_FORMS[form]


def two_sided_z(level: float) -> float:
    """The two-sided normal quantile of ``level`` (the stdlib's: scipy.stats takes ~1 s to
    import, in every worker process of a parallel command)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


#: The columns of :attr:`LawResult.estimates` (and of :attr:`LawResult.params` after ``name``).
ESTIMATE_COLUMNS = ("value", "stderr", "ci_low", "ci_high")


@dataclass
class LawResult:
    """A fitted loss law. Build with :func:`fit_law` or :func:`fit_law_frame`.

    The result holds arrays; :attr:`params`, :attr:`bootstrap`, :attr:`correlation` and
    :attr:`data` are the same numbers as pandas frames, built (and pandas imported) on first
    access, so that ``scaling fit law`` on a CSV never loads pandas (~0.25 s of a ~0.7 s command).

    Attributes
    ----------
    form : str
        ``chinchilla`` or ``power``.
    estimates : array ``[P, 4]``
        value, stderr, ci_low, ci_high (:data:`ESTIMATE_COLUMNS`) of each natural parameter,
        in the form's order (E, A, B, alpha, beta).
    corr : array ``[P, P]``
        Correlations of the internal parameters (ln E, ln A, ln B, alpha, beta).
    samples_natural : array ``[B, P]`` or None
        The bootstrap resamples' natural parameters.
    points : dict or None
        The fitted points: ``run, params, tokens, loss`` arrays.
    warnings : list of str
        Everything a user must know before trusting the numbers.
    """

    form: str
    theta: np.ndarray
    estimates: np.ndarray
    objective: float
    n_points: int
    n_runs: int
    level: float
    corr: np.ndarray
    warnings: list[str] = field(default_factory=list)
    samples_natural: np.ndarray | None = None
    cov: np.ndarray | None = None
    points: dict[str, np.ndarray] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # -- the same numbers as frames ----------------------------------------------------
    @cached_property
    def params(self) -> pd.DataFrame:
        """name, value, stderr, ci_low, ci_high (natural parameters E, A, B, alpha, beta)."""
        import pandas as pd

        return pd.DataFrame({"name": list(self.names),
                             **{c: self.estimates[:, j] for j, c in enumerate(ESTIMATE_COLUMNS)}})

    @cached_property
    def bootstrap(self) -> pd.DataFrame | None:
        """One row per resample, one column per natural parameter; None without resamples."""
        import pandas as pd

        if self.samples_natural is None:
            return None
        return pd.DataFrame(self.samples_natural, columns=list(self.names))

    @cached_property
    def correlation(self) -> pd.DataFrame:
        """:attr:`corr` labelled by the natural names."""
        import pandas as pd

        return pd.DataFrame(self.corr, index=list(self.names), columns=list(self.names))

    @cached_property
    def data(self) -> pd.DataFrame | None:
        """The fitted points: ``run, params, tokens, loss``."""
        import pandas as pd

        return None if self.points is None else pd.DataFrame(self.points)

    @property
    def n_bootstrap(self) -> int:
        """How many bootstrap resamples the intervals come from (0: none)."""
        return 0 if self.samples_natural is None else len(self.samples_natural)

    @property
    def alpha_beta_correlation(self) -> float:
        """Correlation of the α and β estimates (NaN for a form without α)."""
        if "alpha" not in self.names:
            return float("nan")
        return float(self.corr[self.names.index("alpha"), self.names.index("beta")])

    # -- values ----------------------------------------------------------------------
    @property
    def law_form(self) -> forms.LawForm:
        """The form's object: names, bounds, evaluation, inversion, floor."""
        return forms.law_form(self.form)

    @property
    def names(self) -> tuple[str, ...]:
        return self.law_form.names

    @property
    def values(self) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.names, self.estimates[:, 0], strict=True)}

    # -- parameters at the search bounds -------------------------------------------------
    def _internal(self, name: str, x: float) -> float:
        """A natural value on the fitted scale (ln E, ln A, ln B; exponents as they are)."""
        lf = self.law_form
        if np.isnan(x):
            return float("nan")
        if lf.internal[lf.names.index(name)] in ("e", "a", "b"):
            return float(np.log(x)) if x > 0 else -np.inf
        return float(x)

    def _param(self, name: str, column: str) -> float:
        """One entry of :attr:`estimates` (``column`` one of :data:`ESTIMATE_COLUMNS`)."""
        return float(self.estimates[self.names.index(name), ESTIMATE_COLUMNS.index(column)])

    def _bound_state(self, name: str) -> tuple[str | None, str]:
        lf = self.law_form
        k = lf.names.index(name)
        lb, ub = lf.bounds[k]
        span = ub - lb
        t = float(self.theta[k])
        at = "lower" if t - lb < 1e-6 * span else ("upper" if ub - t < 1e-6 * span else None)
        lo, hi = (self._internal(name, self._param(name, c)) for c in ("ci_low", "ci_high"))
        if np.isnan(lo) or np.isnan(hi):
            return at, "none"
        tol = 1e-4 * span  # interval ends within this of a bound are the bound (stretch, E)
        lo_b = at == "lower" or lo <= lb + tol
        hi_b = at == "upper" or hi >= ub - tol
        if (lo_b and hi_b) or (at == "lower" and hi <= lb + tol) or \
                (at == "upper" and lo >= ub - tol):
            return at, "unbounded"
        return at, "upper-only" if lo_b else ("lower-only" if hi_b else "two-sided")

    @property
    def at_bound(self) -> dict[str, str]:
        """``{name: "lower" | "upper"}`` for every parameter whose estimate sits at a bound of
        the search (:attr:`scaling.fit.forms.LawForm.bounds`): the data do not pin it down."""
        return {k: at for k in self.names if (at := self._bound_state(k)[0])}

    @property
    def ci_kind(self) -> dict[str, str]:
        """What each parameter's interval bounds: ``two-sided``; ``upper-only`` (its lower end
        is the search bound, so only "≤ ci_high" is said), ``lower-only`` (only "≥ ci_low");
        ``unbounded`` (estimate and resamples at the bound: no interval); ``none`` (no
        interval computed)."""
        return {k: self._bound_state(k)[1] for k in self.names}

    def value_text(self, name: str, digits: int = 3) -> str:
        """``"0.72"`` or ``"3 (at upper bound)"``."""
        v = self._param(name, "value")
        at = self._bound_state(name)[0]
        return f"{v:.{digits}g}" + (f" (at {at} bound)" if at else "")

    def interval_text(self, name: str, digits: int = 3) -> str:
        """The interval as it may be read: ``[lo, hi]``, ``≤ hi`` / ``≥ lo`` (one-sided), or
        ``no interval`` (never a zero-width ``[b, b]`` at a bound)."""
        lo, hi = self._param(name, "ci_low"), self._param(name, "ci_high")
        at, kind = self._bound_state(name)
        if kind == "unbounded":
            return f"no interval (at its {at or 'search'} bound)"
        if kind == "none":
            return "no interval"
        if kind == "upper-only":
            return f"≤ {hi:.{digits}g} (one-sided)"
        if kind == "lower-only":
            return f"≥ {lo:.{digits}g} (one-sided)"
        return f"[{lo:.{digits}g}, {hi:.{digits}g}]"

    def _xy(self, x: tuple) -> tuple[np.ndarray | None, np.ndarray]:
        if len(x) == 1 and hasattr(x[0], "columns"):  # a frame
            from ..tables import law_columns

            sized = self.law_form.uses_size
            df = law_columns(x[0], need_loss=False, need_params=sized)
            return (df["params"].to_numpy(float) if sized else None,
                    df["tokens"].to_numpy(float))
        if self.law_form.uses_size:
            if len(x) != 2:
                raise TypeError("chinchilla predict takes (N, D) or a frame with params, tokens")
            return np.asarray(x[0], float), np.asarray(x[1], float)
        if len(x) != 1:
            raise TypeError("power predict takes (D) or a frame with a tokens column")
        return None, np.asarray(x[0], float)

    def predict(self, *x) -> np.ndarray:
        """Loss at ``(N, D)`` (chinchilla) or ``D`` (power), or at the rows of a frame."""
        N, D = self._xy(x)
        return self.law_form.loss(self.values, N, D)

    def samples(self) -> dict[str, np.ndarray]:
        """Bootstrap samples as column vectors ``[B, 1]`` (broadcast against inputs)."""
        if not self.n_bootstrap:
            raise FitError("this fit has no bootstrap samples; refit with bootstrap > 0")
        return {k: self.samples_natural[:, j, None] for j, k in enumerate(self.names)}

    def predict_interval(self, *x, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``level`` (default: the fit's) interval of the fitted mean loss at the inputs.

        Bootstrap percentiles when the fit has samples, else the delta method on the
        Gauss–Newton covariance. It covers parameter uncertainty, not the scatter of a
        single new run around the law.
        """
        level = self.level if level is None else level
        N, D = self._xy(x)
        shape = np.broadcast_shapes(np.shape(D), () if N is None else np.shape(N))
        if self.n_bootstrap:
            s = self.samples()
            Nf = None if N is None else np.broadcast_to(N, shape).ravel()[None, :]
            Df = np.broadcast_to(D, shape).ravel()[None, :]
            pred = self.law_form.loss(s, Nf, Df)
            lo, hi = np.nanquantile(pred, [(1 - level) / 2, (1 + level) / 2], axis=0)
            return lo.reshape(shape), hi.reshape(shape)
        mid = self.predict(*x)
        if self.cov is None:
            return np.full(shape, np.nan), np.full(shape, np.nan)
        # delta method in log space: d ln L / d theta = LSE softmax weights (the Jacobian).
        Nf = np.ones(shape) if N is None else np.broadcast_to(N, shape)
        X = optim.design(self.form, Nf.ravel(), np.broadcast_to(D, shape).ravel())
        _, J = optim.residuals_jacobian(self.form, self.theta[None, :], X, np.zeros(len(X)))
        var = np.einsum("np,pq,nq->n", J[0], self.cov, J[0])
        half = two_sided_z(level) * np.sqrt(np.maximum(var, 0)).reshape(shape)
        return mid * np.exp(-half), mid * np.exp(half)

    # -- inversion -------------------------------------------------------------------
    def invert(self, L, N=None) -> np.ndarray:
        """Tokens ``D`` at which the law reaches loss ``L`` (at size ``N`` for chinchilla).

        Closed form ``D = (B / (L − E − A/N^α))^(1/β)``; ``inf`` where ``L`` is below the
        reachable floor. Vectorised over ``L`` and ``N``.
        """
        return self.law_form.invert(self.values, L, N)

    def invert_samples(self, L, N=None) -> np.ndarray:
        """:meth:`invert` for every bootstrap sample: array ``[B, *broadcast(L, N)]``."""
        s = self.samples()
        L = np.asarray(L, float)
        shape = np.broadcast_shapes(L.shape, () if N is None else np.shape(N))
        Lf = np.broadcast_to(L, shape).ravel()[None, :]
        Nf = None if N is None else np.broadcast_to(np.asarray(N, float), shape).ravel()[None, :]
        out = self.law_form.invert(s, Lf, Nf)
        return out.reshape((self.n_bootstrap,) + shape)

    # -- reporting -------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: ``form, params, ci, n_points, objective`` (+ stderr, warnings…)."""
        p = self._param
        return {
            "form": self.form,
            "params": {k: p(k, "value") for k in self.names},
            "ci": {k: [_f(p(k, "ci_low")), _f(p(k, "ci_high"))] for k in self.names},
            "stderr": {k: _f(p(k, "stderr")) for k in self.names},
            "level": self.level,
            "n_points": int(self.n_points),
            "n_runs": int(self.n_runs),
            "objective": float(self.objective),
            "bootstrap": self.n_bootstrap,
            "correlation": {k: {j: _f(self.corr[a, b]) for b, j in enumerate(self.names)}
                            for a, k in enumerate(self.names)},
            "correlation_of": "ln E, ln A, ln B, alpha, beta (fitted parameterisation)",
            "warnings": list(self.warnings),
            "at_bound": self.at_bound,
            "ci_kind": self.ci_kind,
            **{k: v for k, v in self.meta.items() if k in ("recipe", "domain", "points")},
        }

    def report(self) -> str:
        """Human-readable table of the fit."""
        head = (f"{self.form} law fitted to {self.n_points} points from {self.n_runs} runs "
                f"(Huber objective {self.objective:.4g})")
        if self.meta.get("recipe"):
            head += f"; recipe {self.meta['recipe']}"
        lines = [head]
        pct = int(round(self.level * 100))
        lines.append(f"{'param':>6} {'value':>12} {'stderr':>10}   {pct}% interval")
        for name in self.names:
            at, kind = self._bound_state(name)
            lines.append(f"{name:>6} {self._param(name, 'value'):12.5g} "
                         f"{self._param(name, 'stderr'):10.3g}   "
                         f"{self.interval_text(name, 5)}"
                         + (f"   (at {at} bound)" if at and kind != "unbounded" else ""))
        if self.law_form.uses_size:
            lines.append(f"corr(alpha, beta) = {self.alpha_beta_correlation:+.2f}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- fitting


def _check_inputs(form, N, D, L, runs):
    sized = form_of(form).uses_size
    D = np.asarray(D, float).ravel()
    L = np.asarray(L, float).ravel()
    N = np.ones_like(D) if (not sized and N is None) else np.asarray(N, float).ravel()
    if not (len(N) == len(D) == len(L)):
        raise FitError(f"N, D and L must have the same length (got {len(N)}, {len(D)}, {len(L)})")
    runs = (np.arange(len(D)).astype(str) if runs is None
            else np.asarray(runs).astype(str).ravel())
    if len(runs) != len(D):
        raise FitError("runs must have one entry per point")
    warnings = []
    nan = np.isnan(N) | np.isnan(D) | np.isnan(L)
    if nan.any():
        warnings.append(f"{int(nan.sum())} points with missing values dropped")
        N, D, L, runs = N[~nan], D[~nan], L[~nan], runs[~nan]
    for name, v in (("params (N)", N), ("tokens (D)", D), ("loss", L)):
        bad = ~(v > 0) | ~np.isfinite(v)
        if bad.any():
            rows = ", ".join(map(str, np.flatnonzero(bad)[:8]))
            raise FitError(f"{name} must be finite and > 0; points {rows} are not "
                           "(drop them or fix the table)")
    n_par = len(form_of(form).names)
    if len(L) <= n_par:
        raise FitError(f"the {form} law has {n_par} parameters but only {len(L)} points were "
                       f"given; need at least {n_par + 1}")
    if sized and len(np.unique(N)) < 2:
        raise FitError("a chinchilla fit needs at least 2 model sizes (A and E cannot be told "
                       "apart from one); use form='power' (--form power) for one size")
    if len(np.unique(D)) < 3:
        raise FitError(f"need at least 3 distinct token counts to fit B and beta; got "
                       f"{len(np.unique(D))}")
    return N, D, L, runs, warnings


def _correlation(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    c = cov / np.outer(sd, sd)
    return np.clip(c, -1, 1)


def _stretch(form: str, theta: np.ndarray, boot: np.ndarray, c: float,
             bounds: np.ndarray) -> np.ndarray:
    """Bootstrap samples stretched by ``c`` about the estimate ``theta``: on the internal
    scale (log A, log B, the exponents), but on the natural scale for E, which adds to the
    loss. On the log scale an estimate at E's lower bound (e = −10, "E not identified") would
    turn a resample's E = 0.45 into 7.7, a law above every observed loss."""
    out = theta + c * (boot - theta)
    k = form_of(form).e_index
    E0, Eb = np.exp(theta[k]), np.exp(boot[:, k])
    out[:, k] = np.log(np.maximum(E0 + c * (Eb - E0), np.exp(bounds[k][0])))
    return out


def _gauss_newton_cov(form: str, theta: np.ndarray, X: np.ndarray, logL: np.ndarray):
    """Least-squares covariance ``s²·(JᵀJ)⁺`` at the optimum, and the Jacobian ``J``."""
    r, J = optim.residuals_jacobian(form, theta[None, :], X, logL)
    r, J = r[0], J[0]
    P = len(theta)
    s2 = float(r @ r) / max(len(r) - P, 1)
    try:
        cov = s2 * np.linalg.pinv(J.T @ J)
    except np.linalg.LinAlgError:
        cov = np.full((P, P), np.nan)
    return cov, J


def _optimum_warnings(lf: forms.LawForm, theta, bounds, J, info) -> tuple[list[str], list[int]]:
    """Warnings about the optimum (parameters at a bound, terms that vanish at every point,
    no convergence) and the parameters left unidentified (no interval)."""
    warnings = []
    span = bounds[:, 1] - bounds[:, 0]
    at_bound = (np.abs(theta - bounds[:, 0]) < 1e-6 * span) | \
               (np.abs(theta - bounds[:, 1]) < 1e-6 * span)
    for k in np.flatnonzero(at_bound):
        warnings.append(
            f"{lf.names[k]} sits at its bound ({lf.internal[k]} in "
            f"[{bounds[k, 0]:g}, {bounds[k, 1]:g}]); the data do not pin it down")
    # a term below VANISHING of the loss at every point pins neither its coefficient nor its
    # exponent: the objective is flat along them, and the delta method (a zero Jacobian
    # column) would call their interval a point
    unidentified = []
    for ci, ei, _ in lf.terms:
        if J[:, ci].max() < VANISHING:
            unidentified += [ci, ei]
            warnings.append(
                f"the {lf.names[ci]}/{lf.names[ei]} term is below {VANISHING:g} of the loss at "
                f"every point: {lf.names[ci]} and {lf.names[ei]} are not identified (no "
                "interval)")
    # L-BFGS-B often ends with a line-search "abnormal" at a Huber optimum (the objective is
    # only C1); the batched LM's own stopping rule (no further decrease) then decides.
    res = info["result"]
    if not (info["converged_lm"][info["best"]] or (res is not None and res.success)):
        why = "the solver's step limit" if res is None else res.message
        warnings.append(f"optimiser did not converge ({why}); treat the fit as rough")
    return warnings, unidentified


def _bootstrap(form, theta, fbest, info, X, logL, bounds, runs, bootstrap, seed, delta,
               warnings) -> np.ndarray:
    """Internal parameters of ``bootstrap`` resamples over runs ``[B, P]`` (stretched; see
    the module docstring), all resamples in one batch: multiplicities per point, each
    resample started from the estimate and the next distinct optima of the search."""
    P = len(theta)
    rng = np.random.default_rng(seed)
    uniq, inv = np.unique(runs, return_inverse=True)
    G = len(uniq)
    if G < 3:
        warnings.append(f"only {G} runs: the bootstrap over runs cannot resolve uncertainty")
    draws = rng.integers(0, G, size=(bootstrap, G))
    counts = np.zeros((bootstrap, G))
    np.add.at(counts, (np.repeat(np.arange(bootstrap), G), draws.ravel()), 1.0)
    W = counts[:, inv]  # [B, n]
    # the estimate and the next distinct optima of the search (the LM's best is usually
    # the estimate itself, before polishing: one start, not two)
    cand = np.vstack([theta[None, :], info["theta"]])
    starts0 = cand[optim.distinct_best(cand, np.r_[fbest, info["f"]], 4, tol=1e-2)]
    K = len(starts0)
    th_b, f_b, _ = optim.batch_lm_chunked(form, np.tile(starts0, (bootstrap, 1)), X, logL,
                                          bounds, weights=np.repeat(W, K, axis=0),
                                          delta=delta, max_iter=400, tol=optim.BOOTSTRAP_TOL)
    f_b = np.where(np.isfinite(f_b), f_b, np.inf).reshape(bootstrap, K)
    pick = np.argmin(f_b, axis=1)
    boot = th_b.reshape(bootstrap, K, P)[np.arange(bootstrap), pick]
    # Degrees-of-freedom correction: the bootstrap spread of a P-parameter fit to G
    # independent runs underestimates the sampling spread by about sqrt((G-P)/G), so the
    # samples are stretched about the estimate by sqrt(G/(G-P)).
    if G > P + 1:
        boot = _stretch(form, theta, boot, np.sqrt(G / (G - P)), bounds)
    return boot


def _intervals(lf: forms.LawForm, theta, values, cov, boot_internal, level, unidentified):
    """Standard errors, ``level`` intervals and correlations: bootstrap percentiles when there
    are samples, else the delta method. Returns ``(natural samples [B, P] or None, stderr,
    lo, hi, correlation [P, P])``."""
    a = (1 - level) / 2
    if boot_internal is not None:
        bn = lf.to_natural(boot_internal)
        boot = np.stack([bn[k] for k in lf.names], axis=1)
        with np.errstate(invalid="ignore"):  # (a resample's NaN is left out, as pandas does)
            stderr = np.nanstd(boot, axis=0, ddof=1)
            lo, hi = np.nanquantile(boot, [a, 1 - a], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):  # a parameter fixed at a bound
            corr = np.corrcoef(boot_internal.T) if len(boot_internal) > 2 \
                else _correlation(cov)
    else:
        boot = None
        se_int = np.sqrt(np.clip(np.diag(cov), 0, None))
        z = two_sided_z(level)
        lo_i, hi_i = theta - z * se_int, theta + z * se_int
        is_log = np.array([n in ("e", "a", "b") for n in lf.internal])
        stderr = np.where(is_log, values * se_int, se_int)
        with np.errstate(over="ignore"):  # an unbounded interval is inf, said as such
            lo = np.where(is_log, np.exp(lo_i), lo_i)
            hi = np.where(is_log, np.exp(hi_i), hi_i)
        corr = _correlation(cov)
    corr = np.nan_to_num(corr, nan=0.0)
    if unidentified:
        stderr, lo, hi = (np.array(v, float) for v in (stderr, lo, hi))
        stderr[unidentified] = lo[unidentified] = hi[unidentified] = np.nan
    return boot, stderr, lo, hi, corr


def _design_warnings(lf: forms.LawForm, X, corr, values, lo, hi, level,
                     bootstrapped: bool) -> list[str]:
    """Warnings about what the design can tell apart: α and β, and exponents whose interval
    is wider than the value itself."""
    warnings = []
    if lf.uses_size:
        design_corr = np.corrcoef(X[:, 0], X[:, 1])[0, 1] if np.std(X[:, 0]) > 0 and \
            np.std(X[:, 1]) > 0 else 0.0
        rho = float(corr[lf.names.index("alpha"), lf.names.index("beta")])
        if abs(design_corr) > 0.98:
            warnings.append(
                f"alpha and beta are not separable on this design: ln N and ln D move together "
                f"(correlation {design_corr:+.3f}, e.g. a fixed tokens-per-parameter ratio); "
                "add runs with several budgets per size")
        elif abs(rho) > 0.95:
            warnings.append(
                f"alpha and beta are not separable on this design: their estimates are "
                f"correlated {rho:+.2f}; add sizes or budgets")
    if bootstrapped:
        wide = [k for k, v, l_, h_ in zip(lf.names, values, lo, hi, strict=True)
                if k in ("alpha", "beta") and (h_ - l_) > max(1.0, 2 * abs(v))]
        for k in wide:
            warnings.append(f"{k} is poorly determined: its {int(level * 100)}% interval is wider"
                            " than the value itself")
    return warnings


def fit_law(N, D, L, runs=None, form: str = "chinchilla", bootstrap: int = 0, seed: int = 0,
            level: float = 0.9, delta: float = optim.HUBER_DELTA,
            starts: np.ndarray | None = None) -> LawResult:
    r"""Fit a loss law to points ``(N_i, D_i, L_i)``.

    .. math:: \min_\theta \sum_i \mathrm{Huber}_\delta\big(\mathrm{LSE}(a-\alpha\ln N_i,
              b-\beta\ln D_i, e) - \ln L_i\big)

    Parameters
    ----------
    N, D, L : array-like
        Non-embedding parameters, tokens, loss (all > 0). ``N`` may be None for ``power``.
    runs : array-like, optional
        Run id of each point; the bootstrap resamples whole runs. Without it every point is
        its own run.
    form : {"chinchilla", "power"}
    bootstrap : int
        Number of bootstrap resamples (0: intervals from the Gauss–Newton covariance).
    seed : int
        Seed of the bootstrap.
    level : float
        Coverage of the reported intervals (default 0.9).
    delta : float
        Huber δ on log residuals (1e-3, as in Hoffmann et al.).
    starts : array ``[S, P]``, optional
        Internal parameter rows to start from instead of the form's grid: a *refit* of a law
        on part of its points, warm-started from the full fit (as the joint law's nested
        backtests do).

    Returns
    -------
    LawResult
    """
    N, D, L, runs, warnings = _check_inputs(form, N, D, L, runs)
    lf = form_of(form)
    bounds = np.array(lf.bounds, float)
    X = optim.design(form, N, D)
    logL = np.log(L)
    grid = lf.start_grid() if starts is None else np.atleast_2d(np.asarray(starts, float))
    theta, fbest, info = optim.multistart(form, grid, X, logL, bounds, delta=delta)
    cov, J = _gauss_newton_cov(form, theta, X, logL)
    more, unidentified = _optimum_warnings(lf, theta, bounds, J, info)
    warnings += more
    boot_internal = (_bootstrap(form, theta, fbest, info, X, logL, bounds, runs, bootstrap,
                                seed, delta, warnings) if bootstrap and bootstrap > 0 else None)
    nat = lf.to_natural(theta)
    values = np.array([float(nat[k]) for k in lf.names])
    boot, stderr, lo, hi, corr = _intervals(lf, theta, values, cov, boot_internal, level,
                                            unidentified)
    warnings += _design_warnings(lf, X, corr, values, lo, hi, level, boot is not None)
    estimates = np.stack([values, stderr, lo, hi], axis=1).astype(float)
    return LawResult(form=form, theta=theta, estimates=estimates, objective=fbest,
                     n_points=len(L), n_runs=len(np.unique(runs)), level=level,
                     corr=corr, warnings=warnings, samples_natural=boot, cov=cov,
                     points={"run": runs, "params": N, "tokens": D, "loss": L},
                     meta={"n_starts": info["n_starts"]})
