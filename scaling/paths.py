"""Where the shipped grids live: ``runs/grids/*.toml`` and the reference grid ``runs/reference``.

They sit next to the package in the repository (the install is editable: ``pip install -e .``);
``$SCALING_RUNS`` points elsewhere (e.g. a shared copy on a cluster).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ScalingError


def cache_root() -> Path:
    """Where caches live: ``$SCALING_CACHE`` or ``~/.cache/scaling`` (not created here)."""
    return Path(os.environ.get("SCALING_CACHE", Path.home() / ".cache" / "scaling"))


def runs_root() -> Path:
    """The folder holding ``grids/`` and ``reference/``."""
    env = os.environ.get("SCALING_RUNS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "runs"


def reference_runs() -> Path:
    """The shipped reference grid (the default of ``--runs``)."""
    p = runs_root() / "reference"
    if not p.is_dir():
        raise ScalingError(f"the reference grid {p} is missing; pass --runs DIR (a run store), "
                           "or run `scaling grid runs/grids/cpu-reference.toml --out "
                           "runs/reference`")
    return p


def grid_spec(name: str) -> Path:
    """``runs/grids/<name>.toml``, or ``name`` itself when it is a path."""
    p = Path(name)
    if p.suffix == ".toml" and p.exists():
        return p
    q = runs_root() / "grids" / f"{name}.toml"
    if not q.exists():
        known = sorted(x.stem for x in (runs_root() / "grids").glob("*.toml"))
        raise ScalingError(f"no grid spec {name!r}; shipped specs: {', '.join(known) or 'none'}")
    return q
