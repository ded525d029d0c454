"""Synthetic loss-law points shared by the fit tests: a Chinchilla grid with known parameters."""

import numpy as np

from scaling.fit import chinchilla

#: E, A, B, alpha, beta of the synthetic law
TRUTH = (1.8, 480.0, 2100.0, 0.35, 0.37)


def chinchilla_grid(k: int, noise: float = 0.005, seed: int = 0):
    """``N, D, L`` on a k × k grid of sizes 1e6–1e10 and budgets 1e7–1e12, with log-normal-ish
    relative noise."""
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e10, k),
                                           np.geomspace(1e7, 1e12, k), indexing="ij"))
    L = chinchilla(N, D, *TRUTH) * (1 + noise * rng.standard_normal(N.size))
    return N, D, L
