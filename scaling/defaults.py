"""Defaults shared by the library and the command line, in one place so that every entry
point gives the same answer for the same arguments (``scaling predict`` and the headline of
``scaling report`` print the same interval). Light on purpose: the CLI reads it before any
heavy import.
"""

#: Bootstrap resamples per fitted law (over runs) behind every savings interval: ``predict``,
#: ``backtest``, ``report`` and the library functions they call. 200 puts the 5% and 95%
#: percentiles of a 90% interval on 10 samples each.
BOOTSTRAP = 200
#: Tokens per parameter of the baseline budget when none is given (Chinchilla's ~20).
TOKENS_PER_PARAM = 20.0
#: The target size when none is given: this many times the grid's largest model.
TARGET_FACTOR = 10.0
#: The baseline recipe when none is given (DESIGN.md: ``prose=1`` in the reference grid).
BASELINE = "prose=1"
