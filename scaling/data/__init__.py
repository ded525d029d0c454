"""Data: domains (procedural, built-in corpora, user corpora), tokenizers and packed streams.

See :mod:`scaling.recipe` for the ``--mix`` grammar, :mod:`scaling.data.stream` for batches.
"""

from .domains import BUILTIN_DOMAINS, KNOWN_DOMAINS, get_pool, register_corpus
from .tokenizer import BPETokenizer, ByteTokenizer, get_tokenizer

__all__ = ["BUILTIN_DOMAINS", "KNOWN_DOMAINS", "BPETokenizer", "ByteTokenizer", "get_pool",
           "get_tokenizer", "register_corpus"]
