"""Mixture laws: predict a target loss from mixture weights (``mix_*`` columns).

Candidates (Ye et al. 2024, "data mixing laws"; Liu et al. 2024, RegMix):

- ``mixing_law``  ``L = c + k·exp(Σ_j t_j r_j)`` — nonlinear least squares (scipy);
- ``quadratic``   ridge regression on ``r_j`` and ``r_i r_j`` (all pairs);
- ``kernel``      kernel ridge regression with a Gaussian kernel on the weights, its length
  scale and ridge chosen by exact leave-one-out error inside every fit (no peeking at the
  outer folds);
- ``boosted``     gradient-boosted regression trees (scikit-learn's
  ``HistGradientBoostingRegressor``; RegMix's regressor family): no functional form, so it
  can follow a response with thresholds or interactions the smooth candidates cannot;
  shallow trees, shrinkage 0.05 and leaves of ≥ 1/8 of the rows, for tables of tens of
  mixtures.

The model is chosen by K-fold cross-validated mean squared error; the report gives each
candidate's CV error and Spearman ρ of the out-of-fold predictions (the field's yardstick).
Prediction intervals are split-conformal: ± the ``level`` quantile of the chosen model's
absolute out-of-fold residuals (with the finite-sample correction), so they cover new
mixtures drawn like the training ones at about the stated rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.stats import spearmanr

from ..jsonsafe import finite_or_none as _f
from ..tables import TableError, read_csv, require_numeric
from .forms import mixing_law
from .laws import FitError

MODELS = ("mixing_law", "quadratic", "kernel", "boosted")


# --------------------------------------------------------------------------- candidates


class _MixingLaw:
    name = "mixing_law"

    def fit(self, X, y):
        c0 = float(y.min()) - 0.1 * float(np.ptp(y) + 1e-9)
        A = np.column_stack([np.ones(len(X)), X])
        sol0 = np.linalg.lstsq(A, np.log(np.maximum(y - c0, 1e-12)), rcond=None)[0]
        th0 = np.concatenate([[c0, sol0[0]], sol0[1:]])

        def resid(th):
            return th[0] + np.exp(th[1] + X @ th[2:]) - y

        sol = least_squares(resid, th0, method="trf", x_scale="jac", max_nfev=2000)
        self.theta = sol.x
        return self

    def predict(self, X):
        th = self.theta
        return mixing_law(X, th[0], np.exp(th[1]), th[2:])

    def params(self, names):
        th = self.theta
        return {"c": th[0], "k": float(np.exp(th[1])),
                **{f"t[{n}]": v for n, v in zip(names, th[2:], strict=True)}}


def _quad_features(X):
    i, j = np.triu_indices(X.shape[1])
    return np.column_stack([X, X[:, i] * X[:, j]])


class _Quadratic:
    name = "quadratic"

    def __init__(self, ridge=1e-4):
        self.ridge = ridge

    def fit(self, X, y):
        F = _quad_features(X)
        self.mu, self.sd = F.mean(0), F.std(0) + 1e-12
        Z = (F - self.mu) / self.sd
        self.y0 = y.mean()
        self.w = np.linalg.solve(Z.T @ Z + self.ridge * len(y) * np.eye(Z.shape[1]),
                                 Z.T @ (y - self.y0))
        return self

    def predict(self, X):
        return self.y0 + ((_quad_features(X) - self.mu) / self.sd) @ self.w

    def params(self, names):
        return {"ridge": self.ridge}


class _Kernel:
    name = "kernel"
    SCALES = (0.1, 0.25, 0.6)
    RIDGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)

    def fit(self, X, y):
        self.X = X
        self.y0, self.ys = float(y.mean()), float(y.std() + 1e-12)
        yz = (y - self.y0) / self.ys
        d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        best = (np.inf, None)
        for ls in self.SCALES:
            K = np.exp(-d2 / (2 * ls * ls))
            ev, V = np.linalg.eigh(K)
            ev = np.clip(ev, 0, None)
            Vy = V.T @ yz
            for lam in self.RIDGES:
                # hat matrix H = K (K + λI)^-1; exact LOO residuals r_i / (1 − H_ii)
                f = ev / (ev + lam * len(y))
                fitted = V @ (f * Vy)
                h = np.einsum("ij,j,ij->i", V, f, V)
                loo = (yz - fitted) / np.maximum(1 - h, 1e-9)
                err = float(np.mean(loo ** 2))
                if err < best[0]:
                    best = (err, (ls, lam))
        self.ls, self.lam = best[1]
        K = np.exp(-d2 / (2 * self.ls ** 2))
        self.alpha = np.linalg.solve(K + self.lam * len(y) * np.eye(len(y)), yz)
        return self

    def predict(self, X):
        d2 = ((X[:, None, :] - self.X[None, :, :]) ** 2).sum(-1)
        return self.y0 + self.ys * (np.exp(-d2 / (2 * self.ls ** 2)) @ self.alpha)

    def params(self, names):
        return {"length_scale": self.ls, "ridge": self.lam}


class _Boosted:
    name = "boosted"
    ROUNDS, RATE, LEAVES = 200, 0.05, 8

    def fit(self, X, y):
        from sklearn.ensemble import HistGradientBoostingRegressor  # ~1 s: only when fitted

        self.min_leaf = max(2, len(y) // 8)
        self.model = HistGradientBoostingRegressor(
            max_iter=self.ROUNDS, learning_rate=self.RATE, max_leaf_nodes=self.LEAVES,
            min_samples_leaf=self.min_leaf, l2_regularization=1.0, early_stopping=False,
            random_state=0).fit(X, y)
        return self

    def predict(self, X):
        return self.model.predict(X)

    def params(self, names):
        return {"rounds": self.ROUNDS, "learning_rate": self.RATE,
                "max_leaf_nodes": self.LEAVES, "min_samples_leaf": self.min_leaf}


_MAKE = {"mixing_law": _MixingLaw, "quadratic": _Quadratic, "kernel": _Kernel,
         "boosted": _Boosted}


# --------------------------------------------------------------------------- result


@dataclass
class MixtureResult:
    """A mixture law chosen by cross-validation. Build with :func:`fit_mixture`.

    Attributes
    ----------
    model : str
        The chosen candidate.
    cv : DataFrame
        model, mse, spearman (out-of-fold, all candidates).
    spearman : float
        Cross-validated Spearman ρ of the chosen model.
    features : list of str
        The ``mix_*`` columns, in order.
    """

    model: str
    cv: pd.DataFrame
    spearman: float
    features: list[str]
    target: str
    halfwidth: float
    level: float
    n_train: int
    fitted: Any = None
    warnings: list[str] = field(default_factory=list)

    @property
    def params(self) -> pd.DataFrame:
        p = self.fitted.params([f.removeprefix("mix_") for f in self.features])
        return pd.DataFrame({"name": list(p), "value": [float(v) for v in p.values()],
                             "stderr": np.nan, "ci_low": np.nan, "ci_high": np.nan})

    def _X(self, X) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            X, _ = mixture_matrix(X, self.features)
        return np.atleast_2d(np.asarray(X, float))

    def predict(self, X) -> np.ndarray:
        """Target at mixtures ``X`` (a frame with the ``mix_*`` columns, or an array)."""
        return self.fitted.predict(self._X(X))

    def predict_interval(self, X, level: float | None = None):
        """Split-conformal interval (``level`` default: the fit's, 0.9)."""
        p = self.predict(X)
        h = self.halfwidth if level is None or level == self.level else \
            _conformal(self._oof_abs, level)
        return p - h, p + h

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "target": self.target, "features": self.features,
                "spearman": _f(self.spearman), "n_train": self.n_train,
                "cv": [{"model": r.model, "mse": _f(r.mse), "spearman": _f(r.spearman)}
                       for r in self.cv.itertuples()],
                "params": {r.name: _f(r.value) for r in self.params.itertuples()},
                "interval_halfwidth": _f(self.halfwidth), "level": self.level,
                "warnings": list(self.warnings)}

    def report(self) -> str:
        lines = [f"mixture law for {self.target} from {len(self.features)} domains, "
                 f"{self.n_train} mixtures; chosen: {self.model} (CV Spearman "
                 f"{self.spearman:.3f})",
                 self.cv.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                 f"{int(self.level * 100)}% prediction interval: ± {self.halfwidth:.4g}"]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def _conformal(abs_res: np.ndarray, level: float) -> float:
    n = len(abs_res)
    q = min(1.0, np.ceil((n + 1) * level) / n)
    return float(np.quantile(abs_res, q, method="higher"))


