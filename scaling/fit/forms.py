"""Curve forms: pure, broadcasting functions whose argument names are the parameter names.

Bounds and start grids live next to each form. The fitters (``laws``, ``grok``, ``mixture``)
work in the *internal* parameterisation noted under each form; the forms below take the
natural parameters that users read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- loss laws


def chinchilla(N, D, E, A, B, alpha, beta):
    r"""Chinchilla loss law (Hoffmann et al. 2022).

    .. math:: L(N, D) = E + A / N^{\alpha} + B / D^{\beta}

    ``N`` non-embedding parameters, ``D`` training tokens. Fitted internally as
    ``(e, a, b, alpha, beta)`` with ``E = exp(e)``, ``A = exp(a)``, ``B = exp(b)``.
    """
    N, D = np.asarray(N, float), np.asarray(D, float)
    return E + A * N ** (-alpha) + B * D ** (-beta)


def power(D, E, B, beta):
    r"""Saturating power law in data: :math:`L(D) = E + B \cdot D^{-\beta}`.

    Fitted internally as ``(e, b, beta)`` with ``E = exp(e)``, ``B = exp(b)``.
    """
    return E + B * np.asarray(D, float) ** (-beta)


def chinchilla_invert(L, N, E, A, B, alpha, beta):
    r"""Tokens at which :func:`chinchilla` reaches loss ``L`` at size ``N``.

    .. math:: D = \left(\frac{B}{L - E - A/N^{\alpha}}\right)^{1/\beta}

    ``inf`` where ``L`` is at or below the size's floor ``E + A/N^alpha`` (unreachable),
    NaN where the parameters are not finite. Broadcasts over every argument, so passing
    column vectors of bootstrap samples inverts all samples at once.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gap = np.asarray(L, float) - E - A * np.asarray(N, float) ** (-alpha)
        D = np.where(gap > 0, (B / np.where(gap > 0, gap, 1.0)) ** (1.0 / beta), np.inf)
    bad = ~(np.isfinite(E) & np.isfinite(A) & np.isfinite(B) & np.isfinite(alpha)
            & np.isfinite(beta)) | np.isnan(np.asarray(L, float))
    return np.where(bad, np.nan, D)


def power_invert(L, E, B, beta):
    r"""Tokens at which :func:`power` reaches ``L``: :math:`D = (B/(L-E))^{1/\beta}`."""
    return chinchilla_invert(L, 1.0, E, 0.0, B, 0.0, beta)


