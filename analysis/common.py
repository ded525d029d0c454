"""What every study shares: the run stores, cached grids, intervals, figure output.

A :class:`Context` is built once by ``reproduce.py`` and handed to each study's ``run``;
it caches :func:`scaling.predict.load_grid` per target domain (a grid caches its fitted
laws, so studies that ask about the same recipes fit them once).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures go to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import norm  # noqa: E402

import scaling  # noqa: E402
from scaling.errors import ScalingError  # noqa: E402
from scaling.predict import load_grid  # noqa: E402

#: Interval level of every number the studies report.
LEVEL = 0.9
#: The grid's baseline recipe.
BASELINE = "prose=1"


@dataclass
class Context:
    """Inputs and caches shared by the studies.

    Attributes
    ----------
    runs : Path
        The reference store (``runs/reference``).
    targets : Path or None
        The extra store of study 2's code/math targets (``runs/targets``), if it exists.
    out : Path
        Where ``figures/`` go (``analysis/``).
    bootstrap : int
        Bootstrap resamples per fitted law.
    probe_n : int
        Items per probe evaluation (from the grid spec; for binomial intervals).
    command : str
        The command that reproduces the numbers (printed next to each of them).
    """

    runs: Path
    targets: Path | None
    out: Path
    bootstrap: int = 100
    seed: int = 0
    probe_n: int = 32
    command: str = "python analysis/reproduce.py --all"
    merged: dict = field(default_factory=dict)
    """``{domain: [sizes]}`` of the extra runs merged into the reference grid."""
    _grids: dict = field(default_factory=dict, repr=False)
    _metrics: dict = field(default_factory=dict, repr=False)

    def grid(self, domain: str = "prose", store: Path | None = None):
        """The :class:`scaling.predict.Grid` of ``store`` for one target domain (cached).

        Without ``store``: the reference grid, plus the end points of ``targets`` runs whose
        recipe the reference grid has (e.g. larger sizes of a reference recipe run into it),
        so the per-recipe laws see every size we trained."""
        key = (str(store or self.runs), domain, store is None)
        if key in self._grids:
            return self._grids[key]
        g = load_grid(Path(store or self.runs), domain)
        if store is None and self.targets is not None and Path(self.targets).exists():
            try:
                extra = load_grid(Path(self.targets), domain).points
            except ScalingError:  # no such domain there: nothing to add
                extra = None
            if extra is not None:
                extra = extra[extra["recipe"].isin(g.recipes)]
                if len(extra):
                    merged = g.with_points(extra)
                    merged.skill_records = g.skill_records
                    merged.notes.append(f"{extra['run'].nunique()} runs merged from "
                                        f"{self.targets}")
                    self.merged[domain] = sorted(float(x) for x in extra["params"].unique())
                    g = merged
        self._grids[key] = g
        return g

    def metrics(self, store: Path | None = None) -> pd.DataFrame:
        """``load_runs(store).metrics`` (cached)."""
        store = Path(store or self.runs)
        if str(store) not in self._metrics:
            self._metrics[str(store)] = scaling.load_runs(store).metrics
        return self._metrics[str(store)]

    def cmd(self, study: int) -> str:
        return f"{self.command.split(' --')[0]} --study {study}" + (
            f" --runs {self.runs}" if str(self.runs) != "runs/reference" else "")

    def figure(self, fig, name: str) -> str:
        """Save a figure under ``figures/`` (small PNG) and return its relative path."""
        path = self.out / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80, bbox_inches="tight")
        plt.close(fig)
        return f"figures/{name}.png"


def probe_n_from_spec(spec: Path, default: int = 32) -> int:
    """``train.probe_n`` of a grid spec (items per probe evaluation)."""
    try:
        return int(tomllib.loads(Path(spec).read_text())["train"].get("probe_n", default))
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return default


def wilson(k: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    r"""Wilson score interval of a binomial proportion k/n.

    .. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}
    """
    if n <= 0:
        return float("nan"), float("nan")
    z = float(norm.ppf((1 + level) / 2))
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = mid - half, mid + half
    # at k = 0 (k = n) the end is 0 (1) up to rounding
    return (0.0 if lo < 1e-12 else float(lo)), (1.0 if hi > 1 - 1e-12 else float(hi))


def final_records(metrics: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The last main-run record (no decay branch) of each run and name of one ``kind``."""
    m = metrics[metrics["kind"] == kind]
    if "branch" in m.columns:
        m = m[m["branch"].isna()]
    m = m.sort_values("tokens")
    last = m.groupby(["run_id", "name"], as_index=False).tail(1)
    run_tokens = metrics.groupby("run_id")["tokens"].max()
    return last.assign(run_tokens=last["run_id"].map(run_tokens))


def pooled_accuracy(final: pd.DataFrame, probe_n: int, level: float = LEVEL) -> pd.DataFrame:
    """Accuracy of each (recipe, n_params, probe) pooled over runs: k correct of
    ``probe_n × runs`` items, with a Wilson interval."""
    rows = []
    for (recipe, n, name), g in final.groupby(["recipe", "n_params", "name"]):
        k = float(np.round(g["value"] * probe_n).sum())
        tot = probe_n * len(g)
        lo, hi = wilson(k, tot, level)
        rows.append({"recipe": recipe, "n_params": float(n), "probe": name,
                     "accuracy": k / tot, "lower": lo, "upper": hi, "runs": len(g),
                     "items": tot})
    return pd.DataFrame(rows)


def fmt_interval(x, lo, hi, digits: int = 3, missing: str = "n/a") -> str:
    """``0.962 [0.786, 1.24]`` (``never`` for infinite ends, ``missing`` for absent ones —
    results.json stores ``inf`` as null, so savings pass ``missing="never"``)."""
    def f(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return missing
        # percentile ends interpolated towards never-reached samples (stored as 1e300)
        return "never" if not np.isfinite(v) or abs(v) > 1e250 else f"{v:.{digits}g}"
    return f"{f(x)} [{f(lo)}, {f(hi)}]"


def jsonable(obj):
    """Numbers and containers made JSON-safe (NaN/inf → None)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def errbars(v, lo, hi) -> list[np.ndarray]:
    """``yerr`` for ``errorbar`` from an interval (clipped at 0: a percentile interval may
    exclude the point estimate; missing or infinite ends draw no bar)."""
    v, lo, hi = (np.asarray(x, float) for x in (v, lo, hi))
    return [np.nan_to_num(np.clip(v - lo, 0, None), nan=0.0, posinf=0.0),
            np.nan_to_num(np.clip(hi - v, 0, None), nan=0.0, posinf=0.0)]