# --------------------------------------------------------------------------- API


def mixture_matrix(df: pd.DataFrame, features: list[str] | None = None,
                   source: str = "the table") -> tuple[np.ndarray, list[str]]:
    """The ``mix_*`` columns as a matrix (rows renormalised to sum to 1)."""
    if features is None:
        features = [c for c in df.columns if str(c).lower().startswith("mix_")]
        if not features:
            raise TableError(f"{source} has no mixture columns; name them mix_<domain> "
                             f"(columns present: {', '.join(map(str, df.columns))})")
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise TableError(f"{source} lacks mixture column(s) {', '.join(missing)} that the fit "
                         "was trained on")
    num = require_numeric(df, features, source=source)
    X = num[features].to_numpy(float)
    if np.isnan(X).any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(np.isnan(X).any(1))[:8])
        raise TableError(f"{source} has empty mixture weights in rows {rows}")
    if (X < 0).any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero((X < 0).any(1))[:8])
        raise TableError(f"mixture weights in {source} must be ≥ 0; rows {rows} are not")
    s = X.sum(1)
    if (s <= 0).any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(s <= 0)[:8])
        raise TableError(f"mixture weights in {source} are all zero in rows {rows}")
    return X / s[:, None], features


def fit_mixture(frame: pd.DataFrame, target: str, models=MODELS, folds: int = 5,
                level: float = 0.9, seed: int = 0) -> MixtureResult:
    """Fit a mixture law to ``frame`` (``mix_*`` columns + ``target``), chosen by K-fold CV.

    Parameters
    ----------
    frame : DataFrame
    target : str
        The column to predict (e.g. a validation loss).
    models : sequence of str
        Candidates among :data:`MODELS`.
    folds : int
        Folds of the cross-validation (at most the number of rows).
    level : float
        Coverage of the prediction intervals.
    seed : int
        Seed of the fold assignment.
    """
    if target not in frame.columns:
        raise TableError(f"no target column {target!r}; columns present: "
                         f"{', '.join(map(str, frame.columns))}")
    unknown = [m for m in models if m not in _MAKE]
    if unknown:
        raise FitError(f"unknown mixture model(s) {unknown}; known: {', '.join(MODELS)}")
    df = require_numeric(frame, [target])
    warnings = []
    nan = df[target].isna()
    if nan.any():
        warnings.append(f"{int(nan.sum())} rows without {target} dropped")
        df = df[~nan].reset_index(drop=True)
    X, feats = mixture_matrix(df)
    y = df[target].to_numpy(float)
    n = len(y)
    if n < max(10, 2 * folds):
        raise FitError(f"a mixture law needs at least {max(10, 2 * folds)} mixtures with a "
                       f"{target}; got {n}")
    rng = np.random.default_rng(seed)
    fold = rng.permutation(np.arange(n) % folds)
    oof = {m: np.empty(n) for m in models}
    for k in range(folds):
        tr, te = fold != k, fold == k
        for m in models:
            oof[m][te] = _MAKE[m]().fit(X[tr], y[tr]).predict(X[te])
    rows = []
    for m in models:
        ok = np.isfinite(oof[m])
        mse = float(np.mean((oof[m] - y) ** 2)) if ok.all() else np.inf
        rho = float(spearmanr(oof[m], y).statistic) if ok.all() else np.nan
        rows.append({"model": m, "mse": mse, "spearman": rho})
    cv = pd.DataFrame(rows)
    best = str(cv.loc[cv["mse"].idxmin(), "model"])
    fitted = _MAKE[best]().fit(X, y)
    abs_res = np.abs(oof[best] - y)
    res = MixtureResult(model=best, cv=cv, spearman=float(cv.set_index("model").loc[best,
                                                                                   "spearman"]),
                        features=feats, target=target, halfwidth=_conformal(abs_res, level),
                        level=level, n_train=n, fitted=fitted, warnings=warnings)
    res._oof_abs = abs_res
    return res


def fit_mixture_csv(path, target: str, **kw) -> MixtureResult:
    """:func:`fit_mixture` on a CSV file."""
    return fit_mixture(read_csv(path), target, **kw)
