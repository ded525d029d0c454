"""scaling — predict what a change of training data buys a language model."""

__version__ = "0.1.0"

from .store import RunWriter, load_runs  # noqa: E402

__all__ = ["RunWriter", "load_runs", "__version__"]
