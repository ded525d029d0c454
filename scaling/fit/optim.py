"""Vectorised multi-start fitting of loss laws in log space (Huber on log residuals).

The objective of Hoffmann et al. (2022) as replicated by Besiroglu et al. (2024)::

    r_i(θ)  = LSE(a − α·ln N_i,  b − β·ln D_i,  e) − ln L_i
    f(θ)    = Σ_i w_i · huber_δ(r_i),   δ = 1e-3

(``w_i`` are multiplicities: 1 for a plain fit, bootstrap counts for a resample.)

Instead of a Python loop of 4,500 L-BFGS runs, every start is one row of a ``[S, P]`` array
and all of them take damped Gauss–Newton (Levenberg–Marquardt) steps at once, with the
Huber loss handled by iteratively reweighted least squares: the step solves
``(JᵀWJ + λ·diag) Δ = −Jᵀψ(r)`` with ``ψ(r) = clip(r, ±δ)`` (the exact gradient) and
``W = min(1, δ/|r|)``. A step is kept only where it lowers ``f`` (per start), so each start
descends monotonically; a parameter on its bound whose descent points outward is held there
and the step solved over the others. The starts are screened in stages, in single precision
(:data:`SCREEN`); of the best few distinct optima, those the LM did not finish are polished
with scipy's L-BFGS-B on the exact objective and gradient (:func:`polish`, which alone
imports scipy). The same solver fits the grokking sigmoids (:mod:`scaling.fit.grok`: a
structure with per-row data and bounds).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import numpy as np

from .forms import law_form

HUBER_DELTA = 1e-3


def huber(r: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
    """``0.5 r²`` for ``|r| ≤ δ``, ``δ(|r| − δ/2)`` beyond."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def design(form: str, N: np.ndarray | None, D: np.ndarray) -> np.ndarray:
    """Log covariates ``[n, 2]`` (ln N, ln D) of ``form`` (:meth:`forms.LawForm.design`)."""
    return law_form(form).design(N, D)


def residuals_jacobian(form: str, theta: np.ndarray, X: np.ndarray, logL: np.ndarray,
                       need_jac: bool = True):
    """Residuals ``[S, n]`` and Jacobian ``[S, n, P]`` for parameter rows ``theta [S, P]``."""
    lf = law_form(form)
    e = theta[:, lf.e_index:lf.e_index + 1]
    t = [theta[:, ci:ci + 1] - theta[:, ei:ei + 1] * X[:, c] for ci, ei, c in lf.terms]
    t.append(np.broadcast_to(e, (theta.shape[0], len(X))))
    m = t[0]
    for tk in t[1:]:
        m = np.maximum(m, tk)
    ex = [np.exp(tk - m) for tk in t]
    z = ex[0]
    for ek in ex[1:]:
        z = z + ek
    r = m + np.log(z) - logL
    if not need_jac:
        return r, None
    s = [ek / z for ek in ex]
    J = np.empty(r.shape + (theta.shape[1],))
    J[..., lf.e_index] = s[-1]
    for k, (ci, ei, c) in enumerate(lf.terms):
        J[..., ci] = s[k]
        J[..., ei] = -s[k] * X[:, c]
    return r, J


def objective(form: str, theta: np.ndarray, X: np.ndarray, logL: np.ndarray,
              weights: np.ndarray | None = None, delta: float = HUBER_DELTA) -> np.ndarray:
    """``f(θ)`` for each row of ``theta`` (``[S]``)."""
    r, _ = residuals_jacobian(form, np.atleast_2d(theta), X, logL, need_jac=False)
    h = huber(r, delta)
    return (h if weights is None else h * weights).sum(axis=1)


class _Structure:
    """Index maps that turn the normal equations into two plain matrix products.

    Every Jacobian column is a softmax weight ``s_k`` times a covariate factor (1 for ``e`` and
    the log-coefficients, ``−x_c`` for an exponent). So ``(JᵀWJ)_pq = Σ_i W_i s_k s_l φ_p φ_q``
    is, for each pair of terms ``(k, l)``, a weighted sum of ``1, x_c, x_c·x_d`` over the
    points: one ``[S·pairs, n] @ [n, cols]`` product gives all of them for all starts, instead
    of materialising the ``[S, n, P]`` Jacobian and multiplying ``S`` small matrices.
    """

    def __init__(self, form: str, X: np.ndarray, dtype=np.float64):
        X = np.asarray(X, dtype)
        self.dtype = np.dtype(dtype)
        # a softmax term exp(q) must not overflow: ~700 in double precision, ~88 in single
        self.max_exponent = 700.0 if self.dtype == np.float64 else 80.0
        lf = law_form(form)  # its power terms; the log-sum-exp runs over them and e (last)
        terms, e_idx = lf.terms, lf.e_index
        self.terms, self.e_idx = terms, e_idx
        T = len(terms) + 1
        self.P = 1 + 2 * len(terms)
        cov = sorted({c for _, _, c in terms})
        # columns: 1, x_c for each covariate, x_c·x_d for each pair of covariates
        cols: list[tuple[int, ...]] = [()] + [(c,) for c in cov] + \
            [(c, d) for i, c in enumerate(cov) for d in cov[i:]]
        self.C = np.stack([np.prod([X[:, c] for c in key], axis=0) if key
                           else np.ones(len(X), dtype) for key in cols], axis=1)
        col_of = {key: j for j, key in enumerate(cols)}
        # per parameter: (term, covariate or None, sign)
        par: dict[int, tuple[int, int | None, float]] = {e_idx: (T - 1, None, 1.0)}
        for k, (ci, ei, c) in enumerate(terms):
            par[ci] = (k, None, 1.0)
            par[ei] = (k, c, -1.0)
        self.pairs = [(k, m) for k in range(T) for m in range(k, T)]
        pair_of = {p: j for j, p in enumerate(self.pairs)}
        ncol = len(cols)
        h_idx, h_sign = np.zeros(self.P * self.P, int), np.zeros(self.P * self.P)
        for p in range(self.P):
            for q in range(self.P):
                (kp, cp, sp), (kq, cq, sq) = par[p], par[q]
                key = tuple(sorted(c for c in (cp, cq) if c is not None))
                h_idx[p * self.P + q] = pair_of[(min(kp, kq), max(kp, kq))] * ncol + col_of[key]
                h_sign[p * self.P + q] = sp * sq
        self.h_idx, self.h_sign = h_idx, h_sign
        self.g_idx = np.array([par[p][0] * ncol + col_of[() if par[p][1] is None
                                                          else (par[p][1],)]
                               for p in range(self.P)])
        self.g_sign = np.array([par[p][2] for p in range(self.P)])
        self.ncol = ncol
        self.X = X
        self.B = [np.stack([np.ones(len(X), dtype), -X[:, c]]) for _, _, c in terms]

    def evaluate(self, theta, logL, w, delta):
        """Residuals ``[S, n]``, softmax weights ``[T, S, n]`` (``e``'s last) and ``f`` ``[S]``.

        The log-sum-exp is taken relative to ``e``: ``r = e + ln(1 + Σ_k q_k) − ln L`` with
        ``q_k = exp(c_k − e − p_k·x_k)``, and ``s_k = q_k / z``, ``s_e = 1 / z``. That is exact
        while no ``q_k`` overflows, which the box bounds guarantee for any design with
        ``|ln N|, |ln D|`` below ~200; a chunk that could overflow takes the max-shifted form.
        """
        S, n, T = theta.shape[0], len(logL), len(self.terms) + 1
        e = theta[:, self.e_idx]
        top = np.zeros(S)
        for ci, ei, c in self.terms:
            xc = self.X[:, c]
            top = np.maximum(top, theta[:, ci] - e + np.maximum(-theta[:, ei] * xc.min(),
                                                                 -theta[:, ei] * xc.max()))
        if not np.all(top < self.max_exponent):
            return self._evaluate_shifted(theta, logL, w, delta)
        t = np.empty((T, S, n), self.dtype)
        for k, (ci, ei, _) in enumerate(self.terms):  # c_k − e − p_k·x_k: [S,2] @ [2,n]
            np.matmul(np.stack([theta[:, ci] - e, theta[:, ei]], axis=1), self.B[k], out=t[k])
        q = t[:-1]
        np.exp(q, out=q)
        z = q[0] + 1.0
        for k in range(1, T - 1):
            z += q[k]
        r = np.log(z)
        r += np.subtract.outer(e, logL)
        np.divide(1.0, z, out=t[-1])
        q *= t[-1]
        return r, t, _huber_sum(r, w, delta)

    def _evaluate_shifted(self, theta, logL, w, delta):
        """:meth:`evaluate` with the log-sum-exp shifted by the largest term (never overflows)."""
        S, n, T = theta.shape[0], len(logL), len(self.terms) + 1
        t = np.empty((T, S, n), self.dtype)
        for k, (ci, ei, _) in enumerate(self.terms):
            np.matmul(theta[:, [ci, ei]], self.B[k], out=t[k])
        t[-1] = theta[:, self.e_idx, None]
        m = t.max(axis=0)
        t -= m
        np.exp(t, out=t)
        z = t.sum(axis=0)
        r = np.log(z)
        r += m
        r -= logL
        t /= z
        return r, t, _huber_sum(r, w, delta)

    def normal_equations(self, r, s, w, delta):
        """Gradient ``Jᵀψ(r)`` ``[S, P]`` and IRLS Gauss–Newton matrix ``JᵀWJ`` ``[S, P, P]``
        (``ψ(r) = clip(r, ±δ)·w``, ``W = w·min(1, δ/|r|) = w·δ/max(|r|, δ)``); ``w = None``:
        all ones. ``s`` are the softmax weights ``[T, S, n]`` of :meth:`evaluate`."""
        T, S, n = s.shape
        psi = np.clip(r, -delta, delta)
        irls = np.abs(r)
        np.maximum(irls, delta, out=irls)
        np.divide(delta, irls, out=irls)
        if w is not None:
            psi *= w
            irls *= w
        ncol = self.ncol
        G = np.empty((T, S, ncol), s.dtype)
        M = np.empty((len(self.pairs), S, ncol), s.dtype)
        tmp = np.empty((S, n), s.dtype)
        for k in range(T):
            np.multiply(s[k], psi, out=tmp)
            np.matmul(tmp, self.C, out=G[k])
        ws = s * irls
        for j, (k, m) in enumerate(self.pairs):
            np.multiply(ws[k], s[m], out=tmp)
            np.matmul(tmp, self.C, out=M[j])
        g = G.transpose(1, 0, 2).reshape(S, -1)[:, self.g_idx] * self.g_sign
        H = (M.transpose(1, 0, 2).reshape(S, -1)[:, self.h_idx] * self.h_sign).reshape(
            S, self.P, self.P)
        return g, H


