"""``python -m scaling …`` (also what ``torchrun -m scaling train …`` runs)."""

from .cli import main

main()
