"""Configuration hashing: the canonical JSON form of a config and the run id derived from it.

A run's id is the first 10 hex digits of the SHA-256 of its resolved configuration in canonical
JSON (sorted keys, no whitespace), leaving out ``run_id`` and ``out``. It depends on nothing but
the standard library, so the trainer's config can hash itself without importing the run store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Keys a config may carry that are not part of its identity.
UNHASHED = ("run_id", "out")


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars, paths and sets in a stable JSON form."""
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=json_default)


def config_hash(config: Mapping[str, Any], length: int = 10) -> str:
    """Short, stable hash of a configuration (keys ``run_id`` and ``out`` are ignored)."""
    body = {k: v for k, v in config.items() if k not in UNHASHED}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()[:length]


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def diff_configs(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys (dotted for nested mappings) whose values differ between two configs."""
    fa, fb = _flatten(json.loads(canonical_json(a))), _flatten(json.loads(canonical_json(b)))
    return {k: (fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys())
            if fa.get(k) != fb.get(k)}
