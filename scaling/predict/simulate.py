r"""Simulated grids from known per-recipe laws (tests, benchmarks, calibration of intervals).

Every run is one end point: :math:`L = L_{true}(N, D)\,e^{\sigma z}`, z standard normal,
with :math:`L_{true}` the Chinchilla law of its recipe. The exact savings of the laws follow
from the closed-form inversion (:func:`true_savings`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fit import forms

#: A baseline law in the range of tiny CPU models (losses ~2–4 nats/byte-token).
BASELINE_LAW = {"E": 1.7, "A": 80.0, "alpha": 0.35, "B": 120.0, "beta": 0.3}
#: A recipe that saves data at small budgets and less at large ones (B and beta differ).
RECIPE_LAW = {"E": 1.7, "A": 80.0, "alpha": 0.35, "B": 70.0, "beta": 0.28}


def simulate_grid(laws: dict[str, dict], sizes=(25e3, 50e3, 100e3, 200e3),
                  ratios=(5, 10, 20, 40, 80), seeds: int = 1, noise: float = 0.005,
                  seed: int = 0) -> pd.DataFrame:
    """A law table ``run, recipe, params, tokens, loss`` with one run per
    (recipe, size, tokens-per-parameter ratio, seed)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, p in laws.items():
        for n in sizes:
            for k in ratios:
                for s in range(seeds):
                    d = float(k * n)
                    mean = forms.chinchilla(n, d, p["E"], p["A"], p["B"], p["alpha"], p["beta"])
                    rows.append({"run": f"{name}|{n:g}|{k:g}|{s}", "recipe": name,
                                 "params": float(n), "tokens": d,
                                 "loss": float(mean * np.exp(noise * rng.standard_normal()))})
    return pd.DataFrame(rows)


def true_savings(baseline: dict, recipe: dict, N: float, D_b: float) -> float:
    """Exact ``s = D_r / D_b`` of two Chinchilla laws at size N, baseline budget D_b."""
    b, r = baseline, recipe
    L = forms.chinchilla(N, D_b, b["E"], b["A"], b["B"], b["alpha"], b["beta"])
    D_r = forms.chinchilla_invert(L, N, r["E"], r["A"], r["B"], r["alpha"], r["beta"])
    return float(D_r / D_b)


def simulate_table(laws: dict[str, dict], sizes=(25e3, 50e3, 100e3, 200e3),
                   ratios=(5, 10, 20, 40), noise: float = 0.003, seed: int = 0,
                   checkpoints=(0.05, 0.2, 1.0), skills: dict[str, dict] | None = None,
                   domains: tuple[str, ...] = ("prose",)) -> pd.DataFrame:
    r"""A long table for ``scaling import`` (``run, params, tokens, kind, name, value, recipe,
    seed, step``): one run per (recipe, size, ratio), validation losses at ``checkpoints``
    (fractions of the run) and, with ``skills = {recipe: {probe: midpoint_tokens}}``,
    probe accuracies :math:`0.02 + 0.96/(1 + (t/t_{1/2})^{-1/0.35})` plus noise.

    Domains after the first get the first's loss + 0.3 (they exist so that the target
    domain is a real choice).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for name, p in laws.items():
        for n in sizes:
            for k in ratios:
                run = f"{name}|{n:g}|{k:g}"
                steps = sorted(set(checkpoints) | ({*np.geomspace(0.01, 1, 12)} if skills
                                                   else set()))
                for j, frac in enumerate(steps):
                    d = float(frac * k * n)
                    mean = forms.chinchilla(n, d, p["E"], p["A"], p["B"], p["alpha"], p["beta"])
                    loss = float(mean * np.exp(noise * rng.standard_normal()))
                    base = {"run": run, "params": n, "tokens": d, "recipe": name, "seed": 0,
                            "step": j}
                    if frac in checkpoints:
                        for i, dom in enumerate(domains):
                            rows.append({**base, "kind": "val_loss", "name": dom,
                                         "value": loss + 0.3 * i})
                    for probe, mid in (skills or {}).get(name, {}).items():
                        acc = 0.02 + 0.96 / (1 + (d / mid) ** (-1 / 0.35))
                        rows.append({**base, "kind": "skill", "name": probe,
                                     "value": float(np.clip(acc + 0.01 * rng.standard_normal(),
                                                            0, 1))})
    return pd.DataFrame(rows)


def simulate_store(laws: dict[str, dict], out, sizes=(25e3, 50e3, 100e3),
                   tokens_per_param: float = 120.0, branches=(0.25, 0.5, 0.75),
                   seeds: int = 1, noise: float = 0.005, seed: int = 0) -> list[str]:
    """Write a run store shaped like a WSD reference grid: one run per (recipe, size, seed),
    validation loss (``prose``) at log-spaced checkpoints of the main run and at the end of
    each decay branch (records with a ``branch`` key, as the trainer writes them).

    Each run has a seed effect (log-normal, sd ``noise``) shared by all its points plus
    per-point evaluation noise (sd ``noise / 3``). Returns the run ids.
    """
    from ..store import RunWriter

    rng = np.random.default_rng(seed)
    ids = []
    for name, p in laws.items():
        for n in sizes:
            for s in range(seeds):
                D = float(tokens_per_param * n)
                run_eff = noise * rng.standard_normal()

                def loss(d, n=n, p=p, run_eff=run_eff):
                    mean = forms.chinchilla(n, d, p["E"], p["A"], p["B"], p["alpha"],
                                            p["beta"])
                    return float(mean * np.exp(run_eff + noise / 3 * rng.standard_normal()))

                cfg = {"recipe": name, "n_params": float(n), "n_params_total": None,
                       "seed": s, "tokens": D, "source": "simulate_store"}
                w = RunWriter.in_grid(out, cfg)
                recs = [{"step": j, "tokens": float(f * D), "kind": "val_loss",
                         "name": "prose", "value": loss(f * D)}
                        for j, f in enumerate(np.geomspace(0.05, 1.0, 6))]
                recs += [{"step": 100 + j, "tokens": float(f * D), "kind": "val_loss",
                          "name": "prose", "value": loss(f * D), "branch": f}
                         for j, f in enumerate(branches)]
                w.log_many(recs)
                w.mark_done("simulated")
                ids.append(w.run_id)
    return ids


# --------------------------------------------------------------------------- joint law

#: Sizes of the five-size grids of the joint-law benchmark and tests (16× span).
JOINT_SIZES = (25e3, 50e3, 100e3, 200e3, 400e3)


def joint_loss(law: dict, N, D, k: float = 1.0, gamma: float = 0.0, n_ref: float = 1e5,
               bend: tuple[float, float] | None = None):
    r"""Loss of a recipe with effective-data multiplier :math:`k(N) = k\,(N/N_{ref})^\gamma`
    on the baseline ``law``: :math:`E + A/N^\alpha + B\,(k(N) D)^{-\beta}\,b(k(N) D)`.

    ``bend = (D_c, Δβ)`` makes the law *misspecified* for the joint fit: the data term's
    exponent bends from β to β + Δβ beyond :math:`D_c` effective tokens,
    :math:`b(x) = (1 + x/D_c)^{-Δβ}` (1 without a bend).
    """
    N, D = np.asarray(N, float), np.asarray(D, float)
    x = k * (N / n_ref) ** gamma * D
    bent = 1.0 if bend is None else (1.0 + x / bend[0]) ** (-bend[1])
    return law["E"] + law["A"] * N ** (-law["alpha"]) + law["B"] * x ** (-law["beta"]) * bent


def joint_true_savings(law: dict, N: float, D_b: float, k: float = 1.0, gamma: float = 0.0,
                       n_ref: float = 1e5, bend: tuple[float, float] | None = None) -> float:
    r"""Exact savings of :func:`joint_loss`'s recipe over its baseline (``k = 1, γ = 0``).

    The data term depends on D only through :math:`k(N) D`, so the recipe reaches the
    baseline's loss at :math:`D_r = D_b / k(N)` whatever the bend: :math:`s = 1/k(N)`.
    """
    return float(1.0 / (k * (N / n_ref) ** gamma))


def simulate_joint_grid(recipes: dict[str, tuple[float, float]], law: dict | None = None,
                        sizes=JOINT_SIZES, ratios=(5, 10, 20, 40, 80), seeds: int = 1,
                        noise: float = 0.003, seed: int = 0, n_ref: float = 1e5,
                        bend: tuple[float, float] | None = None) -> pd.DataFrame:
    r"""A law table ``run, recipe, params, tokens, loss`` of recipes given as
    ``{name: (k, γ)}`` on one baseline ``law`` (default :data:`BASELINE_LAW`), one run per
    (recipe, size, tokens-per-parameter ratio, seed): :math:`L = L_{true} e^{σz}` with
    :func:`joint_loss` as the truth (``bend``: a misspecified data term)."""
    law = BASELINE_LAW if law is None else law
    rng = np.random.default_rng(seed)
    rows = []
    for name, (k, gamma) in recipes.items():
        for n in sizes:
            for ratio in ratios:
                for s in range(seeds):
                    d = float(ratio * n)
                    mean = joint_loss(law, n, d, k, gamma, n_ref, bend)
                    rows.append({"run": f"{name}|{n:g}|{ratio:g}|{s}", "recipe": name,
                                 "params": float(n), "tokens": d,
                                 "loss": float(mean * np.exp(noise * rng.standard_normal()))})
    return pd.DataFrame(rows)
