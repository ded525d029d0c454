"""Data: domains (procedural, built-in corpora, user corpora), tokenizers and packed streams.

See :mod:`scaling.recipe` for the ``--mix`` grammar, :mod:`scaling.data.stream` for batches.
"""

from .tokenizer import BPETokenizer, ByteTokenizer, get_tokenizer

# The domain registry is imported from its module (``scaling.data.domains``), not re-exported
# here: the skill tasks it builds pools of draw the procedural generators of this package, so
# importing the package must not import the registry (that would be an import cycle).
__all__ = ["BPETokenizer", "ByteTokenizer", "get_tokenizer"]
