"""Built-in and user corpora: split by document hash, provenance, readers and their errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scaling.data import get_tokenizer
from scaling.data.corpora import CorpusError, split_of, user_documents
from scaling.data.domains import DomainError, check_domain, get_pool, provenance
from scaling.data.stream import Stream
from scaling.errors import ScalingError

TOK = get_tokenizer("byte")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _docs(n=60):
    return [f"document number {i}: " + "lorem ipsum " * (i % 7 + 3) for i in range(n)]


def test_split_is_by_document_hash():
    texts = _docs(400)
    splits = [split_of(t) for t in texts]
    assert splits == [split_of(t) for t in reversed(texts)][::-1]  # order-independent
    assert 0.01 < splits.count("val") / len(splits) < 0.12  # VAL_PERCENT = 5


def test_builtin_prose_provenance():
    meta = provenance("prose")
    assert meta["fingerprint"]["versions"]["numpy"]
    assert len(meta["content_sha256"]) == 64
    assert meta["n_docs"]["train"] > 500 and meta["n_docs"]["val"] > 20
    train, val = get_pool("prose", "train"), get_pool("prose", "val")
    assert len(train) > 20 * len(val) > 0


@pytest.mark.parametrize("fmt", ["txt", "jsonl", "parquet"])
def test_user_corpus_formats_in_a_stream(cache, fmt):
    d = cache / "corpus"
    d.mkdir()
    texts = _docs()
    if fmt == "txt":
        for i, t in enumerate(texts):
            (d / f"{i:03d}.txt").write_text(t)
        path, field = f"{d}/*.txt", "text"
    elif fmt == "jsonl":
        (d / "a.jsonl").write_text("\n".join(json.dumps({"body": t, "url": f"ex.org/{i}"})
                                             for i, t in enumerate(texts)))
        path, field = f"{d}/a.jsonl", "body"
    else:
        pq.write_table(pa.table({"body": texts}), d / "a.parquet")
        path, field = str(d), "body"
    s = Stream(f"mine@{path}:{field}=1;meco=0.5", 50_000, 4, 32)
    b = s.batch(0)
    assert b.domains == ["mine"] * 4
    text = TOK.decode(b.x.flatten().tolist())
    assert "lorem ipsum" in text or "URL: " in text
    docs = user_documents(path, field)
    assert sorted(x.text for x in docs) == sorted(texts)
    assert {x.split for x in docs} == {"train", "val"}
    assert len(get_pool("mine", "val")) > 0


def test_user_corpus_errors(cache):
    with pytest.raises(CorpusError, match="matches no files"):
        Stream(f"mine@{cache}/nothing/*.txt=1", 1000, 2, 16)
    (cache / "a.jsonl").write_text(json.dumps({"content": "hello"}) + "\n")
    with pytest.raises(CorpusError, match=r"no text field 'text'.*keys: \['content'\]"):
        Stream(f"other@{cache}/a.jsonl=1", 1000, 2, 16)
    (cache / "e.jsonl").write_text(json.dumps({"text": ""}) + "\n")
    with pytest.raises(CorpusError, match="no non-empty text"):
        Stream(f"empty@{cache}/e.jsonl=1", 1000, 2, 16)
    (cache / "b.csv").write_text("text\nhi\n")
    with pytest.raises(CorpusError, match="unsupported"):
        Stream(f"csvish@{cache}/b.csv=1", 1000, 2, 16)


def test_unknown_domain_lists_known():
    with pytest.raises(DomainError, match=r"unknown domain 'prosa'; known: .*prose") as e:
        check_domain("prosa")
    assert isinstance(e.value, ScalingError)