def _huber_sum(r: np.ndarray, w: np.ndarray | None, delta: float) -> np.ndarray:
    """``Σ_i w_i·huber_δ(r_i)`` per row, as ``c·(|r| − c/2)`` with ``c = min(|r|, δ)`` (the
    same values as :func:`huber`, fewer temporaries); ``w = None``: all ones."""
    a = np.abs(r)
    c = np.minimum(a, delta)
    a -= 0.5 * c
    a *= c
    if w is None:
        return a.sum(axis=1)
    if w.shape[0] == 1:
        return a @ w[0]
    a *= w
    return a.sum(axis=1)


def batch_lm(form, theta0: np.ndarray, X: np.ndarray | None, logL: np.ndarray,
             bounds: np.ndarray, weights: np.ndarray | None = None,
             delta: float = HUBER_DELTA, max_iter: int = 300, tol: float = 1e-13, *,
             lam0: float = 1e-2, lam_min: float = 1e-9, lam_max: float = 1e12,
             damping: tuple[float, float] = (1e-12, 1e-15), hold_at_bounds: bool = True,
             precision: str = "double"):
    """Levenberg–Marquardt/IRLS from every row of ``theta0`` at once.

    Parameters
    ----------
    form : str or structure
        A law form's name (the Huber log-sum-exp objective of the module docstring), or a
        ready structure with ``evaluate(theta, data, w, delta) -> (r, s, f)`` and
        ``normal_equations(r, s, w, delta) -> (g, H)``, ``s`` laid out ``[·, S, n]`` (rows on
        axis 1): the joint multi-recipe law of :mod:`scaling.fit.joint`, the grokking
        sigmoids of :mod:`scaling.fit.grok`. A structure whose data differ per row has
        ``take(rows)``, the structure of those rows only.
    theta0 : array ``[S, P]``
        Starts (internal parameterisation).
    logL : array ``[n]`` or ``[S, n]``
        The data the residuals are taken against (per row when 2-D).
    bounds : array ``[P, 2]`` or ``[S, P, 2]``
        Box (per row when 3-D); steps are projected onto it.
    weights : array ``[S, n]`` or ``[n]``, optional
        Per-point multiplicities (bootstrap counts, masks); 1 when omitted.
    tol : float
        A start stops when its objective improves by less than ``tol·(f + 1e-12)``
        in a step that was accepted.
    lam0, lam_min, lam_max : float
        The damping's start, floor, and the value past which a start gives up (stops).
    damping : (float, float)
        The step solves ``(H + (λ·(diag H + d₀) + d₁)·I) Δ = −g``.
    hold_at_bounds : bool
        Hold a parameter on its bound whose descent points outward, and solve the step over
        the others (below); False: solve over all and clip (what the grokking fits always
        did: they keep their results).
    precision : {"double", "single"}
        The floating point of the residuals and the normal equations of a law form (the steps
        are solved in double): single, about twice as fast, serves to rank the starts of a
        screen (:func:`multistart`), never to end a fit.

    Returns
    -------
    theta : ``[S, P]``, f : ``[S]``, converged : ``[S]`` bool

    Only the rows still running are carried from one step to the next (a finished start's
    state is written out and dropped), and the normal equations come from
    :class:`_Structure`'s matrix products.
    """
    dtype = {"double": np.float64, "single": np.float32}[precision]
    st = _Structure(form, X, dtype) if isinstance(form, str) else form
    bounds = np.asarray(bounds, float)
    lo, hi = bounds[..., 0], bounds[..., 1]
    theta = np.clip(np.array(theta0, float), lo, hi)
    S, P = theta.shape
    w = None if weights is None else np.atleast_2d(weights).astype(dtype)
    data = np.asarray(logL, dtype)
    # what has one row per start, and is dropped with the start when it finishes
    w_rows, data_rows, box_rows = (w is not None and w.shape[0] > 1, data.ndim == 2,
                                   bounds.ndim == 3)
    f_out = np.empty(S)
    converged = np.zeros(S, bool)
    idx = np.arange(S)  # the rows still running; th, r, s, f, lam, w, … are aligned with it
    th = theta.astype(dtype)
    r, s, f = st.evaluate(th, data, w, delta)
    lam = np.full(S, lam0)
    eye = np.eye(P)
    d0, d1 = damping
    for _ in range(max_iter):
        if idx.size == 0:
            break
        g, H = st.normal_equations(r, s, w, delta)
        # a parameter on its bound whose descent direction points out of the box is held
        # there: the step is solved over the free parameters only. (Solving for all of them
        # and clipping afterwards points the free ones the wrong way; with E on its bound,
        # as on many real grids, no start converged in 300 steps.)
        held = ((th <= lo) & (g > 0)) | ((th >= hi) & (g < 0))
        if hold_at_bounds and held.any():
            free = ~held
            g = np.where(free, g, 0.0)
            H = H * (free[:, :, None] & free[:, None, :]) + held[:, :, None] * eye
        dH = np.einsum("spp->sp", H)
        A = H + (lam[:, None, None] * (dH[:, :, None] + d0) + d1) * eye
        try:
            step = -np.linalg.solve(A, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -g / (np.einsum("spp->sp", A) + 1e-12)
        step = np.where(np.isfinite(step), step, 0.0)
        cand = np.clip(th + step, lo, hi).astype(dtype, copy=False)
        rc, sc, fc = st.evaluate(cand, data, w, delta)
        better = fc < f
        improvement = np.where(better, f - fc, 0.0)
        if better.all():
            th, r, s, f = cand, rc, sc, fc
        else:
            np.copyto(th, cand, where=better[:, None])
            np.copyto(r, rc, where=better[:, None])
            np.copyto(s, sc, where=better[None, :, None])
            np.copyto(f, fc, where=better)
        lam = np.where(better, np.maximum(lam * 0.3, lam_min), lam * 10.0)
        done = (better & (improvement <= tol * (fc + 1e-12))) | (lam > lam_max)
        if done.any():
            fin = idx[done]
            theta[fin], f_out[fin], converged[fin] = th[done], f[done], True
            keep = ~done
            idx, th, r, s, f, lam = idx[keep], th[keep], r[keep], s[:, keep], f[keep], lam[keep]
            if w_rows:
                w = w[keep]
            if data_rows:
                data = data[keep]
            if box_rows:
                lo, hi = lo[keep], hi[keep]
            if hasattr(st, "take"):
                st = st.take(keep)
    theta[idx], f_out[idx] = th, f
    return theta, f_out, converged


#: Stopping tolerance of the bootstrap resamples' solves (:func:`batch_lm`'s ``tol``). A
#: resample only has to land well inside the spread of the resamples: at 1e-10 its
#: parameters have settled to ~1e-5, and on the Huber objective of real grids (most points
#: past δ, where IRLS converges linearly) it takes about half the steps of the point fits' 1e-13.
BOOTSTRAP_TOL = 1e-10

#: Rows × points per batch. Small batches keep the working arrays in cache; large ones were
#: slower per element (fresh multi-MB temporaries are page-faulted in on every operation).
MAX_BATCH_ELEMENTS = 32_768


def one_blas_thread(fn):
    """Run ``fn`` with one BLAS thread: the solver's matrix products and L-BFGS-B's own linear
    algebra are small, and OpenBLAS worker threads spinning on shared cores cost more than
    they give (on a busy 2-core machine a 240-point fit took 8 s of CPU with the default
    threads, 3 s with one; one L-BFGS-B polish 0.73 s against 0.07 s).

    The limit reaches the BLAS libraries loaded when it is set (numpy's); scipy's, which
    L-BFGS-B runs on, is loaded only by a polish, which limits it itself (:func:`polish`):
    a fit whose search converges never imports scipy (~0.3 s of a command's start)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _one_thread[0]:  # already inside: limiting again costs ~2 ms
            return fn(*args, **kwargs)
        with _blas_limit():
            _one_thread[0] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                _one_thread[0] -= 1

    return wrapper


def _blas_limit():
    """A context that limits the loaded BLAS libraries to one thread (a no-op without the
    optional threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional speed-up only
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


_one_thread = [0]  # depth of one_blas_thread calls in progress


@one_blas_thread
def batch_lm_chunked(form, theta0, X, logL, bounds, weights=None, **kw):
    """:func:`batch_lm` in chunks of rows, so that many points × many starts fit in memory.

    Inside the prediction layer's commands (:func:`scaling.fit.solve_cache.enabled`) the result
    is read from the disk cache when the same solve was done before (same structure, starts,
    data, weights and options; :func:`scaling.fit.solve_cache.memo_lm`)."""
    from . import solve_cache

    if solve_cache.enabled():
        return solve_cache.memo_lm(_batch_lm_chunks, form, theta0, X, logL, bounds, weights, kw,
                                   source=Path(__file__).read_bytes(),
                                   salt=MAX_BATCH_ELEMENTS)
    return _batch_lm_chunks(form, theta0, X, logL, bounds, weights, kw)


def _batch_lm_chunks(form, theta0, X, logL, bounds, weights, kw):
    n = len(logL)
    step = max(1, MAX_BATCH_ELEMENTS // max(n, 1))
    if len(theta0) <= step:
        return batch_lm(form, theta0, X, logL, bounds, weights=weights, **kw)
    outs = []
    for i in range(0, len(theta0), step):
        w = None if weights is None or np.ndim(weights) == 1 else weights[i:i + step]
        outs.append(batch_lm(form, theta0[i:i + step], X, logL, bounds,
                             weights=weights if np.ndim(weights) == 1 else w, **kw))
    return tuple(np.concatenate(parts) for parts in zip(*outs, strict=True))


def _f_and_grad(theta, form, X, logL, weights, delta):
    r, J = residuals_jacobian(form, theta[None, :], X, logL)
    r, J = r[0], J[0]
    w = 1.0 if weights is None else weights
    f = float((huber(r, delta) * w).sum())
    g = J.T @ (np.clip(r, -delta, delta) * w)
    return f, g


#: L-BFGS-B options used for polishing (and by the benchmark's reference loop): the default
#: ftol is absolute for objectives below 1, which stops far too early on Huber sums ~1e-4.
LBFGS_OPTIONS = {"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000}


def polish(form: str, theta0: np.ndarray, X: np.ndarray, logL: np.ndarray, bounds: np.ndarray,
           weights: np.ndarray | None = None, delta: float = HUBER_DELTA):
    """scipy L-BFGS-B from one start on the exact objective; returns ``OptimizeResult``.

    scipy is imported here, on the first polish (with one BLAS thread, its own included)."""
    from scipy.optimize import minimize

    with _blas_limit():
        return minimize(_f_and_grad, np.asarray(theta0, float),
                        args=(form, X, logL, weights, delta), jac=True, method="L-BFGS-B",
                        bounds=[tuple(b) for b in bounds], options=LBFGS_OPTIONS)


def distinct_best(theta: np.ndarray, f: np.ndarray, k: int, tol: float = 1e-3) -> np.ndarray:
    """Indices of the ``k`` lowest objectives whose parameter rows differ by more than ``tol``."""
    order = np.argsort(f)
    keep: list[int] = []
    for i in order:
        if not np.isfinite(f[i]):
            continue
        if all(np.max(np.abs(theta[i] - theta[j])) > tol for j in keep):
            keep.append(int(i))
        if len(keep) == k:
            break
    return np.array(keep, int)


#: The multistart's screen: ``(LM steps, share of the starts kept, precision)`` per stage. All
#: starts take 3 steps, the best 20% 9 more, and the best 5% (at least 50) of the grid continue
#: to convergence: the same 12 screening steps of every finalist as a flat 12-step screen of
#: all starts, in 40% of the steps (4,500·3 + 900·9 instead of 4,500·12), each about twice
#: as fast in single precision.
SCREEN = ((3, 0.20, "single"), (9, 0.05, "single"))


@one_blas_thread
def multistart(form: str, starts: np.ndarray, X: np.ndarray, logL: np.ndarray,
               bounds: np.ndarray, delta: float = HUBER_DELTA, n_polish: int = 5,
               screen: tuple[tuple[int, float, str], ...] = SCREEN):
    """Batched LM from every start, then L-BFGS-B polish of those of the best distinct few
    that the LM did not finish.

    The starts are screened in stages (:data:`SCREEN`): each stage takes a few LM steps
    from the starts still in the race (in single precision: only their ranking matters) and
    keeps the best share of the grid. The last stage's survivors (5%, at least 50) continue to
    convergence in double precision, first to :data:`BOOTSTRAP_TOL`, then the ``n_polish``
    best distinct optima on to the full tolerance (1e-13). Of those, the ones the LM left
    unfinished (at its step limit) are polished with L-BFGS-B on the exact objective; a
    finished one is a local optimum, which polishing moved by < 4e-14 in f on 246 fits (the
    reference grid's laws and 80 random synthetic ones). After a few damped Gauss–Newton steps
    the starts that will end in the global basin already lead by orders of magnitude in ``f``,
    so the screen loses nothing in practice: on 152 laws (the reference grid's, 120 synthetic
    ones of every shape) it found the flat 12-step screen's optimum to 5e-13 in f but for two
    whose optimum is a flat valley (3e-9, 2e-8); ``analysis/bench/bench_fit.py`` checks the
    result against a full loop of L-BFGS-B from all starts.

    Returns ``(theta_best, f_best, info)``; ``info`` holds the LM optima of the continued
    starts (``theta``, ``f``, ``converged_lm``), the polish result of the winner (None when
    it was not polished), which start won (``best``), and how many starts were screened.
    """
    theta = np.asarray(starts, float)
    for steps, share, precision in screen:
        n_keep = min(len(theta), max(50, int(np.ceil(share * len(starts)))))
        theta, f, _ = batch_lm_chunked(form, theta, X, logL, bounds, delta=delta,
                                       max_iter=steps, precision=precision)
        theta = theta[np.argsort(np.where(np.isfinite(f), f, np.inf))[:n_keep]]
    # the finalists to BOOTSTRAP_TOL (parameters settled to ~1e-5: enough to rank the optima),
    # the best distinct few of them on to the full tolerance
    theta, f, conv = batch_lm_chunked(form, theta, X, logL, bounds, delta=delta,
                                      tol=BOOTSTRAP_TOL)
    idx = distinct_best(theta, f, n_polish)
    theta[idx], f[idx], conv[idx] = batch_lm_chunked(form, theta[idx], X, logL, bounds,
                                                     delta=delta)
    idx = idx[np.argsort(f[idx], kind="stable")]
    best = int(idx[0])
    th, fb, res = theta[best].copy(), float(f[best]), None
    for i in idx:
        if conv[i]:
            continue
        r = polish(form, theta[i], X, logL, bounds, delta=delta)
        if r.fun < fb:  # polishing never makes it worse
            th, fb, res, best = np.asarray(r.x, float), float(r.fun), r, int(i)
    return th, fb, {"theta": theta, "f": f, "converged_lm": conv, "result": res,
                    "n_starts": len(starts), "best": best}
