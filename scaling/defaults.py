"""Defaults shared by the library and the command line, in one place so that every entry
point gives the same answer for the same arguments (``scaling predict`` and the headline of
``scaling report`` print the same interval). Light on purpose: the CLI reads it before any
heavy import.
"""

#: Bootstrap resamples per fitted law (over runs) behind every savings interval: ``predict``,
#: ``backtest``, ``report`` and the library functions they call. 200 puts the 5% and 95%
#: percentiles of a 90% interval on 10 samples each.
BOOTSTRAP = 200
