"""Studies that reproduce the source papers at small scale with the public API.

Run them with ``python analysis/reproduce.py --all`` (see ``analysis/RESULTS.md``).
"""
