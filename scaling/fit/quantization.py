"""A simulator of the quantization model of neural scaling (Michaud et al. 2023).

Skills ("quanta") k = 1, 2, … have Zipfian use frequencies

.. math:: p_k = k^{-(\\alpha+1)} / \\sum_j j^{-(\\alpha+1)}

and are learned in order of frequency: skill k is picked up once the model has seen about
``threshold`` of its uses, i.e. around ``D_k = threshold / p_k`` tokens, along a sigmoid in
log-tokens of width ``width``. Each unlearned skill costs ``gap · p_k`` of loss, so

.. math:: L(D) = L_\\infty + \\text{gap} \\sum_k p_k (1 - \\text{acc}_k(D))

With n(D) ∝ D^{1/(α+1)} skills learned, the unlearned mass Σ_{k>n} p_k ∝ n^{-α} gives
L − L∞ ∝ D^{-α/(α+1)}: the data exponent of the paper. Used by tests and notebooks to check
the aggregation fit (:mod:`scaling.fit.aggregate`) against known truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .forms import sigmoid_log


@dataclass
class QuantaSimulation:
    """What :func:`simulate_quanta` returns.

    Attributes
    ----------
    tokens : array ``[T]``
    loss : array ``[T]`` — the aggregate loss (with noise if asked)
    acc : array ``[T, K]`` — accuracy of each skill (with noise if asked)
    freq : array ``[K]`` — use frequency p_k (sums to 1)
    midpoints : array ``[K]`` — tokens at which each skill is half learned
    alpha : float — Zipf parameter (frequencies ∝ k^-(alpha+1))
    floor, gap : float
    """

    tokens: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    freq: np.ndarray
    midpoints: np.ndarray
    alpha: float
    floor: float
    gap: float

    @property
    def data_exponent(self) -> float:
        """The exponent the model predicts for L(D): α/(α+1)."""
        return self.alpha / (self.alpha + 1)

    def skill_frame(self, skills: int | None = None) -> pd.DataFrame:
        """Long ``curve, tokens, value`` frame of the first ``skills`` skill curves."""
        K = self.acc.shape[1] if skills is None else min(skills, self.acc.shape[1])
        return pd.DataFrame({
            "curve": np.repeat([f"skill{k + 1}" for k in range(K)], len(self.tokens)),
            "tokens": np.tile(self.tokens, K),
            "value": self.acc[:, :K].T.ravel(),
        })


def simulate_quanta(n_skills: int = 20000, alpha: float = 0.5, tokens=None,
                    threshold: float = 1.0, width: float = 0.3, floor: float = 1.0,
                    gap: float = 3.0, noise: float = 0.0, acc_noise: float = 0.0,
                    seed: int = 0) -> QuantaSimulation:
    """Simulate skill curves and the aggregate loss under the quantization model.

    Parameters
    ----------
    n_skills : int
        Number of quanta K.
    alpha : float
        Zipf parameter: p_k ∝ k^-(alpha+1); the predicted data exponent is alpha/(alpha+1).
    tokens : array, optional
        Token counts to evaluate at (default: 40 log-spaced points over the range where
        10 to K/20 skills are learned, where the power law is clean).
    threshold : float
        Uses of a skill needed to learn it (sets D_k = threshold / p_k).
    width : float
        Width of each skill's sigmoid in ln-tokens.
    floor, gap : float
        Irreducible loss and the loss of a fully unlearned model above the floor.
    noise : float
        Relative Gaussian noise on the loss (e.g. 0.005).
    acc_noise : float
        Absolute Gaussian noise on the accuracies.
    seed : int
    """
    rng = np.random.default_rng(seed)
    k = np.arange(1, n_skills + 1, dtype=float)
    w = k ** -(alpha + 1)
    p = w / w.sum()
    mids = threshold / p
    if tokens is None:
        tokens = np.geomspace(mids[9], mids[max(n_skills // 20, 10)], 40)
    tokens = np.asarray(tokens, float)
    acc = sigmoid_log(tokens[:, None], 0.0, 1.0, mids[None, :], width)
    loss = floor + gap * ((1 - acc) @ p)
    if noise:
        loss = loss * (1 + noise * rng.standard_normal(loss.shape))
    if acc_noise:
        acc = acc + acc_noise * rng.standard_normal(acc.shape)
    return QuantaSimulation(tokens=tokens, loss=loss, acc=acc, freq=p, midpoints=mids,
                            alpha=alpha, floor=floor, gap=gap)
