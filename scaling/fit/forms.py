"""Curve forms: pure, broadcasting functions whose argument names are the parameter names.

Bounds and start grids live next to each form. The fitters (``laws``, ``grok``, ``mixture``)
work in the *internal* parameterisation noted under each form; the forms below take the
natural parameters that users read.
"""

from __future__ import annotations

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


#: Internal parameter names, bounds and the Besiroglu et al. (2024) start grid per law.
#: The grid: alpha, beta in {0, 0.5, ..., 2}; e in {-1, -0.5, ..., 1}; a, b in {0, 5, ..., 25}.
LAW_SPECS = {
    "chinchilla": {
        "internal": ("e", "a", "b", "alpha", "beta"),
        "names": ("E", "A", "B", "alpha", "beta"),
        # e = log E; a = log A; b = log B. Generous bounds: the optimum touching one is
        # reported as a warning, never silently accepted.
        "bounds": ((-10.0, 5.0), (-10.0, 60.0), (-10.0, 60.0), (0.0, 3.0), (0.0, 3.0)),
        "grid": {
            "e": np.arange(-1.0, 1.01, 0.5),
            "a": np.arange(0.0, 25.1, 5.0),
            "b": np.arange(0.0, 25.1, 5.0),
            "alpha": np.arange(0.0, 2.01, 0.5),
            "beta": np.arange(0.0, 2.01, 0.5),
        },
    },
    "power": {
        "internal": ("e", "b", "beta"),
        "names": ("E", "B", "beta"),
        "bounds": ((-10.0, 5.0), (-10.0, 60.0), (0.0, 3.0)),
        "grid": {
            "e": np.arange(-1.0, 1.01, 0.5),
            "b": np.arange(0.0, 25.1, 5.0),
            "beta": np.arange(0.0, 2.01, 0.5),
        },
    },
}


def start_grid(form: str) -> np.ndarray:
    """All combinations of the form's start grid, shape ``[n_starts, n_params]``.

    For ``chinchilla`` this is the 5·6·6·5·5 = 4,500 starts of Besiroglu et al. (2024).
    """
    spec = LAW_SPECS[form]
    axes = [spec["grid"][k] for k in spec["internal"]]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def to_natural(form: str, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Internal ``theta[..., k]`` → natural parameters (E, A, B = exp of e, a, b)."""
    theta = np.asarray(theta, float)
    spec = LAW_SPECS[form]
    out = {}
    for k, (iname, name) in enumerate(zip(spec["internal"], spec["names"], strict=True)):
        out[name] = np.exp(theta[..., k]) if iname in ("e", "a", "b") else theta[..., k]
    return out


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
