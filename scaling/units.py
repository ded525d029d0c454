"""Human counts on the command line: ``100k``, ``3M``, ``1.3B``, ``3e5``, ``20x``."""

from __future__ import annotations

import re

from .errors import ScalingError

_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmbgt]?)\s*$", re.IGNORECASE)


class UnitError(ScalingError, ValueError):
    """A count string that cannot be read."""


def parse_count(text: str | int | float, what: str = "count") -> int:
    """``'100k'`` → 100000, ``'1.3B'`` → 1300000000, ``'3e5'`` → 300000 (must be > 0)."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        m = _COUNT.match(str(text))
        if not m:
            raise UnitError(f"cannot read {what} {text!r}; use e.g. 300000, 3e5, 300k, 2M, 1.3B")
        value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if not value > 0:
        raise UnitError(f"{what} must be > 0, got {text!r}")
    return int(round(value))


def parse_tokens(text: str | int | float, n_params: int | None = None) -> int:
    """A token budget: a count (``2M``) or tokens per parameter (``20x``, needs ``n_params``)."""
    s = str(text).strip()
    if s.lower().endswith("x"):
        ratio = s[:-1]
        try:
            r = float(ratio)
        except ValueError:
            raise UnitError(f"cannot read tokens {text!r}; '20x' means 20 tokens per "
                            "parameter") from None
        if not r > 0:
            raise UnitError(f"tokens per parameter must be > 0, got {text!r}")
        if n_params is None:
            raise UnitError(f"tokens {text!r} is per parameter, but no model size is known")
        return int(round(r * n_params))
    return parse_count(s, what="tokens")


def format_count(n: float) -> str:
    """1300000 → ``'1.3M'`` (three significant digits)."""
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}"
