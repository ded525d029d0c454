"""What every study shares: the run stores, cached law points, intervals, figure output.

A :class:`Context` is built once by ``reproduce.py`` and handed to each study's ``run``;
it caches :func:`scaling.predict.load_points` per target domain (the points cache their fitted
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
from scaling.predict import load_points  # noqa: E402

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
    skills : Path or None
        The skills store (``runs/skills``: skills trained as tasks, scored on held-out
        items) that studies 1, 5 and 6 measure; ``None`` or missing: those parts say so.
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
    skills: Path | None = Path("runs/skills")
    bootstrap: int = 100
    seed: int = 0
    probe_n: int = 32
    command: str = "python analysis/reproduce.py --all"
    merged: dict = field(default_factory=dict)
    """``{domain: [sizes]}`` of the extra runs merged into the reference grid."""
    _grids: dict = field(default_factory=dict, repr=False)
    _metrics: dict = field(default_factory=dict, repr=False)

    def grid(self, domain: str = "prose", store: Path | None = None):
        """The :class:`scaling.predict.LawPoints` of ``store`` for one target domain (cached).

        Without ``store``: the reference grid, plus the end points of ``targets`` runs whose
        recipe the reference grid has (e.g. larger sizes of a reference recipe run into it),
        so the per-recipe laws see every size we trained."""
        key = (str(store or self.runs), domain, store is None)
        if key in self._grids:
            return self._grids[key]
        g = load_points(Path(store or self.runs), domain)
        if store is None and self.targets is not None and Path(self.targets).exists():
            try:
                extra = load_points(Path(self.targets), domain).points
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
            f" --runs {self.runs}" if str(self.runs) != "runs/reference" else "") + (
            f" --skills {self.skills}" if study in (1, 5, 6) and self.skills is not None
            and str(self.skills) != "runs/skills" else "")

    def has_skills(self) -> bool:
        return self.skills is not None and Path(self.skills).is_dir() and \
            not self.skill_curves().empty

    def skill_curves(self) -> pd.DataFrame:
        """Every skill record of the skills store as curves (cached):
        :func:`scaling.fit.data.skill_table` (``curve, tokens, value, recipe, skill, run,
        resolution, metric``) plus ``n_params``, ``seed``, ``width``, ``switch`` (the tokens of a
        warm-up before the task, 0 without one), ``task_tokens`` (``tokens − switch``) and
        ``run_tokens`` (the run's last skill evaluation)."""
        key = "_skill_curves"
        if key in self._metrics:
            return self._metrics[key]
        from scaling.fit.data import skill_table

        empty = pd.DataFrame(columns=["curve", "tokens", "value", "recipe", "skill", "run",
                                      "resolution", "metric", "n_params", "seed", "switch",
                                      "width", "task_tokens", "run_tokens"])
        if self.skills is None or not Path(self.skills).is_dir():
            self._metrics[key] = empty
            return empty
        runs = scaling.load_runs(self.skills)
        sk = runs.metrics[runs.metrics["kind"] == "skill"]
        if sk.empty:
            self._metrics[key] = empty
            return empty
        t = skill_table(sk)
        sw = {str(r.run_id): switch_tokens(Path(r.path)) for r in runs.runs.itertuples()}
        wd = {str(r.run_id): run_width(Path(r.path)) for r in runs.runs.itertuples()}
        t = t.assign(n_params=pd.to_numeric(sk["n_params"], errors="coerce").to_numpy(float),
                     seed=sk["seed"].to_numpy(), switch=t["run"].map(sw).fillna(0.0),
                     width=t["run"].map(wd))
        t["task_tokens"] = t["tokens"] - t["switch"]
        t["run_tokens"] = t.groupby("run")["tokens"].transform("max")
        self._metrics[key] = t
        return t

    def skill_metrics(self) -> pd.DataFrame:
        """``load_runs(skills).metrics`` (cached)."""
        return self.metrics(Path(self.skills))

    def figure(self, fig, name: str) -> str:
        """Save a figure under ``figures/`` (small PNG) and return its relative path."""
        path = self.out / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80, bbox_inches="tight")
        plt.close(fig)
        return f"figures/{name}.png"


def switch_tokens(run_dir: Path) -> float:
    """Tokens a run spent before its task: the procedural stage of a ``front=…`` recipe, i.e.
    where its base mixture's data starts (:func:`scaling.fit.data.skill_start`). 0 for a run
    without a front phase or without the fields to say (config.json written by hand)."""
    from scaling.errors import ScalingError
    from scaling.fit.data import skill_start
    from scaling.recipe import parse_recipe
    from scaling.store import RunDir

    try:
        cfg = RunDir(run_dir).read_config() or {}
        base = parse_recipe(cfg.get("recipe_spec") or cfg["recipe"]).base
    except (ScalingError, KeyError, TypeError, ValueError):
        return 0.0
    return max(skill_start(cfg, d) for d, _ in base)


def run_width(run_dir: Path) -> float:
    """The model width (``d_model``) in a run's config.json (NaN where it does not say)."""
    import json

    try:
        return float(json.loads((Path(run_dir) / "config.json").read_text())["model"]["d_model"])
    except (OSError, ValueError, KeyError, TypeError):
        return float("nan")


def seed_item_bootstrap(groups: dict, n_boot: int = 4000, seed: int = 0) -> dict:
    """Resampled mean accuracies of groups of runs, over seeds and items.

    ``groups``: ``{key: [(k, n), …]}``, one (correct, items) pair per seed. Each resample
    draws the seeds with replacement, then each drawn seed's accuracy from its items' Jeffreys
    posterior Beta(k + ½, n − k + ½) (a 0-of-256 seed still has an upper end), and averages
    them. Returns ``{key: array of n_boot means}``; the same generator serves every group, so
    differences of two groups' arrays are independent resamples of each."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, pairs in groups.items():
        k = np.array([p[0] for p in pairs], float)
        n = np.array([p[1] for p in pairs], float)
        pick = rng.integers(0, len(k), size=(n_boot, len(k)))
        out[key] = rng.beta(k[pick] + 0.5, n[pick] - k[pick] + 0.5).mean(1)
    return out


def percentile_interval(samples, level: float = LEVEL) -> tuple[float, float]:
    a = (1 - level) / 2
    lo, hi = np.quantile(np.asarray(samples, float), [a, 1 - a])
    return float(lo), float(hi)


def seed_t_interval(a, b, level: float = LEVEL) -> tuple[float, float]:
    """Welch t interval of mean(a) − mean(b) over per-seed values (a check of the bootstrap,
    which with 3 seeds cannot see much of the seed spread)."""
    from scipy.stats import t as student

    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    d = a.mean() - b.mean()
    if se == 0:
        return float(d), float(d)
    df = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1) if va else 0) +
                           (vb ** 2 / (len(b) - 1) if vb else 0))
    h = float(student.ppf((1 + level) / 2, df)) * se
    return float(d - h), float(d + h)


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


def final_accuracy(curves: pd.DataFrame, keys: list[str], level: float = LEVEL,
                   n_boot: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Accuracy at the end of each run, per group of ``keys`` (e.g. recipe, width, metric),
    with a 90% interval over seeds and items (:func:`seed_item_bootstrap`).

    ``curves``: rows of :meth:`Context.skill_curves`. Exact match counts its items; a
    per-token accuracy is scored as if on the exact-match items of its run (its answer tokens
    are counted per item, not as independent draws). Returns the table (one row per group:
    accuracy = mean over seeds, lower, upper, seeds, per-seed values, task tokens at the
    end) and the bootstrap samples by group (for differences)."""
    last = curves[np.isclose(curves["tokens"], curves["run_tokens"])]
    items = last[last["metric"] == "exact_match"].groupby("run")["resolution"].first()
    rows, groups = [], {}
    for key, g in last.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        g = g.sort_values("seed")
        n = np.where(g["metric"] == "exact_match", 1 / g["resolution"],
                     g["run"].map(1 / items).fillna(1 / g["resolution"]))
        pairs = [(float(v * m), float(m)) for v, m in zip(g["value"], n, strict=True)]
        groups[key] = pairs
        rows.append({**dict(zip(keys, key, strict=True)), "accuracy": float(g["value"].mean()),
                     "seeds": len(g), "values": [float(v) for v in g["value"]],
                     "items": int(round(float(np.mean(n)))),
                     "task_tokens": float(g["task_tokens"].mean()),
                     "task_tokens_range": [float(g["task_tokens"].min()),
                                           float(g["task_tokens"].max())]})
    boot = seed_item_bootstrap(groups, n_boot, seed)
    for r in rows:
        lo, hi = percentile_interval(boot[tuple(r[k] for k in keys)], level)
        # the Jeffreys draws never reach 0: at 0 of n the interval starts at 0 (as Jeffreys's)
        r["lower"], r["upper"] = min(lo, r["accuracy"]), max(hi, r["accuracy"])
    return pd.DataFrame(rows), boot


