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

from ..defaults import BASELINE, BOOTSTRAP, TOKENS_PER_PARAM
from ..errors import ScalingError
from ..fit import fit_aggregate, fit_grok
from ..fit.data import mixture_loss, skill_curves
from ..predict import backtest, load_points, predict_savings
from ..predict.independent import choose_fits
from ..predict.points import canonical, one_blas_thread
from ..recipe import parse_recipe
from ..store import Runs, load_runs
from ..units import format_count


class Missing(ScalingError):
    """A report section the runs cannot support; the message says what is missing."""


def _cached(fn):
    """Cache a method's value *or* its :class:`Missing` error on the context."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(self):
        if name not in self._cache:
            try:
                self._cache[name] = (one_blas_thread(fn)(self), None)
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
    grid: object | None                 # scaling.predict.LawPoints, None without usable points
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

        self.need_grid()
        sizes = self.sizes
        top = float(self.size)
        grid_n = list(sizes) + list(np.geomspace(sizes[-1], top, 5)[1:]) if top > sizes[-1] \
            else list(sizes)
        rows = []
        for r in self.savings:
            if not self.fits[r].law_form.uses_size:
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
        """Skill curves of completed runs (:func:`scaling.fit.data.skill_curves`: ``curve,
        tokens, value, recipe, skill, run, resolution, metric, start, params, size, shape,
        seed``; canonical recipe names; tokens on each skill's own clock, so a task trained
        after a warm-up counts its task tokens).

        One rule for every store: recipes are compared at the grid's largest nominal size that
        has skill records, each recipe at every shape it was run with there (an *arm* is a
        recipe at a shape), and per arm its longest runs (they hold the whole curve; shorter
        budgets end before late skills emerge). On a law grid the largest size has one shape:
        the largest model. On a grid whose entries fix their own shapes (the skills grid: one
        nominal size, widths 16 to 128) every shape is an arm."""

        m = self.metrics
        sk = m[m["kind"] == "skill"] if len(m) else m
        if sk is None or sk.empty:
            raise Missing("no skill records in the completed runs (the trainer writes them "
                          "when probes are on, probe_n > 0 in the grid spec, or when a recipe "
                          "trains a skill task)")
        t = skill_curves(Runs(metrics=sk, runs=self.runs))
        t = t.assign(recipe=t["recipe"].map(canonical))
        t = t[np.isclose(t["size"], t["size"].max())]
        length = t.groupby("run")["tokens"].transform("max") + t["start"]
        top = t.assign(rt=length).groupby(["recipe", "params"])["rt"].transform("max")
        t = t[np.isclose(length, top)]
        return t.reset_index(drop=True)

    @property
    def skill_recipes(self) -> list[str]:
        """Recipes of :attr:`skill_table` in the grid's order (baseline first), then any
        others (runs without a law point, e.g. tasks trained alone) by name."""
        have = set(self.skill_table["recipe"])
        first = [r for r in self.recipes if r in have]
        return first + sorted(have - set(first))

    @property
    def several_shapes(self) -> bool:
        """Whether :attr:`skill_table` holds more than one shape (then panels name theirs)."""
        return self.skill_table["params"].nunique() > 1

    @_cached
    def grok(self):
        """:class:`~scaling.fit.GrokResult` of every exact-match curve in :attr:`skill_table`
        (resolution 1/items; per-token curves are companions, not fitted: a first rise of
        theirs can be the answer's format before any answer is right)."""

        t = self.skill_table
        t = t[t["metric"] == "exact_match"]
        if t.empty:
            raise Missing("no exact-match skill records in the completed runs")
        res = fit_grok(t[["curve", "tokens", "value", "resolution", "recipe", "skill"]],
                       level=self.level)
        cur = t.drop_duplicates("curve").set_index("curve")
        res.curves = res.curves.assign(params=res.curves["curve"].map(cur["params"]),
                                       shape=res.curves["curve"].map(cur["shape"]))
        return res

    @_cached
    def emergence(self) -> pd.DataFrame:
        """``recipe, params, shape, skill, midpoint, ceiling, lo, hi, status, n, of`` (one row
        per arm × skill: ``n`` of its ``of`` curves, the seeds, grokked).

        An arm groks a skill when more than half its seeds do (as the analysis studies count
        it: one early seed of three says little about when the recipe groks, the others'
        midpoints lie beyond their data); its midpoint is then the mean in ln-tokens of the
        grokked seeds', its interval their widest, its ceiling (the accuracy the transition
        reaches) their mean. Otherwise its status is the commonest verdict of the rest."""
        c = self.grok.curves
        rows = []
        for (r, n, k), g in c.groupby(["recipe", "params", "skill"]):
            ok = g[g["grokked"]]
            row = {"recipe": r, "params": float(n), "shape": g["shape"].iloc[0], "skill": k,
                   "n": len(ok), "of": len(g)}
            if len(ok) > len(g) / 2:
                lm = np.log(ok["midpoint"].to_numpy(float))
                rows.append({**row, "midpoint": float(np.exp(lm.mean())),
                             "ceiling": float(ok["ceiling"].mean()),
                             "lo": float(ok["midpoint_lo"].min()),
                             "hi": float(ok["midpoint_hi"].max()), "status": "grokked"})
            else:
                rest = g.loc[~g["grokked"], "status"]
                rows.append({**row, "midpoint": np.nan, "ceiling": np.nan, "lo": np.nan,
                             "hi": np.nan, "status": rest.mode().iloc[0]})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ aggregation
    @_cached
    def aggregate(self) -> list[dict]:
        """:func:`~scaling.fit.fit_aggregate` of a run's held-out loss over its own skill
        curves, for every arm of :attr:`skill_table` with ≥ 3 skills — only the baseline's
        when the baseline is among them (on a law grid every recipe's probes tell the
        baseline's story again). The loss is the run's training mixture
        (:func:`scaling.fit.data.mixture_loss`: Σ_d p_d L_d over the recipe's domains; the
        prose loss of ``prose=1``); the run is the arm's longest, main branch."""

        t = self.skill_table
        t = t[t["metric"] == "exact_match"]
        arms = t.groupby(["recipe", "params"])["skill"].nunique()
        arms = arms[arms >= 3]
        if arms.empty:
            raise Missing("no run carries ≥ 3 skill curves (the aggregation sums skill terms: "
                          "train a mixture of skills, or turn probes on)")
        if self.baseline in set(arms.index.get_level_values(0)):
            arms = arms[arms.index.get_level_values(0) == self.baseline]
        out, errors = [], []
        for r, n in sorted(arms.index, key=lambda x: (x[0] != self.baseline, x[1], x[0])):
            g = t[(t["recipe"] == r) & (t["params"] == n)]
            run = (g["tokens"] + g["start"]).groupby(g["run"]).max().idxmax()
            m = self.metrics[self.metrics["run_id"].astype(str) == run]
            try:
                weights = dict(parse_recipe(r).base)
            except ScalingError:  # an imported recipe name: the target domain's loss
                weights = {self.domain: 1.0}
            try:
                loss = mixture_loss(m, weights)
            except ScalingError as e:
                errors.append(f"run {run}: {e}")
                continue
            if len(loss) < 4:
                errors.append(f"run {run} has {len(loss)} validation checkpoints; the "
                              "power-law fit of its loss curve needs ≥ 4")
                continue
            sk = g[g["run"] == run]
            skills = pd.DataFrame({"curve": sk["skill"], "tokens": sk["tokens"] + sk["start"],
                                   "value": sk["value"], "resolution": sk["resolution"]})
            try:
                res = fit_aggregate(loss.index.to_numpy(float), loss.to_numpy(float), skills,
                                    bootstrap=min(self.bootstrap, 100), seed=self.seed)
            except (ScalingError, ArithmeticError, ValueError, np.linalg.LinAlgError) as e:
                # a numerical failure of the fit on these curves must not sink the report
                errors.append(f"the aggregation fit failed on run {run} "
                              f"({type(e).__name__}: {e})")
                continue
            doms = [d for d in weights if d in set(m.loc[m["kind"] == "val_loss", "name"])]
            out.append({"run": run, "recipe": r, "size": float(n),
                        "shape": sk["shape"].iloc[0], "domains": doms,
                        "loss": pd.DataFrame({"tokens": loss.index.to_numpy(float),
                                              "value": loss.to_numpy(float)}),
                        "skills": skills, "result": res})
        if not out:
            raise Missing("; ".join(errors))
        return out

    # ------------------------------------------------------------------ backtest
    @_cached
    def backtest(self):

        self.need_grid()
        if len(self.sizes) < 3:
            raise Missing(f"a backtest holds out the largest size and fits the rest, so it needs "
                          f"≥ 3 model sizes; the grid has {self._sizes_text()}")
        return backtest(self.grid, baseline=self.baseline, bootstrap=self.bootstrap,
                        level=self.level, seed=self.seed)


def load_context(runs, target_domain: str | None = None, baseline: str | None = None,
                 size: float | None = None, bootstrap: int = BOOTSTRAP, seed: int = 0,
                 level: float = 0.9) -> ReportContext:
    """Read a run store once (:func:`scaling.predict.load_points`, the loader ``predict`` uses)
    and set up the (lazy) computations of the report.

    Never raises for runs that cannot support a fit: :attr:`ReportContext.problems` says what
    is missing. A path that does not exist is the one error (a typo is not a report)."""

    path = Path(runs)
    if not path.exists():
        raise ScalingError(f"no run store at {path}; pass --runs DIR (a folder of run "
                           "directories, e.g. one written by `scaling grid`)")
    try:
        grid, why = load_points(path, target_domain), None
        loaded = grid.store
    except ScalingError as e:  # no law table: the run table says why, or the error does
        grid, why = None, e
        loaded = load_runs(path)
    problems = _store_problems(path, loaded.runs, why)
    b = None
    if grid is not None:
        b = _baseline(grid, baseline, path, problems)
        sizes = grid.sizes()
        if len(sizes) == 1:
            problems.append(f"one model size only ({format_count(sizes[0])}): no L(N, D) fit, "
                            "no extrapolation across sizes and no backtest; add runs at ≥ 2 "
                            "more sizes")
        if size is None:
            size = grid.default_size()
    return ReportContext(path=path, runs=loaded.runs, metrics=loaded.metrics,
                         domain=target_domain if grid is None else grid.domain, grid=grid,
                         baseline=b, bootstrap=int(bootstrap), seed=int(seed),
                         level=float(level), size=None if size is None else float(size),
                         problems=problems)


def _store_problems(path: Path, table: pd.DataFrame, why: ScalingError | None) -> list[str]:
    """Why a store has no law table: no runs, no completed runs, or the loader's error."""
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    if table.empty:
        return [f"no run directories under {path}"]
    if counts.get("done", 0) == 0:
        return [f"no completed runs under {path}: "
                + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                + " (finish or resume them with `scaling grid`)"]
    return [str(why)] if why is not None else []


def _baseline(grid, baseline: str | None, path: Path, problems: list[str]) -> str | None:
    """The grid's name for ``baseline`` (an error when it has no runs), else ``prose=1`` when
    the grid has it, else None with a problem saying so."""

    if baseline is not None:
        b = grid.resolve(baseline, "--baseline")
        if b is None:
            raise ScalingError(f"baseline {baseline!r} has no runs under {path}; recipes: "
                               f"{', '.join(grid.recipes)}")
        return b
    if BASELINE in grid.recipes:
        return BASELINE
    problems.append(f"no {canonical(BASELINE)!r} runs to serve as the baseline; pass "
                    f"--baseline (recipes: {', '.join(grid.recipes)})")
    return None
