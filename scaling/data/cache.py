"""Where tokenized corpora and sample pools are cached (``$SCALING_CACHE`` or
``~/.cache/scaling``), keyed by a hash of their content / inputs; writes are atomic."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..paths import cache_root


def cache_dir() -> Path:
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


def key_of(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def load_arrays(key: str) -> dict | None:
    path = cache_dir() / f"{key}.npz"
    meta = cache_dir() / f"{key}.json"
    if not (path.exists() and meta.exists()):
        return None
    try:
        with np.load(path) as z:
            out = {k: z[k] for k in z.files}
        out["meta"] = json.loads(meta.read_text())
        return out
    except (OSError, ValueError, json.JSONDecodeError):
        return None


def save_arrays(key: str, meta: dict, **arrays: np.ndarray) -> None:
    root = cache_dir()
    tmp = root / f"{key}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **arrays)
    tmp.replace(root / f"{key}.npz")
    tmpm = root / f"{key}.{os.getpid()}.tmp.json"
    tmpm.write_text(json.dumps(meta, indent=1, default=str))
    tmpm.replace(root / f"{key}.json")
