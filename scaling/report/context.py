"""Everything the report draws, read and fitted once: the store, the per-recipe laws, the
savings at the target, the skill fits, the aggregation fit and the backtest.

Each piece is computed on first use and cached; a piece the runs cannot support records *why*
(``missing``) instead of raising, so that the report always builds and says what is absent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..defaults import BASELINE, BOOTSTRAP, TARGET_FACTOR, TOKENS_PER_PARAM
from ..errors import ScalingError
from ..units import format_count


class Missing(ScalingError):
    """A report section the runs cannot support; the message says what is missing."""


def _one_blas_thread(fn):
    from ..predict.grid import one_blas_thread

    return one_blas_thread(fn)


def _cached(fn):
    """Cache a method's value *or* its :class:`Missing` error on the context."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(self):
        if name not in self._cache:
            try:
                self._cache[name] = (_one_blas_thread(fn)(self), None)
            except Missing as e:
                self._cache[name] = (None, e)
            except ScalingError as e:  # a fit the data cannot support: same treatment
                self._cache[name] = (None, Missing(str(e)))
        value, err = self._cache[name]
        if err is not None:
            raise err
        return value

    return property(wrapper)


@dataclass
class ReportContext:
    """The inputs of every page. Build with :func:`load_context`."""

    path: Path
    runs: pd.DataFrame                  # run table (all statuses)
    metrics: pd.DataFrame               # tidy records of completed runs
    domain: str | None
    grid: object | None                 # scaling.predict.Grid, None without usable points
    baseline: str | None
    bootstrap: int
    seed: int
    level: float
    size: float | None                  # headline target size
    problems: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def recipes(self) -> list[str]:
        """Recipes of the grid, baseline first, then by name."""
        if self.grid is None:
            return []
        rs = list(self.grid.recipes)
        if self.baseline in rs:
            rs.remove(self.baseline)
            rs.insert(0, self.baseline)
        return rs

    @property
    def sizes(self) -> np.ndarray:
        return np.array([]) if self.grid is None else self.grid.sizes()

    def need_grid(self) -> None:
        if self.grid is None:
            raise Missing("; ".join(self.problems) or "no usable runs")

    @property
    def tokens_rule(self) -> str:
        return f"{TOKENS_PER_PARAM:g} tokens per parameter"

    # ------------------------------------------------------------------ laws
    @_cached
    def fits(self) -> dict:
        """``{recipe: _Fits}``: the laws the savings use (chinchilla, or power at one size)."""
        from ..predict.savings import choose_fits

        self.need_grid()
        if self.baseline is None:
            raise Missing(self.problems[-1] if self.problems else "no baseline recipe")
        out, errors = {}, []
        for r in self.recipes:
            try:
                out[r] = choose_fits(self.grid, r, self.baseline, self.bootstrap, self.seed,
                                     self.level, self.size)
            except ScalingError as e:
                errors.append(f"{r}: {e}")
        self._cache["fit_errors"] = (errors, None)
        if not out:
            raise Missing("no recipe could be fitted: " + "; ".join(errors))
        return out

    @property
    def fit_errors(self) -> list[str]:
        return self._cache.get("fit_errors", ([], None))[0]

    @_cached
    def laws(self) -> dict:
        """``{recipe: LawResult}`` (each recipe's own law, as the savings use it)."""
        return {r: f.recipe for r, f in self.fits.items()}

    # ------------------------------------------------------------------ savings
    @_cached
    def savings(self) -> dict:
        """``{recipe: SavingsPrediction}`` at the headline size and budget (baseline left
        out)."""
        from ..predict import predict_savings

        out = {}
        for r in self.fits:
            if r == self.baseline:
                continue
            try:
                out[r] = predict_savings(self.grid, r, baseline=self.baseline, size=self.size,
                                         bootstrap=self.bootstrap, level=self.level,
                                         seed=self.seed, skills=False)
            except ScalingError as e:
                self.fit_errors.append(f"savings of {r}: {e}")
        if not out:
            raise Missing("no recipe other than the baseline could be compared with it"
                          + (f" ({'; '.join(self.fit_errors)})" if self.fit_errors else ""))
        return out

    @_cached
    def savings_by_size(self) -> pd.DataFrame:
        """``recipe, size, s, lo, hi, extrapolated`` from the smallest grid size to the
        target (log-spaced), every recipe."""
        from ..predict import predict_savings

        self.need_grid()
        sizes = self.sizes
        top = float(self.size)
        grid_n = list(sizes) + list(np.geomspace(sizes[-1], top, 5)[1:]) if top > sizes[-1] \
            else list(sizes)
        rows = []
        for r in self.savings:
            if self.fits[r].form != "chinchilla":
                continue
            for n in grid_n:
                p = predict_savings(self.grid, r, baseline=self.baseline, size=float(n),
                                    bootstrap=self.bootstrap, level=self.level, seed=self.seed,
                                    skills=False)
                rows.append({"recipe": r, "size": float(n), "s": p.savings_ratio,
                             "lo": p.interval[0], "hi": p.interval[1],
                             "extrapolated": p.extrapolated})
        if not rows:
            raise Missing("savings across model sizes need recipes with runs at ≥ 2 sizes "
                          f"(the grid has {self._sizes_text()})")
        return pd.DataFrame(rows)

    def _sizes_text(self) -> str:
        return ", ".join(map(format_count, self.sizes)) or "no sizes"

    # ------------------------------------------------------------------ skills
    @_cached
    def skill_table(self) -> pd.DataFrame:
        """Skill records of completed runs: ``curve, tokens, value, recipe, skill, run,
        resolution, params`` (:func:`scaling.fit.data.skill_table`, canonical recipe names);
        only the largest size that has them, and per recipe its longest runs (they hold the
        whole curve; shorter budgets end before late skills emerge)."""
        from ..fit.data import skill_table
        from ..predict.grid import canonical

        self.need_grid()
        sk = self.metrics[self.metrics["kind"] == "skill"] if len(self.metrics) else \
            self.metrics
        if sk is None or sk.empty:
            raise Missing("no skill records in the completed runs (the trainer writes them "
                          "when probes are on: probe_n > 0 in the grid spec)")
        t = skill_table(sk)
        t = t.assign(recipe=t["recipe"].map(canonical),
                     params=pd.to_numeric(sk["n_params"], errors="coerce").to_numpy(float))
        t = t[t["recipe"].isin(self.recipes)] if self.recipes else t
        if t.empty:
            raise Missing("skill records exist, but none from a recipe with val_loss end points")
        n = float(t["params"].max())
        t = t[np.isclose(t["params"], n)]
        longest = t.groupby("run")["tokens"].transform("max")
        top = t.assign(rt=longest).groupby("recipe")["rt"].transform("max")
        t = t[np.isclose(longest, top)]
        return t.reset_index(drop=True)

    @_cached
    def grok(self):
        """:class:`~scaling.fit.GrokResult` of every curve in :attr:`skill_table`."""
        from ..fit import fit_grok

        t = self.skill_table
        return fit_grok(t.drop(columns="params"), level=self.level)

    @_cached
    def emergence(self) -> pd.DataFrame:
        """``recipe, skill, midpoint, lo, hi, status`` (one row per recipe × skill; seeds
        averaged in ln-tokens over grokked curves)."""
        c = self.grok.curves
        rows = []
        for (r, k), g in c.groupby(["recipe", "skill"]):
            ok = g[g["grokked"]]
            if len(ok):
                lm = np.log(ok["midpoint"].to_numpy(float))
                rows.append({"recipe": r, "skill": k, "midpoint": float(np.exp(lm.mean())),
                             "lo": float(ok["midpoint_lo"].min()),
                             "hi": float(ok["midpoint_hi"].max()), "status": "grokked",
                             "n": len(ok), "of": len(g)})
            else:
                st = g["status"].mode().iloc[0]
                rows.append({"recipe": r, "skill": k, "midpoint": np.nan, "lo": np.nan,
                             "hi": np.nan, "status": st, "n": 0, "of": len(g)})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ aggregation
    @_cached
    def aggregate(self):
        """:func:`~scaling.fit.fit_aggregate` of the baseline's loss curve (largest size
        with skill records, its longest run, main branch) over that run's skill curves."""
        from ..fit import fit_aggregate

        t = self.skill_table
        b = self.baseline if self.baseline in set(t["recipe"]) else None
        if b is None:
            raise Missing(f"the baseline {self.baseline} has no skill records at the largest "
                          "size with probes")
        run = t[t["recipe"] == b].groupby("run")["tokens"].max().idxmax()
        m = self.metrics
        vl = m[(m["run_id"].astype(str) == run) & (m["kind"] == "val_loss")
               & (m["name"] == self.domain) & (m["tokens"] > 0)]
        if "branch" in vl.columns:
            vl = vl[vl["branch"].isna()]
        vl = vl.groupby("tokens", as_index=False)["value"].mean()
        if len(vl) < 4:
            raise Missing(f"run {run} (baseline) has {len(vl)} validation checkpoints; the "
                          "power-law fit of its loss curve needs ≥ 4")
        sk = t[t["run"] == run]
        skills = pd.DataFrame({"curve": sk["skill"], "tokens": sk["tokens"],
                               "value": sk["value"]})
        try:
            res = fit_aggregate(vl["tokens"].to_numpy(float), vl["value"].to_numpy(float),
                                skills, bootstrap=min(self.bootstrap, 100), seed=self.seed)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as e:
            # a numerical failure of the fit on these curves must not sink the whole report
            raise Missing(f"the aggregation fit failed on run {run} "
                          f"({type(e).__name__}: {e})") from None
        return {"run": run, "recipe": b, "size": float(t["params"].iloc[0]), "loss": vl,
                "skills": skills, "result": res}

    # ------------------------------------------------------------------ backtest
    @_cached
    def backtest(self):
        from ..predict import backtest

        self.need_grid()
        if len(self.sizes) < 3:
            raise Missing(f"a backtest holds out the largest size and fits the rest, so it needs "
                          f"≥ 3 model sizes; the grid has {self._sizes_text()}")
        return backtest(self.grid, baseline=self.baseline, bootstrap=self.bootstrap,
                        level=self.level, seed=self.seed)


def load_context(runs, target_domain: str | None = None, baseline: str | None = None,
                 size: float | None = None, bootstrap: int = BOOTSTRAP, seed: int = 0,
                 level: float = 0.9) -> ReportContext:
    """Read a run store once and set up the (lazy) computations of the report.

    Never raises for runs that cannot support a fit: :attr:`ReportContext.problems` says what
    is missing. A path that does not exist is the one error (a typo is not a report)."""
    from ..fit.data import val_loss_table
    from ..predict import load_grid
    from ..predict.grid import canonical
    from ..store import load_runs

    path = Path(runs)
    if not path.exists():
        raise ScalingError(f"no run store at {path}; pass --runs DIR (a folder of run "
                           "directories, e.g. one written by `scaling grid`)")
    loaded = load_runs(path)
    metrics, table = loaded.metrics, loaded.runs
    problems: list[str] = []
    grid, domain = None, target_domain
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    if table.empty:
        problems.append(f"no run directories under {path}")
    elif counts.get("done", 0) == 0:
        problems.append(f"no completed runs under {path}: "
                        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                        + " (finish or resume them with `scaling grid`)")
    else:
        try:
            law, domain = val_loss_table(metrics, target_domain, str(path))
            grid = load_grid(law)
            grid.domain, grid.source, grid.path = domain, str(path), path
            grid.skill_records = metrics[metrics["kind"] == "skill"]
        except ScalingError as e:
            problems.append(str(e))
    b = None
    if grid is not None:
        if baseline is not None:
            b = grid.resolve(baseline, "--baseline")
            if b is None:
                raise ScalingError(f"baseline {baseline!r} has no runs under {path}; recipes: "
                                   f"{', '.join(grid.recipes)}")
        elif BASELINE in grid.recipes:
            b = BASELINE
        else:
            problems.append(f"no {canonical(BASELINE)!r} runs to serve as the baseline; pass "
                            f"--baseline (recipes: {', '.join(grid.recipes)})")
        sizes = grid.sizes()
        if len(sizes) == 1:
            problems.append(f"one model size only ({format_count(sizes[0])}): no L(N, D) fit, "
                            "no extrapolation across sizes and no backtest; add runs at ≥ 2 "
                            "more sizes")
        if size is None:  # one size: no extrapolation in N is possible, answer at that size
            size = TARGET_FACTOR * float(sizes.max()) if len(sizes) > 1 else float(sizes[0])
    return ReportContext(path=path, runs=table, metrics=metrics, domain=domain, grid=grid,
                         baseline=b, bootstrap=int(bootstrap), seed=int(seed),
                         level=float(level), size=None if size is None else float(size),
                         problems=problems)
