r"""Joint multi-recipe loss law: recipes as effective-data multipliers on one baseline law.

Form. For recipes r = 0 (the baseline), 1, …, R−1 of one grid,

.. math:: L_r(N, D) = E_r + \frac{A}{N^{\alpha}} + \frac{B}{(k_r(N)\,D)^{\beta_r}},
          \qquad k_r(N) = k_r\,(N / N_{ref})^{\gamma_r},

with :math:`k_0 = 1, \gamma_0 = 0`. The model-size term (A, α) and B are shared by every
recipe; the data effect of a recipe is one parameter, its effective-data multiplier
:math:`k_r` (a token of r is worth :math:`k_r` baseline tokens), with an optional trend
:math:`\gamma_r` in model size. ``E`` and ``β`` are either shared or free per recipe, and
:math:`\gamma_r` is either free or fixed at 0: the eight *variants*. ``N_ref`` is the geometric
mean of the grid's sizes (so :math:`k_r` and :math:`\gamma_r` are nearly uncorrelated);
:math:`k_r N^{\gamma_r}` in the form :math:`k_r(N) = k_r' N^{\gamma_r}` has
:math:`k_r' = k_r N_{ref}^{-\gamma_r}`.

Savings. With E and β shared, :math:`L_r(N, s D_b) = L_0(N, D_b)` gives the closed form

.. math:: s_r(N) = 1 / k_r(N) = k_r^{-1} (N/N_{ref})^{-\gamma_r},

the same at every baseline budget. Otherwise :math:`D_r` comes from inverting
:math:`L_r(N, \cdot)` at the baseline's loss (``inf`` when it is below r's floor).

Fitting. Internally every term of the log-sum-exp is *linear* in the parameters,

.. math:: \ln L_i = \mathrm{LSE}\big(a - \alpha \ln N_i,\;
          b + c_{r_i} + g_{r_i} (\ln N_i - \ln N_{ref}) - \beta_{r_i} \ln D_i,\; e_{r_i}\big),

with :math:`c_r = -\beta_r \ln k_r` and :math:`g_r = -\beta_r \gamma_r`; the objective is the
Chinchilla one (Huber δ = 1e-3 on log residuals) and the solver is the batched
Levenberg–Marquardt of :mod:`scaling.fit.optim` (:class:`JointStructure` gives it the
residuals and normal equations). The all-shared variant starts from the Besiroglu et al.
grid of the shared parameters (4,500 starts, with every recipe at :math:`k_r = 1`); the other
variants start from its best distinct optima (a nested model started at the simpler model's
optimum is never worse than it), and the best start is polished with L-BFGS-B.

Choice of variant. Leave-largest-size-out cross-validation: each variant is refitted without
the grid's largest size and scored by the RMS log error of that size's losses; the variant
scores within :data:`CV_SE` (2) standard errors of the lowest are *admissible*, and the
simplest admissible one is used (the standard-error rule: a richer variant must predict the
held-out size better by more than the score's noise); the admissible variants' spread is a part of the
interval (:mod:`scaling.predict.joint`). With fewer than 4 sizes the reduced grid cannot be fitted and
the choice is by AIC on the full fit (Gaussian log residuals, the number of runs as the sample
size: a run's points share its seed effect): the simplest variant within 2 of the lowest AIC. The choice and the scores are
reported (:attr:`JointResult.selection`).

Intervals. Paired bootstrap over runs: the runs of all recipes are grouped into *cells* (same
size and budget; the j-th seed of one recipe pairs with the j-th of another), cells are
resampled with replacement within each size (across sizes when a size has a single cell), and
one resample is used for all recipes at once,
so the baseline's noise enters every recipe's multiplier the same way it enters the data. The
samples are stretched by sqrt(G/(G−P)) (G runs, P parameters) as in :mod:`scaling.fit.laws`.

Assumptions and when the form does not apply.

- A recipe changes how much each token is worth, not how loss falls with model size: the
  size term is shared. A recipe that changes the architecture's efficiency (the A/N^α term)
  is outside the form.
- With E shared, a recipe cannot change the irreducible loss. A recipe that changes the
  floor (a different target distribution, e.g. a domain the baseline never sees) needs the
  E-free variants; when the floors differ, the savings depend on the budget and can be
  infinite (the recipe never reaches a loss below its floor).
- :math:`k_r(N)` is a power of N: a data effect that vanishes at one size and reverses at
  another, or that bends in N, is only approximated over the grid's span and extrapolated as a
  power. The extrapolation widening of :mod:`scaling.predict.joint` measures how well that
  held on the grid itself.
- Each recipe needs runs at ≥ 2 sizes for γ_r to be fitted (the trend variants are dropped
  otherwise) and ≥ 3 for the trend to be checked at all; fewer are warned about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize, nnls

from ..jsonsafe import finite_or_none as _f
from . import forms, optim
from .laws import FitError

#: A variant is admissible when its leave-largest-size-out score is within this many standard
#: errors of the best (the held-out size has only a few dozen points, so one standard error
#: rejected the true, simplest variant of simulated one-seed grids now and then).
CV_SE = 2.0

#: Search box of each kind of internal parameter (natural scale for exponents).
BOUNDS = {"e": (-10.0, 5.0), "a": (-10.0, 60.0), "alpha": (0.0, 3.0), "b": (-10.0, 60.0),
          "beta": (0.0, 3.0), "c": (-30.0, 30.0), "g": (-5.0, 5.0)}


@dataclass(frozen=True)
class Variant:
    """Which parameters are shared: ``E``, ``β`` shared or per recipe; ``γ`` free or 0."""

    shared_E: bool = True
    shared_beta: bool = True
    trend: bool = False

    @property
    def name(self) -> str:
        return (f"E {'shared' if self.shared_E else 'per recipe'}, beta "
                f"{'shared' if self.shared_beta else 'per recipe'}, gamma "
                f"{'free' if self.trend else '0'}")

    @property
    def complexity(self) -> int:
        return int(not self.shared_E) + int(not self.shared_beta) + int(self.trend)


#: Every variant, simplest first.
VARIANTS = tuple(sorted((Variant(e, b, t) for e in (True, False) for b in (True, False)
                         for t in (False, True)), key=lambda v: (v.complexity, v.name)))


def parse_variant(text: str) -> Variant:
    """``"shared"`` (all shared, γ = 0), ``"trend"`` (all shared, γ free), or a comma list of
    ``E``, ``beta``, ``gamma`` naming what is free per recipe (``"beta,gamma"``)."""
    t = text.strip().lower()
    if t == "shared":
        return Variant()
    if t == "trend":
        return Variant(trend=True)
    parts = {p.strip() for p in t.split(",") if p.strip()}
    bad = parts - {"e", "beta", "gamma"}
    if bad or not parts:
        raise FitError(f"unknown joint-law variant {text!r}; use 'shared', 'trend' or a comma "
                       "list of E, beta, gamma (what is free per recipe)")
    return Variant("e" not in parts, "beta" not in parts, "gamma" in parts)


class _Layout:
    """Parameter names, bounds and the linear design of one variant on one set of points."""

    def __init__(self, recipes: list[str], variant: Variant):
        self.recipes, self.variant = list(recipes), variant
        R = len(recipes)
        names: list[str] = ["e"] if variant.shared_E else [f"e:{r}" for r in recipes]
        names += ["a", "alpha", "b"]
        names += ["beta"] if variant.shared_beta else [f"beta:{r}" for r in recipes]
        names += [f"c:{r}" for r in recipes[1:]]
        if variant.trend:
            names += [f"g:{r}" for r in recipes[1:]]
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        self.bounds = np.array([BOUNDS[n.split(":")[0]] for n in names], float)
        self.R = R

    def idx(self, kind: str, r: int) -> int | None:
        """Index of parameter ``kind`` (e, beta, c, g) for recipe number ``r``; None if 0."""
        rec = self.recipes[r]
        if kind in ("e", "beta"):
            shared = self.variant.shared_E if kind == "e" else self.variant.shared_beta
            return self.index[kind if shared else f"{kind}:{rec}"]
        return self.index.get(f"{kind}:{rec}") if r > 0 else None

    def design(self, ri: np.ndarray, lN: np.ndarray, lD: np.ndarray, lN0: float) -> np.ndarray:
        """``Z [3, n, P]``: term k at point i is ``Z[k, i] @ theta`` (size, data, floor)."""
        n, P = len(ri), len(self.names)
        Z = np.zeros((3, n, P))
        Z[0, :, self.index["a"]] = 1.0
        Z[0, :, self.index["alpha"]] = -lN
        Z[1, :, self.index["b"]] = 1.0
        for r in range(self.R):
            m = ri == r
            Z[1, m, self.idx("beta", r)] = -lD[m]
            Z[2, m, self.idx("e", r)] = 1.0
            if (j := self.idx("c", r)) is not None:
                Z[1, m, j] = 1.0
            if (j := self.idx("g", r)) is not None:
                Z[1, m, j] = lN[m] - lN0
        return Z

    def embed(self, other: _Layout, theta: np.ndarray) -> np.ndarray:
        """Rows of ``theta`` (``other``'s layout) in this layout: a shared value goes to every
        recipe's copy, a per-recipe value's mean to a shared one, an absent trend is 0."""
        theta = np.atleast_2d(theta)
        out = np.zeros((len(theta), len(self.names)))
        for j, n in enumerate(self.names):
            kind, _, rec = n.partition(":")
            if n in other.index:
                out[:, j] = theta[:, other.index[n]]
            elif kind in ("e", "beta") and kind in other.index:
                out[:, j] = theta[:, other.index[kind]]
            elif kind in ("e", "beta"):
                cols = [other.index[f"{kind}:{r}"] for r in other.recipes]
                out[:, j] = theta[:, cols].mean(axis=1)
        return np.clip(out, self.bounds[:, 0], self.bounds[:, 1])

    def recipe_params(self, theta: np.ndarray, r: int) -> dict[str, np.ndarray]:
        """Internal e, a, alpha, b (+ c_r), g, beta of recipe number ``r`` for rows ``theta``."""
        th = np.atleast_2d(theta)
        c = self.idx("c", r)
        g = self.idx("g", r)
        return {"e": th[:, self.idx("e", r)], "a": th[:, self.index["a"]],
                "alpha": th[:, self.index["alpha"]],
                "b": th[:, self.index["b"]] + (th[:, c] if c is not None else 0.0),
                "g": th[:, g] if g is not None else np.zeros(len(th)),
                "beta": th[:, self.idx("beta", r)]}


class JointStructure:
    """Residuals and normal equations of a log-sum-exp of terms linear in the parameters,
    in the interface :func:`scaling.fit.optim.batch_lm` expects of its structures.

    ``Z [T, n, P]``: term k at point i is ``Z[k, i] @ θ``; the model is ``ln L̂_i =
    LSE_k(term_k)``, so the Jacobian is ``J_i = Σ_k s_ik Z[k, i]`` with ``s`` the softmax
    weights of the terms.
    """

    def __init__(self, Z: np.ndarray):
        self.Z = np.ascontiguousarray(Z)
        T, n, P = Z.shape
        self.P = P
        self.ZT = [np.ascontiguousarray(Z[k].T) for k in range(T)]  # [P, n] per term
        # each parameter enters one term only (true of every layout): its Jacobian column is
        # that term's softmax weight times its covariate
        nz = np.abs(Z).sum(axis=1) > 0  # [T, P]
        self.term = np.argmax(nz, axis=0) if np.all(nz.sum(axis=0) <= 1) else None
        self.cov = (Z[self.term, :, np.arange(P)] if self.term is not None else None)  # [P, n]

    def evaluate(self, theta, logL, w, delta):
        """Residuals ``[S, n]``, softmax weights ``[T, S, n]`` and ``f`` ``[S]`` (the layout
        of :meth:`scaling.fit.optim._Structure.evaluate`)."""
        t = np.stack([theta @ zt for zt in self.ZT], axis=0)  # [T, S, n]
        m = t.max(axis=0)
        t -= m
        np.exp(t, out=t)
        z = t.sum(axis=0)
        r = np.log(z) + m - logL
        t /= z
        return r, t, optim._huber_sum(r, w, delta)

    def jacobian_t(self, s):
        """``Jᵀ`` per start, ``[S, P, n]``, from softmax weights ``s [T, S, n]``."""
        if self.term is not None:
            return np.swapaxes(s[self.term], 0, 1) * self.cov
        return np.einsum("ksi,kpi->spi", s, np.stack(self.ZT))

    def normal_equations(self, r, s, w, delta):
        psi = np.clip(r, -delta, delta)
        irls = delta / np.maximum(np.abs(r), delta)
        if w is not None:
            psi = psi * w
            irls = irls * w
        Jt = self.jacobian_t(s)
        g = np.matmul(Jt, psi[:, :, None])[..., 0]
        H = np.matmul(Jt * irls[:, None, :], np.swapaxes(Jt, 1, 2))
        return g, H

    def f_and_grad(self, theta, logL, w, delta):
        r, s, f = self.evaluate(np.asarray(theta, float)[None, :], logL,
                                None if w is None else np.atleast_2d(w), delta)
        psi = np.clip(r, -delta, delta) * (1.0 if w is None else w)
        return float(f[0]), self.jacobian_t(s)[0] @ psi[0]


# --------------------------------------------------------------------------- data


@dataclass
class _Data:
    recipes: list[str]
    ri: np.ndarray
    N: np.ndarray
    D: np.ndarray
    L: np.ndarray
    runs: np.ndarray
    lN0: float

    @property
    def logL(self) -> np.ndarray:
        return np.log(self.L)

    def subset(self, keep: np.ndarray) -> _Data:
        return _Data(self.recipes, self.ri[keep], self.N[keep], self.D[keep], self.L[keep],
                     self.runs[keep], self.lN0)

    def sizes(self, r: int | None = None) -> np.ndarray:
        return np.unique(self.N if r is None else self.N[self.ri == r])


def _prepare(frame: pd.DataFrame, baseline: str, recipes: list[str] | None,
             n_ref: float | None) -> _Data:
    need = {"recipe", "params", "tokens", "loss"}
    if missing := need - set(frame.columns):
        raise FitError(f"the joint law needs columns {', '.join(sorted(need))}; missing "
                       f"{', '.join(sorted(missing))}")
    df = frame.dropna(subset=["params", "tokens", "loss"])
    names = sorted(df["recipe"].astype(str).unique())
    if baseline not in names:
        raise FitError(f"baseline {baseline!r} has no points; recipes: {', '.join(names)}")
    order = [baseline] + [r for r in (recipes or names) if r != baseline]
    if unknown := [r for r in order if r not in names]:
        raise FitError(f"recipe {unknown[0]!r} has no points; recipes: {', '.join(names)}")
    df = df[df["recipe"].astype(str).isin(order)]
    if len(order) < 2:
        raise FitError("the joint law compares recipes: give at least 2 (a baseline and one "
                       "more)")
    for v, what in ((df["params"], "params"), (df["tokens"], "tokens"), (df["loss"], "loss")):
        if not (np.isfinite(v.to_numpy(float)).all() and (v > 0).all()):
            raise FitError(f"{what} must be finite and > 0 for every point")
    pos = {r: i for i, r in enumerate(order)}
    N = df["params"].to_numpy(float)
    for r in order:
        if df.loc[df["recipe"].astype(str) == r, "tokens"].nunique() < 2:
            raise FitError(f"recipe {r!r} has fewer than 2 distinct budgets: its multiplier "
                           "cannot be told from the loss floor; add runs")
    if len(np.unique(N)) < 2:
        raise FitError("the joint law needs at least 2 model sizes (A and E cannot be told "
                       "apart from one)")
    runs = (df["run"].astype(str).to_numpy() if "run" in df.columns
            else np.arange(len(df)).astype(str))
    lN0 = float(np.log(n_ref)) if n_ref else float(np.mean(np.log(np.unique(N))))
    return _Data(order, df["recipe"].astype(str).map(pos).to_numpy(int), N,
                 df["tokens"].to_numpy(float), df["loss"].to_numpy(float), runs, lN0)


def _cells(data: _Data) -> tuple[np.ndarray, np.ndarray]:
    """Paired bootstrap units: run → cell (same size and budget, j-th seed of each recipe),
    and each cell's size. Returns ``(cell of each point, size of each cell)``."""
    runs = pd.DataFrame({"run": data.runs, "ri": data.ri, "N": data.N, "D": data.D})
    first = runs.groupby("run", sort=False).agg(ri=("ri", "first"), N=("N", "first"),
                                                D=("D", "max")).reset_index()
    first["rank"] = first.groupby(["ri", "N", "D"]).cumcount()
    key = first["N"].map("{:.9g}".format) + "|" + first["D"].map("{:.9g}".format) + "|" + \
        first["rank"].astype(str)
    cell_codes, cell_names = pd.factorize(key)
    cell_of_run = dict(zip(first["run"], cell_codes, strict=True))
    cell_size = first.groupby(cell_codes)["N"].first().reindex(range(len(cell_names)))
    return np.array([cell_of_run[r] for r in data.runs]), cell_size.to_numpy(float)


# --------------------------------------------------------------------------- fitting


def _solve(layout: _Layout, data: _Data, starts: np.ndarray, polish: bool = True,
           delta: float = optim.HUBER_DELTA, screen: bool = False, tol: float = 1e-13):
    """Batched LM from ``starts`` (optionally screened); the best start polished where the
    LM did not finish it."""
    st = JointStructure(layout.design(data.ri, np.log(data.N), np.log(data.D), data.lN0))
    logL = data.logL
    b = layout.bounds
    if screen and len(starts) > 50:
        th, f, _ = optim.batch_lm_chunked(st, starts, None, logL, b, delta=delta, max_iter=12)
        order = np.argsort(np.where(np.isfinite(f), f, np.inf))[:max(50, len(f) // 20)]
        starts = th[order]
    th, f, conv = optim.batch_lm_chunked(st, starts, None, logL, b, delta=delta, max_iter=300,
                                         tol=tol)
    f = np.where(np.isfinite(f), f, np.inf)
    best = int(np.argmin(f))
    theta, fbest = th[best].copy(), float(f[best])
    if polish and not conv[best]:  # a finished LM start is a local optimum (optim.multistart)
        res = minimize(st.f_and_grad, theta, args=(logL, None, delta), jac=True,
                       method="L-BFGS-B", bounds=[tuple(x) for x in b],
                       options=optim.LBFGS_OPTIONS)
        if res.fun < fbest:
            theta, fbest = np.asarray(res.x, float), float(res.fun)
    return theta, fbest, {"theta": th, "f": f, "structure": st}


#: Exponent grid of the variable-projection starts (:func:`_base_starts`).
_START_EXPONENTS = np.linspace(0.05, 1.5, 17)


def _base_starts(layout: _Layout, data: _Data, k: int = 24) -> np.ndarray:
    """Starts of the all-shared variant by variable projection: for fixed (α, β) the law is
    linear in (E, A, B·k_r^-β), so a non-negative least-squares solve (relative residuals)
    on a grid of exponents gives every other parameter; the ``k`` best grid points start the
    Levenberg–Marquardt search (a few hundred tiny solves instead of screening the 4,500
    starts of the Besiroglu et al. grid, which find the same optimum on these laws)."""
    R = layout.R
    onehot = np.eye(R)[data.ri]
    rows = []
    for al in _START_EXPONENTS:
        xa = data.N ** (-al)
        for be in _START_EXPONENTS:
            X = np.column_stack([np.ones_like(xa), xa, onehot * (data.D ** (-be))[:, None]])
            coef, rn = nnls(X / data.L[:, None], np.ones(len(data.L)))
            rows.append((rn, al, be, coef))
    rows.sort(key=lambda t: t[0])
    lo = np.exp(BOUNDS["e"][0])
    th = np.zeros((min(k, len(rows)), len(layout.names)))
    for i, (_, al, be, coef) in enumerate(rows[:len(th)]):
        c = np.maximum(coef, lo)
        th[i, layout.index["e"]] = np.log(c[0])
        th[i, layout.index["a"]] = np.log(c[1])
        th[i, layout.index["alpha"]] = al
        th[i, layout.index["b"]] = np.log(c[2])
        th[i, layout.index["beta"]] = be
        for r in range(1, R):
            th[i, layout.idx("c", r)] = np.log(c[2 + r]) - np.log(c[2])
    return np.clip(th, layout.bounds[:, 0], layout.bounds[:, 1])


def _grid_starts(layout: _Layout) -> np.ndarray:
    """The Besiroglu et al. grid of (e, a, b, alpha, beta), every recipe at k = 1."""
    grid = forms.CHINCHILLA.start_grid()  # columns e, a, b, alpha, beta
    th = np.zeros((len(grid), len(layout.names)))
    for j, n in enumerate(("e", "a", "b", "alpha", "beta")):
        th[:, layout.index[n]] = grid[:, j]
    return th


def _log_resid(layout: _Layout, theta: np.ndarray, data: _Data) -> np.ndarray:
    st = JointStructure(layout.design(data.ri, np.log(data.N), np.log(data.D), data.lN0))
    r, _, _ = st.evaluate(theta[None, :], data.logL, None, optim.HUBER_DELTA)
    return r[0]


@dataclass
class _VariantFit:
    variant: Variant
    layout: _Layout
    theta: np.ndarray
    objective: float
    optima: np.ndarray  # distinct good optima (warm starts for resamples and sub-grids)


def _nested(u: Variant, v: Variant) -> bool:
    """Whether variant ``u`` is a special case of ``v``."""
    return (v.trend or not u.trend) and (u.shared_E or not v.shared_E) and \
        (u.shared_beta or not v.shared_beta)


def _fit_variants(data: _Data, variants, base_optima: np.ndarray | None = None,
                  warm: dict | None = None, tol: float = 1e-13) -> dict[Variant, _VariantFit]:
    """Every variant fitted to ``data``: the all-shared one from the variable-projection
    starts (or ``base_optima``), each richer one from the optima of every variant nested in
    it (a nested model started at the simpler optimum is never worse than it) and from
    ``warm[variant]`` (its optima on other data, e.g. the full grid for a CV refit)."""
    simple = _Layout(data.recipes, Variant())
    starts0 = _base_starts(simple, data) if base_optima is None else base_optima
    if warm and Variant() in warm:
        starts0 = np.vstack([starts0, warm[Variant()]])
    th, f, info = _solve(simple, data, starts0, tol=tol)
    opt = info["theta"][optim.distinct_best(info["theta"], info["f"], 4, tol=1e-2)]
    opt = np.vstack([th[None, :], opt])
    out = {Variant(): _VariantFit(Variant(), simple, th, f, opt)}
    for v in sorted(variants, key=lambda v: v.complexity):
        if v in out:
            continue
        lay = _Layout(data.recipes, v)
        starts = [lay.embed(u_fit.layout, u_fit.optima) for u, u_fit in out.items()
                  if _nested(u, v)]
        if warm and v in warm:
            starts.append(warm[v])
        t, fv, inf = _solve(lay, data, np.vstack(starts), tol=tol)
        out[v] = _VariantFit(v, lay, t, fv, np.vstack([t[None, :], inf["theta"][
            optim.distinct_best(inf["theta"], inf["f"], 3, tol=1e-2)]]))
    return {v: out[v] for v in variants}


def _allowed(data: _Data, variants) -> list[Variant]:
    """Variants the data can fit: a trend needs every recipe at ≥ 2 sizes."""
    two = all(len(data.sizes(r)) >= 2 for r in range(1, len(data.recipes)))
    return [v for v in variants if two or not v.trend]


def _select(data: _Data, fits: dict[Variant, _VariantFit], select: str):
    """Leave-largest-size-out CV (or AIC): scores, chosen variant, admissible ones."""
    sizes = data.sizes()
    rows = []
    n = len(data.L)
    # AIC's sample size is the number of runs: the points of one run share its seed effect,
    # and counting them as independent favoured trends that follow one seed per size
    G = len(np.unique(data.runs))
    for v, fv in fits.items():
        res = _log_resid(fv.layout, fv.theta, data)
        P = len(fv.layout.names)
        rss = float(res @ res)
        rows.append({"variant": v.name, "n_params": P,
                     "aic": float(G * np.log(max(rss, 1e-300) / n) + 2 * P),
                     "rms_log_residual": float(np.sqrt(rss / n)), "cv_rms": None,
                     "cv_se": None})
    method = select
    if select == "cv" and len(sizes) >= 4:
        keep = data.N < sizes[-1] * (1 - 1e-9)
        train, test = data.subset(keep), data.subset(~keep)
        ok = [v for v in fits if v in _allowed(train, fits)]
        # the refits only score the held-out size: solved as far as the bootstrap's
        tf = _fit_variants(train, ok, base_optima=fits[Variant()].optima,
                           warm={v: fits[v].optima for v in ok}, tol=optim.BOOTSTRAP_TOL)
        for row, v in zip(rows, fits, strict=True):
            if v not in tf:
                continue
            e2 = _log_resid(tf[v].layout, tf[v].theta, test) ** 2
            row["cv_rms"] = float(np.sqrt(e2.mean()))
            # standard error of the RMS from that of the mean square (delta method)
            row["cv_se"] = float(np.std(e2, ddof=1) / np.sqrt(len(e2))
                                 / (2 * max(row["cv_rms"], 1e-300)))
    else:
        method = "aic"
    variants = list(fits)
    if method == "cv":
        scored = [i for i, r in enumerate(rows) if r["cv_rms"] is not None]
        best = min(scored, key=lambda i: (rows[i]["cv_rms"], variants[i].complexity))
        lim = rows[best]["cv_rms"] + CV_SE * rows[best]["cv_se"]
        adm = [i for i in scored if rows[i]["cv_rms"] <= lim]
        # standard-error rule: the simplest variant that predicts as well as the best
        best = min(adm, key=lambda i: (variants[i].complexity, rows[i]["cv_rms"]))
    else:
        best = min(range(len(rows)), key=lambda i: rows[i]["aic"])
        adm = [i for i in range(len(rows)) if rows[i]["aic"] <= rows[best]["aic"] + 2.0]
        # as with CV: the simplest variant the criterion cannot tell from the best
        best = min(adm, key=lambda i: (variants[i].complexity, rows[i]["aic"]))
    for i, r in enumerate(rows):
        r["chosen"] = i == best
        r["admissible"] = i in adm
    return rows, variants[best], [variants[i] for i in adm], method


def _bootstrap(data: _Data, fv: _VariantFit, B: int, seed: int,
               cells: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Paired, size-stratified bootstrap over cells of runs; internal samples ``[B, P]``."""
    rng = np.random.default_rng(seed)
    cell, cell_size = cells
    C = len(cell_size)
    counts = np.zeros((B, C))
    # within each size; a size with one cell (one seed, one budget) would never vary, so then
    # the cells of all sizes are resampled together
    strata = cell_size if min(np.unique(cell_size, return_counts=True)[1]) >= 2 \
        else np.zeros(C)
    for n in np.unique(strata):
        ids = np.flatnonzero(strata == n)
        draw = ids[rng.integers(0, len(ids), size=(B, len(ids)))]
        np.add.at(counts, (np.repeat(np.arange(B), len(ids)), draw.ravel()), 1.0)
    W = counts[:, cell]
    st = JointStructure(fv.layout.design(data.ri, np.log(data.N), np.log(data.D), data.lN0))
    # the estimate and distinct other optima (fv.optima repeats the estimate as the LM left it)
    starts0 = fv.optima[optim.distinct_best(fv.optima, np.arange(len(fv.optima), dtype=float),
                                            3, tol=1e-2)]
    K = len(starts0)
    th, f, _ = optim.batch_lm_chunked(st, np.tile(starts0, (B, 1)), None, data.logL,
                                      fv.layout.bounds, weights=np.repeat(W, K, axis=0),
                                      max_iter=300, tol=optim.BOOTSTRAP_TOL)
    f = np.where(np.isfinite(f), f, np.inf).reshape(B, K)
    boot = th.reshape(B, K, -1)[np.arange(B), np.argmin(f, axis=1)]
    G, P = len(np.unique(data.runs)), boot.shape[1]
    if G > P + 1:
        c = np.sqrt(G / (G - P))
        out = fv.theta + c * (boot - fv.theta)
        for j, nm in enumerate(fv.layout.names):  # E stretched on its natural scale
            if nm.split(":")[0] == "e":
                E0, Eb = np.exp(fv.theta[j]), np.exp(boot[:, j])
                out[:, j] = np.log(np.maximum(E0 + c * (Eb - E0), np.exp(BOUNDS["e"][0])))
        boot = np.clip(out, fv.layout.bounds[:, 0], fv.layout.bounds[:, 1])
    return boot


# --------------------------------------------------------------------------- result


@dataclass
class JointResult:
    """A fitted joint multi-recipe law. Build with :func:`fit_joint`.

    Attributes
    ----------
    variant : Variant
        The variant used (chosen by cross-validation unless fixed).
    recipes : list of str
        Baseline first.
    params : DataFrame
        name, value, stderr, ci_low, ci_high of the natural parameters: E (or E:r), A, alpha,
        B, beta (or beta:r), and per non-baseline recipe k:r (multiplier at ``n_ref``) and
        gamma:r (0 without a trend).
    selection : list of dict
        Per candidate variant: ``variant, n_params, aic, rms_log_residual, cv_rms, cv_se,
        chosen, admissible``.
    alternatives : dict
        Admissible variants other than the chosen one: name → (layout, theta).
    """

    variant: Variant
    recipes: list[str]
    layout: _Layout
    theta: np.ndarray
    boot: np.ndarray | None
    objective: float
    n_points: int
    n_runs: int
    n_ref: float
    level: float
    params: pd.DataFrame
    selection: list[dict]
    selection_method: str
    warnings: list[str] = field(default_factory=list)
    alternatives: dict[str, tuple] = field(default_factory=dict)
    sizes: dict[str, list[float]] = field(default_factory=dict)
    sigma: float = float("nan")
    data: _Data | None = None

    @property
    def baseline(self) -> str:
        return self.recipes[0]

    def at_bound(self, recipe: str) -> dict[str, str]:
        """``{name: "lower" | "upper"}`` for the parameters of ``recipe``'s law (E, A, alpha,
        B, beta, k, gamma) whose estimate sits at a bound of the search."""
        natural = {"e": "E", "a": "A", "alpha": "alpha", "b": "B", "beta": "beta", "c": "k",
                   "g": "gamma"}
        b = self.layout.bounds
        span = b[:, 1] - b[:, 0]
        out = {}
        for j, n in enumerate(self.layout.names):
            kind, _, rec = n.partition(":")
            if rec and rec != recipe:
                continue
            if self.theta[j] - b[j, 0] < 1e-6 * span[j]:
                out[natural[kind]] = "lower"
            elif b[j, 1] - self.theta[j] < 1e-6 * span[j]:
                out[natural[kind]] = "upper"
        return out

    def _r(self, recipe: str) -> int:
        if recipe not in self.recipes:
            raise FitError(f"recipe {recipe!r} is not in the joint fit; recipes: "
                           f"{', '.join(self.recipes)}")
        return self.recipes.index(recipe)

    def _thetas(self, samples: bool, layout=None, theta=None, boot=None):
        layout = layout or self.layout
        if not samples:
            return layout, np.atleast_2d(self.theta if theta is None else theta)
        b = self.boot if boot is None else boot
        if b is None:
            raise FitError("this joint fit has no bootstrap samples; refit with bootstrap > 0")
        return layout, b

    # -- values ---------------------------------------------------------------------------
    # ``alt``: a ``(layout, theta)`` pair of :attr:`alternatives` evaluates that variant
    # instead of the chosen one (point values only).
    def loss(self, recipe: str, N, D, samples: bool = False, alt=None) -> np.ndarray:
        """Loss of ``recipe`` at ``(N, D)``; with ``samples``, one row per bootstrap sample."""
        lay, th = self._thetas(samples, *(alt or ()))
        p = lay.recipe_params(th, self._r(recipe))
        out = _loss(p, np.asarray(N, float), np.asarray(D, float), self.data.lN0)
        return out if samples else out[0]

    def multiplier(self, recipe: str, N, samples: bool = False, alt=None) -> np.ndarray:
        r"""Effective-data multiplier :math:`k_r(N)` (β per recipe: of the recipe's β)."""
        lay, th = self._thetas(samples, *(alt or ()))
        p = lay.recipe_params(th, self._r(recipe))
        b0 = lay.recipe_params(th, 0)
        lN = np.log(np.asarray(N, float)) - self.data.lN0
        # B·(kD)^-β_r = exp(b_r + g_r·lN − β_r ln D)  ⇒  ln k = −(b_r − b_0 + g_r lN)/β_r
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.exp(-((p["b"] - b0["b"])[:, None] + p["g"][:, None] * np.ravel(lN))
                         / p["beta"][:, None]).reshape((len(th),) + np.shape(lN))
        return out if samples else out[0]

    def savings(self, recipe: str, N, D_b, samples: bool = False, alt=None) -> np.ndarray:
        r"""Savings :math:`s = D_r / D_b` at size ``N`` and baseline budget ``D_b`` (closed form
        :math:`1/k_r(N)` when E and β are shared, by inversion otherwise; ``inf`` where the
        recipe never reaches the baseline's loss)."""
        lay, th = self._thetas(samples, *(alt or ()))
        N, D_b = np.asarray(N, float), np.asarray(D_b, float)
        pb = lay.recipe_params(th, 0)
        pr = lay.recipe_params(th, self._r(recipe))
        shape = np.broadcast_shapes(N.shape, D_b.shape)
        Nf = np.broadcast_to(N, shape).ravel()[None, :]
        Df = np.broadcast_to(D_b, shape).ravel()[None, :]
        Lb = _loss(pb, Nf[0], Df[0], self.data.lN0)
        col = {k: v[:, None] for k, v in pr.items()}
        Br = np.exp(col["b"] + col["g"] * (np.log(Nf) - self.data.lN0))
        Dr = forms.chinchilla_invert(Lb, Nf, np.exp(col["e"]), np.exp(col["a"]), Br,
                                     col["alpha"], col["beta"])
        out = (Dr / Df).reshape((len(th),) + shape)
        return out if samples else out[0]

    # -- reporting ------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        p = self.params.set_index("name")
        return {
            "form": "joint", "variant": self.variant.name, "baseline": self.baseline,
            "recipes": list(self.recipes), "n_ref": float(self.n_ref),
            "params": {k: _f(p.loc[k, "value"]) for k in p.index},
            "ci": {k: [_f(p.loc[k, "ci_low"]), _f(p.loc[k, "ci_high"])] for k in p.index},
            "stderr": {k: _f(p.loc[k, "stderr"]) for k in p.index},
            "level": self.level, "n_points": int(self.n_points), "n_runs": int(self.n_runs),
            "objective": float(self.objective),
            "bootstrap": 0 if self.boot is None else int(len(self.boot)),
            "selection_method": self.selection_method,
            "selection": [{k: (_f(v) if isinstance(v, float) else v) for k, v in row.items()}
                          for row in self.selection],
            "admissible": [r["variant"] for r in self.selection if r["admissible"]],
            "sigma_log": _f(self.sigma), "warnings": list(self.warnings),
        }

    def report(self) -> str:
        lines = [f"joint law ({self.variant.name}; chosen by "
                 f"{'leave-largest-size-out CV' if self.selection_method == 'cv' else 'AIC'})"
                 f" fitted to {self.n_points} points from {self.n_runs} runs of "
                 f"{len(self.recipes)} recipes; baseline {self.baseline}; k at N_ref = "
                 f"{self.n_ref:.4g}"]
        pct = int(round(self.level * 100))
        lines.append(f"{'param':>28} {'value':>11}   {pct}% interval")
        for r in self.params.itertuples():
            iv = "" if np.isnan(r.ci_low) else f"[{r.ci_low:.4g}, {r.ci_high:.4g}]"
            lines.append(f"{r.name:>28} {r.value:11.5g}   {iv}")
        lines.append("variants (leave-largest-size-out RMS log error; AIC):")
        for s in self.selection:
            cv = "n/a" if s["cv_rms"] is None else f"{s['cv_rms']:.4g} ± {s['cv_se']:.2g}"
            mark = "*" if s["chosen"] else ("+" if s["admissible"] else " ")
            lines.append(f"  {mark} {s['variant']:<42} cv {cv:<18} aic {s['aic']:.1f}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _loss(p: dict, N, D, lN0: float):
    """Loss of internal parameter rows ``p`` (``[S]`` each) at ``(N, D)``: ``[S, *shape]``."""
    N, D = np.asarray(N, float), np.asarray(D, float)
    shape = np.broadcast_shapes(N.shape, D.shape)
    lN = np.log(np.broadcast_to(N, shape)).ravel()[None, :]
    lD = np.log(np.broadcast_to(D, shape)).ravel()[None, :]
    c = {k: np.atleast_1d(v)[:, None] for k, v in p.items()}
    with np.errstate(over="ignore"):
        out = np.exp(c["e"]) + np.exp(c["a"] - c["alpha"] * lN) + \
            np.exp(c["b"] + c["g"] * (lN - lN0) - c["beta"] * lD)
    return out.reshape((out.shape[0],) + shape)


def _natural(layout: _Layout, th: np.ndarray, lN0: float) -> dict[str, np.ndarray]:
    th = np.atleast_2d(th)
    out: dict[str, np.ndarray] = {}
    for j, n in enumerate(layout.names):
        kind, _, rec = n.partition(":")
        if kind in ("e", "a", "b"):
            out[n.replace(kind, kind.upper(), 1)] = np.exp(th[:, j])
        elif kind in ("alpha", "beta"):
            out[n] = th[:, j]
    for r in range(1, layout.R):
        p, b0 = layout.recipe_params(th, r), layout.recipe_params(th, 0)
        rec = layout.recipes[r]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out[f"k:{rec}"] = np.exp(-(p["b"] - b0["b"]) / p["beta"])
            out[f"gamma:{rec}"] = -p["g"] / p["beta"]
    return out


def fit_joint(frame: pd.DataFrame, baseline: str, recipes: list[str] | None = None,
              variant: Variant | str | None = None, bootstrap: int = 200, seed: int = 0,
              level: float = 0.9, n_ref: float | None = None, select: str = "cv",
              variants=VARIANTS, alternatives: bool = True) -> JointResult:
    r"""Fit the joint multi-recipe law (module docstring) to a law table.

    Parameters
    ----------
    frame : DataFrame
        ``recipe, params, tokens, loss`` [+ ``run``]: one row per point (run end points, or
        several checkpoints per run — the bootstrap resamples whole runs).
    baseline : str
        The recipe with :math:`k = 1, \gamma = 0`.
    recipes : list of str, optional
        Which recipes to fit jointly (default: all in the frame).
    variant : Variant or str, optional
        Fix the variant (:func:`parse_variant`); default: chosen by ``select``.
    bootstrap, seed, level
        Paired bootstrap resamples, their seed, interval coverage.
    n_ref : float, optional
        Size at which ``k`` is reported (default: geometric mean of the grid's sizes).
    select : {"cv", "aic"}
        Leave-largest-size-out cross-validation (needs ≥ 4 sizes, else AIC) or AIC.
    alternatives : bool
        Keep the point fits of the admissible variants other than the chosen one (their
        spread is a part of the savings interval in :mod:`scaling.predict.joint`).

    Returns
    -------
    JointResult
    """
    if select not in ("cv", "aic"):
        raise FitError(f"select must be 'cv' or 'aic', got {select!r}")
    data = _prepare(frame, baseline, recipes, n_ref)
    if isinstance(variant, str):
        variant = parse_variant(variant)
    cands = _allowed(data, [variant] if variant is not None else list(variants))
    if variant is not None and not cands:
        raise FitError("a trend in the multiplier (gamma free) needs every recipe at ≥ 2 "
                       "model sizes")
    if Variant() not in cands:
        cands = [Variant()] + cands
    fits = _fit_variants(data, cands)
    if variant is None:
        rows, chosen, adm, method = _select(data, fits, select)
    else:
        rows, chosen, adm, method = _select(data, {variant: fits[variant]}, "aic")
        method = "fixed"
    fv = fits[chosen]
    cells = _cells(data)
    boot = _bootstrap(data, fv, bootstrap, seed, cells) if bootstrap else None
    # the other admissible variants' point fits (their spread is a part of the interval)
    alts = {v.name: (fits[v].layout, fits[v].theta) for v in adm if v != chosen} \
        if alternatives else {}
    bn = _natural(fv.layout, boot, data.lN0) if boot is not None else None
    params = _param_table(_natural(fv.layout, fv.theta, data.lN0), bn, level)
    sizes = {r: [float(x) for x in data.sizes(i)] for i, r in enumerate(data.recipes)}
    warnings = _identifiability_warnings(data, fv, sizes, params if bn is not None else None,
                                         chosen)
    res_log = _log_resid(fv.layout, fv.theta, data)
    return JointResult(variant=chosen, recipes=data.recipes, layout=fv.layout, theta=fv.theta,
                       boot=boot, objective=fv.objective, n_points=len(data.L),
                       n_runs=len(np.unique(data.runs)), n_ref=float(np.exp(data.lN0)),
                       level=level, params=params, selection=rows, selection_method=method,
                       warnings=warnings, alternatives=alts, sizes=sizes,
                       sigma=float(np.sqrt(np.mean(res_log ** 2))), data=data)


def _param_table(nat: dict[str, np.ndarray], boot_nat: dict[str, np.ndarray] | None,
                 level: float) -> pd.DataFrame:
    """Natural parameters with their bootstrap standard errors and ``level`` intervals."""
    a = (1 - level) / 2
    rows = []
    for k, v in nat.items():
        se = lo = hi = np.nan
        if boot_nat is not None:
            x = boot_nat[k][np.isfinite(boot_nat[k])]
            if x.size > 2:
                se, (lo, hi) = float(np.std(x, ddof=1)), np.quantile(x, [a, 1 - a])
        rows.append({"name": k, "value": float(v[0]), "stderr": se, "ci_low": float(lo),
                     "ci_high": float(hi)})
    return pd.DataFrame(rows)


def _identifiability_warnings(data: _Data, fv: _VariantFit, sizes: dict[str, list[float]],
                              params: pd.DataFrame | None, chosen: Variant) -> list[str]:
    """Parameters at a bound, inseparable α and β, recipes at < 3 sizes, and poorly
    determined trends (``params`` with bootstrap intervals, or None)."""
    warnings = []
    b = fv.layout.bounds
    span = b[:, 1] - b[:, 0]
    for j in np.flatnonzero((np.abs(fv.theta - b[:, 0]) < 1e-6 * span)
                            | (np.abs(fv.theta - b[:, 1]) < 1e-6 * span)):
        warnings.append(f"{fv.layout.names[j]} sits at its bound ([{b[j, 0]:g}, {b[j, 1]:g}] "
                        "on the fitted scale); the data do not pin it down")
    lN, lD = np.log(data.N), np.log(data.D)
    if np.std(lD) > 0 and abs(np.corrcoef(lN, lD)[0, 1]) > 0.98:
        warnings.append("alpha and beta are not separable on this design: ln N and ln D move "
                        "together (e.g. a fixed tokens-per-parameter ratio); add runs with "
                        "several budgets per size")
    for r, s in sizes.items():
        if len(s) < 3:
            warnings.append(f"{r} has runs at {len(s)} model size{'s' if len(s) > 1 else ''}: "
                            "a trend of its data effect with model size cannot be checked "
                            "(< 3 sizes)")
    if params is not None and chosen.trend:
        for r in data.recipes[1:]:
            row = params.set_index("name").loc[f"gamma:{r}"]
            if row.ci_high - row.ci_low > 0.5:
                warnings.append(f"gamma of {r} is poorly determined: its interval "
                                f"[{row.ci_low:.2g}, {row.ci_high:.2g}] allows the data effect "
                                "to grow or vanish within a few decades of size")
    return warnings


def refit(result: JointResult, keep: np.ndarray) -> tuple[_Layout, np.ndarray]:
    """The result's variant refitted (no bootstrap) to the points ``keep`` of its data, warm
    started from the full fit: ``(layout, theta)``. Used by nested backtests."""
    data = result.data.subset(keep)
    th, _, _ = _solve(result.layout, data, result.theta[None, :], polish=False,
                      tol=optim.BOOTSTRAP_TOL)
    return result.layout, th
