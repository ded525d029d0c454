"""The trainer: a compact GPT (pre-norm, RoPE, SDPA) and one readable training loop.

Public API: :class:`RunConfig` (``RunConfig.from_args(size=, mix=, tokens=, seed=, **overrides)``),
:func:`train` → :class:`TrainResult`, :func:`build_model`, :func:`shape_for`,
:func:`estimate_mfu`.
"""

from .config import ConfigError, DataConfig, ModelConfig, OptimConfig, RunConfig
from .loop import TrainError, TrainResult, train
from .model import GPT, Shape, SizeError, build_model, estimate_mfu, flops_per_token, shape_for

__all__ = [
    "GPT", "ConfigError", "DataConfig", "ModelConfig", "OptimConfig", "RunConfig", "Shape",
    "SizeError", "TrainError", "TrainResult", "build_model", "estimate_mfu", "flops_per_token",
    "shape_for", "train",
]
