"""Tokenizers: byte level round-trips any text; BPE (optional) trains locally and round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaling.data import get_tokenizer
from scaling.data.tokenizer import TokenizerError


@given(st.text(max_size=200))
def test_byte_round_trip(text):
    tok = get_tokenizer("byte")
    ids = tok.encode(text)
    assert all(0 <= i < 256 for i in ids)
    assert tok.decode(ids) == text
    assert list(tok.encode_array(text)) == ids


def test_byte_specials():
    tok = get_tokenizer()
    assert (tok.vocab_size, tok.eos_id, tok.sep_id, tok.pad_id) == (259, 256, 257, 258)
    ids = tok.encode("ab") + [tok.sep_id] + tok.encode("c") + [tok.eos_id]
    assert tok.decode(ids) == "ab<sep>c<eos>"
    assert tok.decode(ids, specials=False) == "abc"


def test_unknown_tokenizer():
    with pytest.raises(TokenizerError, match="unknown tokenizer 'wordpiece'"):
        get_tokenizer("wordpiece")
    with pytest.raises(TokenizerError, match="out of range"):
        get_tokenizer("bpe:10")


@pytest.mark.slow
def test_bpe_trains_and_round_trips():
    pytest.importorskip("tokenizers")
    tok = get_tokenizer("bpe:2048")
    assert tok.vocab_size == 2048
    text = "def mean(x):\n    \"\"\"Average of x.\"\"\"\n    return sum(x) / len(x)  # héllo"
    ids = tok.encode(text)
    assert tok.decode(ids) == text and len(ids) < len(text.encode()) / 1.5
    assert len({tok.eos_id, tok.sep_id, tok.pad_id}) == 3
    from scaling.data.stream import Stream

    b = Stream("prose=1;front=sort:0.01", 10**6, 4, 64, tokenizer="bpe:2048").batch(0)
    assert int(b.x.max()) < 2048 and b.domains[0] == "sort"
    assert 0 < b.loss_mask[0].float().mean() < 1
