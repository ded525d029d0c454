"""Tokenizers: byte-level by default, optional BPE trained locally with ``tokenizers``.

Byte level: ids 0–255 are the UTF-8 bytes, then three specials: ``EOS`` (256, ends every
document/sample), ``SEP`` (257, between a sequence task's input and output) and ``PAD`` (258).
BPE (``get_tokenizer("bpe")`` or ``"bpe:8192"``) is trained once on a sample of the built-in
``prose`` and ``code`` corpora and cached under the data cache (see :mod:`scaling.data.cache`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import ScalingError

SPECIALS = ("<eos>", "<sep>", "<pad>")


class TokenizerError(ScalingError, ValueError):
    """Unknown tokenizer name or missing optional package."""


class ByteTokenizer:
    """UTF-8 bytes plus ``EOS``, ``SEP``, ``PAD``; ``vocab_size = 259``."""

    name = "byte"

    def __init__(self) -> None:
        self.eos_id, self.sep_id, self.pad_id = 256, 257, 258
        self.vocab_size = 259

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def encode_array(self, text: str) -> np.ndarray:
        """``encode`` as a ``uint16`` array (fast path for corpora)."""
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.uint16)

    def decode(self, ids: Iterable[int], specials: bool = True) -> str:
        """Bytes back to text (invalid UTF-8 replaced); specials as ``<eos>`` etc. or dropped."""
        out: list[str] = []
        buf = bytearray()
        for i in (int(t) for t in ids):
            if i < 256:
                buf.append(i)
                continue
            out.append(buf.decode("utf-8", errors="replace"))
            buf.clear()
            if specials and i < 259:
                out.append(SPECIALS[i - 256])
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    def __repr__(self) -> str:
        return "ByteTokenizer()"


class BPETokenizer:
    """Byte-level BPE trained locally with the ``tokenizers`` package (optional extra ``bpe``)."""

    def __init__(self, tk, vocab_size: int) -> None:
        self._tk = tk
        self.name = f"bpe:{vocab_size}"
        self.vocab_size = tk.get_vocab_size()
        self.eos_id = tk.token_to_id("<eos>")
        self.sep_id = tk.token_to_id("<sep>")
        self.pad_id = tk.token_to_id("<pad>")

    def encode(self, text: str) -> list[int]:
        return self._tk.encode(text).ids

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.uint16)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tk.encode_batch(texts)]

    def decode(self, ids: Iterable[int], specials: bool = True) -> str:
        ids = [int(i) for i in ids]
        if not specials:
            drop = {self.eos_id, self.sep_id, self.pad_id}
            ids = [i for i in ids if i not in drop]
        return self._tk.decode(ids, skip_special_tokens=False)

    def __repr__(self) -> str:
        return f"BPETokenizer({self.name})"


def _train_bpe(vocab_size: int) -> BPETokenizer:
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError:
        raise TokenizerError("BPE needs the optional package 'tokenizers': "
                             "pip install 'scaling[bpe]'") from None
    from .cache import cache_dir
    from .corpora import builtin_documents

    path = cache_dir() / f"bpe_{vocab_size}.json"
    if not path.exists():
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tk.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS),
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())

        def texts():
            # a deterministic ~8 MB sample of the train split of prose and code
            for name in ("prose", "code"):
                budget = 4_000_000
                for doc in builtin_documents(name):
                    if doc.split != "train":
                        continue
                    yield doc.text
                    budget -= len(doc.text)
                    if budget <= 0:
                        break

        tk.train_from_iterator(texts(), trainer=trainer)
        tmp = path.with_suffix(".tmp")
        tk.save(str(tmp))
        tmp.replace(path)
    return BPETokenizer(Tokenizer.from_file(str(path)), vocab_size)


_CACHE: dict[str, object] = {}


def get_tokenizer(name: str | None = "byte") -> ByteTokenizer | BPETokenizer:
    """``"byte"`` (default) or ``"bpe"`` / ``"bpe:VOCAB"`` (trained once, cached)."""
    if name is None or isinstance(name, ByteTokenizer | BPETokenizer):
        return name or get_tokenizer("byte")
    key = name.strip().lower()
    if key in _CACHE:
        return _CACHE[key]
    if key == "byte":
        tok = ByteTokenizer()
    elif key == "bpe" or key.startswith("bpe:"):
        size = 8192
        if ":" in key:
            try:
                size = int(key.split(":", 1)[1])
            except ValueError:
                raise TokenizerError(f"bad BPE size in {name!r}; write bpe:8192") from None
        if not 300 <= size <= 65535:
            raise TokenizerError(f"BPE vocabulary {size} out of range [300, 65535]")
        tok = _train_bpe(size)
    else:
        raise TokenizerError(f"unknown tokenizer {name!r}; use 'byte' or 'bpe[:VOCAB]'")
    _CACHE[key] = tok
    return tok
