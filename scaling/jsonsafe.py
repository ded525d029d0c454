"""JSON-safe numbers: results print NaN/inf as ``null`` (JSON has no such values)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def finite_or_none(x: Any) -> float | None:
    """``float(x)``, or None when it is missing, NaN or infinite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def jsonable(obj: Any) -> Any:
    """Nested dicts/lists of numpy scalars, paths and floats → plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj
