"""The domain registry and its token *pools*.

A pool is one long token array per (domain, split, tokenizer, MeCo on/off) with a parallel
loss mask: ``mask[i]`` says whether token ``i`` counts as a *target* (so a row sliced at
offset ``o`` has inputs ``tokens[o:o+T]``, targets ``tokens[o+1:o+T+1]`` and loss mask
``mask[o+1:o+T+1]``). Documents/samples are concatenated, each ended by ``EOS``.

* corpora (``prose``, ``code``, user corpora): every token is a target; with MeCo each document
  is preceded by ``URL: <source>\\n\\n`` whose tokens are not targets.
* ``math``: ``Q: question\\nA: `` (no loss) ``answer`` + EOS (loss); MeCo source ``math/<category>``.
* procedural streams (``dyck``, ``shuffle_dyck``): every token a target.
* sequence tasks: ``input SEP`` (no loss) ``output`` + EOS (loss).
* skill tasks (``needle(k=8)``, ``add(digits=3,pad=steps)`` …, :mod:`scaling.skills.tasks`):
  ``prompt SEP`` (no loss) ``answer`` + EOS (loss); the train pool holds training items only,
  the val pool held-out items only (disjoint by construction).

Procedural and math pools hold ``POOL_TOKENS`` (train) / ``VAL_POOL_TOKENS`` tokens of samples
from fixed generator seeds; the stream picks offsets into them by a hash of (seed, row), so a
pool is built once and cached on disk (:mod:`scaling.data.cache`), keyed by everything it
depends on.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

import numpy as np

from ..errors import ScalingError
from ..skills.tasks import TaskError, is_task_spec, parse_task
from . import mathgen
from .cache import key_of, load_arrays, save_arrays
from .corpora import (
    BUILTIN_CORPORA,
    Document,
    builtin_documents,
    builtin_fingerprint,
    split_of,
    user_documents,
    user_fingerprint,
)
from .procedural import PROCEDURAL_DOMAINS, TASKS
from .tokenizer import get_tokenizer

BUILTIN_DOMAINS: tuple[str, ...] = PROCEDURAL_DOMAINS + BUILTIN_CORPORA + ("math",)
KNOWN_DOMAINS = BUILTIN_DOMAINS
POOL_TOKENS = 1 << 21
VAL_POOL_TOKENS = 1 << 17
_POOL_VERSION = 3

_USER: dict[str, tuple[str, str]] = {}  # name -> (path, field)
_MEMO: dict[tuple, Pool] = {}


class DomainError(ScalingError, ValueError):
    """Unknown domain name."""


@dataclass
class Pool:
    """Concatenated samples of one domain and split: ``tokens``, target ``mask``, doc ``starts``."""

    tokens: np.ndarray  # uint16 [L]
    mask: np.ndarray  # bool [L]
    starts: np.ndarray  # int64 [n_docs]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])


def register_corpus(name: str, path: str, field: str = "text") -> None:
    """Make user corpus ``name`` known (the stream does this for a recipe's corpora)."""
    if name in BUILTIN_DOMAINS:
        raise DomainError(f"user corpus name {name!r} clashes with a built-in domain")
    _USER[name] = (path, field)


def known_domains() -> tuple[str, ...]:
    return BUILTIN_DOMAINS + tuple(sorted(_USER))


def check_domain(name: str) -> str:
    """The canonical name of a domain (a skill task spelled with every knob)."""
    if name in BUILTIN_DOMAINS or name in _USER:
        return name
    if is_task_spec(name):
        try:
            return parse_task(name).spec
        except TaskError as e:
            raise DomainError(str(e)) from None
    raise DomainError(f"unknown domain {name!r}; known: {', '.join(known_domains())}, or a "
                      "skill task FAMILY(KNOBS) such as needle(k=8)")


def is_task(name: str) -> bool:
    """Whether ``name`` is a skill task (``FAMILY(…)``)."""
    return "(" in name


def is_procedural(name: str) -> bool:
    """Generated domains (procedural streams and tasks, skill tasks): no documents, so no
    MeCo prefix."""
    return name in TASKS or is_task(name)


# --------------------------------------------------------------------------- encoding


def _encode_units(units, tok) -> Pool:
    """``units``: iterable of lists of pieces ``(text | special id, is_target)``."""
    toks: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    starts: list[int] = []
    pos = 0
    for pieces in units:
        starts.append(pos)
        for piece, target in pieces:
            arr = (np.array([piece], dtype=np.uint16) if isinstance(piece, int)
                   else tok.encode_array(piece))
            toks.append(arr)
            masks.append(np.full(arr.shape[0], target, dtype=bool))
            pos += arr.shape[0]
    if not toks:
        return Pool(np.zeros(0, np.uint16), np.zeros(0, bool), np.zeros(0, np.int64))
    return Pool(np.concatenate(toks), np.concatenate(masks), np.asarray(starts, np.int64))


def _doc_units(docs: list[Document], tok, meco: bool):
    for d in docs:
        pieces = [(f"URL: {d.source}\n\n", False)] if meco else []
        yield pieces + [(d.text, True), (tok.eos_id, True)]


def _task_units(name: str, seed: str, n_tokens: int, tok):
    task = TASKS[name]
    rng = random.Random(f"{name}/{seed}")
    produced = 0
    while produced < n_tokens:
        inp, out = task.sample(rng)
        if task.full_loss:
            pieces = [(out, True), (tok.eos_id, True)]
        else:
            pieces = [(inp, False), (tok.sep_id, False), (out, True), (tok.eos_id, True)]
        produced += len(inp) + len(out) + 2  # bytes: an upper bound for any tokenizer
        yield pieces


def _skill_units(spec: str, split: str, n_tokens: int, tok):
    task = parse_task(spec)
    rng = random.Random(f"{spec}/{split}")
    draw = task.train_item if split == "train" else task.val_item
    produced = 0
    while produced < n_tokens:
        prompt, answer = draw(rng)
        produced += len(prompt) + len(answer) + 2  # bytes: an upper bound for any tokenizer
        yield [(prompt, False), (tok.sep_id, False), (answer, True), (tok.eos_id, True)]


def _math_units(split: str, n_tokens: int, tok, meco: bool):
    rng = random.Random(f"math/{split}")
    produced = 0
    while produced < n_tokens:
        cat, q, a = mathgen.sample(rng)
        if split_of(q) != split:  # held-out questions never appear in training
            continue
        pieces = [(f"URL: math/{cat}\n\n", False)] if meco else []
        pieces += [(f"Q: {q}\nA: ", False), (a, True), (tok.eos_id, True)]
        produced += sum(len(p) for p, _ in pieces if isinstance(p, str)) + 1
        yield pieces


def _corpus_arrays(domain: str, tok, meco: bool) -> dict[str, Pool]:
    if domain in BUILTIN_CORPORA:
        fp = builtin_fingerprint(domain)
    else:
        path, fld = _USER[domain]
        fp = user_fingerprint(path, fld)
    key = key_of("corpus", fp, tok.name, meco, _POOL_VERSION)
    cached = load_arrays(key)
    if cached is None:
        if domain in BUILTIN_CORPORA:
            docs = builtin_documents(domain)
        else:
            docs = user_documents(*_USER[domain])
        content = hashlib.sha256()
        for d in docs:
            content.update(d.text.encode("utf-8", "replace"))
        arrays = {}
        meta = {"domain": domain, "fingerprint": fp, "tokenizer": tok.name, "meco": meco,
                "content_sha256": content.hexdigest(), "n_docs": {}, "n_tokens": {}}
        for split in ("train", "val"):
            pool = _encode_units(_doc_units([d for d in docs if d.split == split], tok, meco),
                                 tok)
            arrays.update({f"{split}_tokens": pool.tokens, f"{split}_mask": pool.mask,
                           f"{split}_starts": pool.starts})
            meta["n_docs"][split] = int(pool.starts.shape[0])
            meta["n_tokens"][split] = len(pool)
        save_arrays(key, meta, **arrays)
        cached = load_arrays(key) or {**arrays, "meta": meta}
    meta = cached["meta"]
    return {s: Pool(cached[f"{s}_tokens"], cached[f"{s}_mask"], cached[f"{s}_starts"],
                    {**meta, "split": s}) for s in ("train", "val")}


def get_pool(domain: str, split: str = "train", tokenizer=None, meco: bool = False) -> Pool:
    """The token pool of ``domain`` (memoised in-process, cached on disk)."""
    domain = check_domain(domain)
    tok = get_tokenizer(tokenizer or "byte")
    meco = bool(meco) and not is_procedural(domain)
    memo_key = (domain, split, tok.name, meco, _USER.get(domain))
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    if is_procedural(domain) or domain == "math":
        n = POOL_TOKENS if split == "train" else VAL_POOL_TOKENS
        key = key_of("pool", domain, split, n, tok.name, meco, _POOL_VERSION)
        cached = load_arrays(key)
        if cached is None:
            units = (_math_units(split, n, tok, meco) if domain == "math"
                     else _skill_units(domain, split, n, tok) if is_task(domain)
                     else _task_units(domain, split, n, tok))
            pool = _encode_units(units, tok)
            meta = {"domain": domain, "split": split, "tokenizer": tok.name, "meco": meco,
                    "generator_seed": f"{domain}/{split}",
                    "content_sha256": hashlib.sha256(pool.tokens.tobytes()).hexdigest()}
            save_arrays(key, meta, tokens=pool.tokens, mask=pool.mask, starts=pool.starts)
            pool.meta = meta
        else:
            pool = Pool(cached["tokens"], cached["mask"], cached["starts"], cached["meta"])
        _MEMO[memo_key] = pool
        return pool
    pools = _corpus_arrays(domain, tok, meco)
    for s, p in pools.items():
        _MEMO[(domain, s, tok.name, meco, _USER.get(domain))] = p
    pool = pools[split]
    if len(pool) == 0:
        raise DomainError(f"domain {domain!r} has no {split} documents")
    return pool


def provenance(domain: str, tokenizer=None) -> dict:
    """Where a domain's tokens come from: versions/files, generator seed, content hash."""
    return dict(get_pool(domain, "train", tokenizer).meta)


def show_samples(domain: str, n: int = 3, tokenizer=None, max_chars: int = 400) -> list[str]:
    """``n`` decoded samples (documents, truncated) of the train pool, spread over the pool."""
    tok = get_tokenizer(tokenizer or "byte")
    domain = check_domain(domain)
    pool = get_pool(domain, "train", tok)
    idx = np.linspace(0, len(pool.starts) - 1, num=min(n, len(pool.starts))).astype(int)
    out = []
    for i in idx:
        a = int(pool.starts[i])
        b = int(pool.starts[i + 1]) if i + 1 < len(pool.starts) else len(pool)
        text = tok.decode(pool.tokens[a:b].tolist())
        out.append(text if len(text) <= max_chars else text[:max_chars] + " …")
    return out
