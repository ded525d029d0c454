"""scaling — predict what a change of training data buys a language model."""

__version__ = "0.1.0"

__all__ = ["RunWriter", "load_runs", "__version__"]


def __getattr__(name: str):
    # the run store (and pandas with it) loads on first use: ``scaling fit law`` on a CSV,
    # which starts by importing this package, never needs it
    if name in ("RunWriter", "load_runs"):
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