@dataclass(frozen=True, eq=False)
class LawForm:
    """Everything that differs between the loss-law forms, in one object per form.

    The fitters work in the *internal* parameterisation (``e, a, b`` = logs of ``E, A, B``,
    exponents as they are); users read the natural ``names``. The model is a log-sum-exp of
    power terms and the floor: ``ln L = LSE(c_k − p_k·x_k, e)`` with ``x_k`` a log covariate
    (column 0: ln N, column 1: ln D of :meth:`design`); ``terms`` lists each term as
    (index of c_k, index of p_k, covariate column).
    """

    name: str
    internal: tuple[str, ...]
    names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    grid: dict
    """Start grid axis per internal name (the Besiroglu et al. (2024) grid)."""
    uses_size: bool
    """L(N, D) (``chinchilla``) or L(D) at one model size (``power``)."""
    terms: tuple[tuple[int, int, int], ...]

    @property
    def e_index(self) -> int:
        """Position of ``e = ln E`` among the internal parameters."""
        return self.internal.index("e")

    @property
    def columns(self) -> list[str]:
        """The table columns a fit of this form reads (besides the loss)."""
        return ["params", "tokens"] if self.uses_size else ["tokens"]

    def start_grid(self) -> np.ndarray:
        """All combinations of the start grid, ``[n_starts, n_params]`` (for ``chinchilla``
        the 5·6·6·5·5 = 4,500 starts of Besiroglu et al. 2024)."""
        mesh = np.meshgrid(*(self.grid[k] for k in self.internal), indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)

    def to_natural(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Internal ``theta[..., k]`` → natural parameters (E, A, B = exp of e, a, b)."""
        theta = np.asarray(theta, float)
        return {name: np.exp(theta[..., k]) if iname in ("e", "a", "b") else theta[..., k]
                for k, (iname, name) in enumerate(zip(self.internal, self.names, strict=True))}

    def design(self, N, D) -> np.ndarray:
        """Log covariates ``[n, 2]`` (ln N, ln D); ln N = 0 where the form has no size."""
        lD = np.log(np.asarray(D, float))
        lN = np.log(np.asarray(N, float)) if self.uses_size else np.zeros_like(lD)
        return np.stack([lN, lD], axis=1)

    def loss(self, p: dict, N, D):
        """The law at ``(N, D)`` for natural parameters ``p`` (arrays broadcast: bootstrap
        samples as column vectors evaluate all at once); ``N`` is ignored without a size."""
        if self.uses_size:
            return chinchilla(N, D, p["E"], p["A"], p["B"], p["alpha"], p["beta"])
        return power(D, p["E"], p["B"], p["beta"])

    def invert(self, p: dict, L, N=None):
        """Tokens at which the law reaches loss ``L`` (at size ``N``); inf below the floor."""
        if self.uses_size:
            if N is None:
                raise TypeError(f"{self.name} invert needs N")
            return chinchilla_invert(L, N, p["E"], p["A"], p["B"], p["alpha"], p["beta"])
        return power_invert(L, p["E"], p["B"], p["beta"])

    def floor(self, p: dict, N):
        """The loss no budget gets below at size ``N``: E (+ A/N^alpha with a size term)."""
        return p["E"] + (p["A"] * np.asarray(N, float) ** (-p["alpha"]) if self.uses_size
                         else 0.0)


#: Generous bounds: an optimum touching one is reported as a warning, never silently accepted.
#: The start grid: alpha, beta in {0, 0.5, ..., 2}; e in {-1, -0.5, ..., 1}; a, b in {0, 5, ..., 25}.
CHINCHILLA = LawForm(
    name="chinchilla", internal=("e", "a", "b", "alpha", "beta"),
    names=("E", "A", "B", "alpha", "beta"),
    bounds=((-10.0, 5.0), (-10.0, 60.0), (-10.0, 60.0), (0.0, 3.0), (0.0, 3.0)),
    grid={"e": np.arange(-1.0, 1.01, 0.5), "a": np.arange(0.0, 25.1, 5.0),
          "b": np.arange(0.0, 25.1, 5.0), "alpha": np.arange(0.0, 2.01, 0.5),
          "beta": np.arange(0.0, 2.01, 0.5)},
    uses_size=True, terms=((1, 3, 0), (2, 4, 1)))
POWER = LawForm(
    name="power", internal=("e", "b", "beta"), names=("E", "B", "beta"),
    bounds=((-10.0, 5.0), (-10.0, 60.0), (0.0, 3.0)),
    grid={"e": np.arange(-1.0, 1.01, 0.5), "b": np.arange(0.0, 25.1, 5.0),
          "beta": np.arange(0.0, 2.01, 0.5)},
    uses_size=False, terms=((1, 2, 1),))
#: The loss-law forms by name.
LAW_FORMS = {f.name: f for f in (CHINCHILLA, POWER)}


def law_form(form: str | LawForm) -> LawForm:
    """The :class:`LawForm` named ``form`` (a form passes through)."""
    if isinstance(form, LawForm):
        return form
    try:
        return LAW_FORMS[form]
    except (KeyError, TypeError):
        from ..errors import ScalingError

        raise ScalingError(f"unknown form {form!r}; known: {', '.join(LAW_FORMS)}") from None


# --------------------------------------------------------------------------- grokking


def sigmoid_log(tokens, floor, ceiling, midpoint, width):
    r"""Sigmoid in log-tokens with floor and ceiling (a skill's grokking curve).

    .. math:: y = f + \frac{c - f}{1 + \exp(-(\ln t - \ln t_{1/2}) / w)}

    ``midpoint`` :math:`t_{1/2}` is in tokens (the grokking time), ``width`` :math:`w` in
    natural-log tokens (the rise from 27% to 73% of the way spans 2w). Internally fitted as
    ``(floor, ceiling, m = ln midpoint, log w)``.
    """
    x = np.log(np.asarray(tokens, float))
    z = np.clip((x - np.log(midpoint)) / width, -500, 500)
    return floor + (ceiling - floor) / (1.0 + np.exp(-z))


def linear_log(tokens, intercept, slope):
    r"""Straight line in log-tokens: :math:`y = i + s \ln t` (the "still rising" alternative)."""
    return intercept + slope * np.log(np.asarray(tokens, float))


def flat(tokens, level):
    """Constant curve: :math:`y = \\ell` (the "nothing happens" alternative)."""
    return np.full(np.shape(tokens), level, dtype=float)


#: Lower bound on the sigmoid width (ln-tokens): a step sharper than this is not resolvable
#: between log-spaced checkpoints and makes the midpoint's stderr meaningless.
GROK_MIN_WIDTH = 0.02

# --------------------------------------------------------------------------- mixtures


def mixing_law(X, c, k, t):
    r"""Data mixing law (Ye et al. 2024): :math:`L = c + k \exp(\sum_j t_j r_j)`.

    ``X`` is ``[n, n_domains]`` mixture weights ``r``; ``t`` a vector of ``n_domains``.
    """
    return c + k * np.exp(np.asarray(X, float) @ np.asarray(t, float))