def grok_compare(frame: pd.DataFrame, baseline: str, level: float = LEVEL) -> dict:
    """Grokking fits of ``curve, tokens, value, resolution, recipe, skill`` curves and the
    speed-up of every other recipe over ``baseline`` per ``skill`` (the pairing key).

    :func:`scaling.fit.fit_grok` classes each curve; :func:`scaling.fit.speedup` gives the
    ratio of midpoints (seeds averaged in ln-tokens; interval from the fits' standard errors
    and the spread between seeds), for the groups of which more than half the curves grok.
    Where only one side groks, a one-sided bound: the other
    side's midpoint lies beyond its last observed tokens T, so the speed-up is above
    T / (upper end of the grokking side's midpoint) — or below (lower end of the baseline's
    midpoint) / T — at 95% one-sided (the end of the 90% interval).

    Returns ``{"groups": [...per (recipe, skill): statuses, midpoint, interval...],
    "speedups": [...per (other recipe, skill)...], "curves": fitted curve table records}``.
    """
    from scaling.fit import fit_grok, speedup

    z = float(norm.ppf((1 + level) / 2))
    g = fit_grok(frame, level=level)
    end = frame.groupby("curve")["tokens"].max()
    cur = g.curves.assign(end=g.curves["curve"].map(end))
    # a group's midpoint needs most of its curves (seeds) grokked: one early seed of three
    # says little about when the recipe groks (the others' midpoints lie beyond their data)
    share = cur.groupby(["recipe", "skill"])["grokked"].transform("mean")
    g.curves = g.curves.assign(grokked=cur["grokked"] & (share > 0.5))
    groups = []
    for (r, k), c in cur.groupby(["recipe", "skill"]):
        st = c["status"].value_counts()
        ok = c[c["grokked"]]
        groups.append({"recipe": r, "skill": k, "curves": len(c),
                       **{s: int(st.get(s, 0)) for s in ("grokked", "not_yet", "never")},
                       "end": float(c["end"].max()),
                       # how high the grokked curves' transitions go (a rise to 2 items of
                       # 256 passes the BIC test too)
                       "ceilings": [float(x) for x in ok["ceiling"]]})
    gi = {(x["recipe"], x["skill"]): x for x in groups}
    base = g.select(recipe=baseline)
    speed = []
    for r in sorted(set(cur["recipe"]) - {baseline}):
        with np.errstate(over="ignore"):  # a midpoint far outside the data: "never" ends
            sp = speedup(base, g.select(recipe=r), by="skill", level=level)
        sp = {e["skill"]: e for e in sp.to_dict("records")}
        nan = float("nan")
        for k in sorted(set(cur.loc[cur["recipe"] == r, "skill"])):
            if (baseline, k) not in gi:
                continue  # nothing to compare with
            e = sp.get(k) or {"skill": k, "speedup": nan, "lower": nan, "upper": nan,
                              "midpoint_baseline": nan, "midpoint_other": nan,
                              "log_se_baseline": nan, "log_se_other": nan}
            for rec, m, se in ((baseline, e["midpoint_baseline"], e["log_se_baseline"]),
                               (r, e["midpoint_other"], e["log_se_other"])):
                if (rec, k) in gi and np.isfinite(m):
                    se = min(float(se), 700.0 / max(z, 1e-9))  # exp() stays finite
                    gi[(rec, k)]["midpoint"] = float(m)
                    gi[(rec, k)]["midpoint_interval"] = [float(m * np.exp(-z * se)),
                                                         float(m * np.exp(z * se))]
            row = {"recipe": r, "skill": k, "speedup": e["speedup"], "lower": e["lower"],
                   "upper": e["upper"], "bound": None, "bound_side": None}
            if not np.isfinite(e["speedup"]):
                mb, mo = e["midpoint_baseline"], e["midpoint_other"]
                if np.isfinite(mo) and not np.isfinite(mb) and (baseline, k) in gi:
                    row["bound"] = gi[(baseline, k)]["end"] / (mo * np.exp(z * e["log_se_other"]))
                    row["bound_side"] = ">"
                elif np.isfinite(mb) and not np.isfinite(mo) and (r, k) in gi:
                    row["bound"] = mb * np.exp(-z * e["log_se_baseline"]) / gi[(r, k)]["end"]
                    row["bound_side"] = "<"
            speed.append(row)
    keep = ["curve", "recipe", "skill", "status", "midpoint", "midpoint_lo", "midpoint_hi",
            "floor", "ceiling", "r2", "end"]
    return {"groups": groups, "speedups": speed,
            "curves": cur[[c for c in keep if c in cur.columns]].to_dict("records")}


def fmt_speedup(e: dict, digits: int = 3) -> str:
    """A speed-up with its interval, a one-sided bound, or why there is none."""
    if e.get("speedup") is not None and np.isfinite(e["speedup"]):
        return fmt_interval(e["speedup"], e["lower"], e["upper"], digits)
    if e.get("bound") is not None:
        return f"{e['bound_side']} {e['bound']:.{digits}g} (95% one-sided)"
    return "neither side groks"
