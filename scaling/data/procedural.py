"""Procedural domains of the procedural-pretraining paper (Jiang, Shinnick et al., 2026).

Two kinds of sample:

* **streams** (``dyck``, ``shuffle_dyck``): a whole bracket word, next-token loss on every
  token;
* **sequence tasks** (``stack``, ``set``, ``sort``, ``reverse``, ``identity``, ``union``,
  ``delete``, ``eca``): ``input SEP output EOS`` with the loss on the output span (and its EOS)
  only.

Every task has a generator ``sample(rng) -> (input, output)`` (``input == ""`` for streams) and
a verifier ``verify(input, output) -> bool`` that recomputes the answer independently (used by
the property tests). Symbols are single characters, so one symbol is one byte token.

Task definitions (``x`` = a string over the alphabet ``a``–``z``):

* ``dyck``: a balanced word over ``k`` bracket types ``()[]{}<>…``, nesting depth ≤ ``max_depth``.
* ``shuffle_dyck``: every bracket type is balanced on its own (a shuffle of ``k`` Dyck-1
  words); types may interleave, e.g. ``([)]``.
* ``stack``: input ops (a letter pushes it, ``-`` pops the top); output the final stack, bottom
  to top.
* ``set``: output the distinct symbols of ``x`` in order of first appearance.
* ``sort``: output the symbols of ``x`` sorted. ``reverse``: reversed. ``identity``: copied.
* ``union``: input ``x,y``; output the distinct symbols of ``x`` then ``y`` in order of first
  appearance (set union, ordered).
* ``delete``: input ``x,c``; output ``x`` with every ``c`` removed.
* ``eca``: elementary cellular automaton (rule 110 by default, periodic boundary); input a row
  of ``0``/``1`` cells, output the next ``steps`` rows separated by ``,``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

ALPHABET = "abcdefghijklmnopqrstuvwxyz"
OPEN = "([{<" + "ABCDEFGH"
CLOSE = ")]}>" + "abcdefgh"


# --------------------------------------------------------------------------- dyck


def dyck_sample(rng: random.Random, k: int = 4, max_depth: int = 8, min_len: int = 16,
                max_len: int = 96) -> tuple[str, str]:
    """A random Dyck-k word of even length in ``[min_len, max_len]``, depth ≤ ``max_depth``."""
    if not 1 <= k <= len(OPEN):
        raise ValueError(f"dyck supports 1..{len(OPEN)} bracket types, got {k}")
    n = 2 * rng.randint(max(1, min_len // 2), max_len // 2)
    stack: list[int] = []
    out: list[str] = []
    for i in range(n):
        remaining = n - i
        must_close = len(stack) >= max_depth or len(stack) == remaining
        if stack and (must_close or rng.random() < 0.5):
            out.append(CLOSE[stack.pop()])
        else:
            t = rng.randrange(k)
            stack.append(t)
            out.append(OPEN[t])
    return "", "".join(out)


def dyck_verify(inp: str, out: str, k: int = 4, max_depth: int = 8) -> bool:
    if inp or not out:
        return False
    stack: list[int] = []
    for ch in out:
        if ch in OPEN[:k]:
            stack.append(OPEN.index(ch))
            if len(stack) > max_depth:
                return False
        elif ch in CLOSE[:k]:
            if not stack or CLOSE[stack.pop()] != ch:
                return False
        else:
            return False
    return not stack


def shuffle_dyck_sample(rng: random.Random, k: int = 4, max_depth: int = 8, min_len: int = 16,
                        max_len: int = 96) -> tuple[str, str]:
    """Each of the ``k`` bracket types balanced on its own; types interleave freely."""
    n = 2 * rng.randint(max(1, min_len // 2), max_len // 2)
    open_count = [0] * k
    out: list[str] = []
    opened = 0
    while opened < n // 2:
        closable = [t for t in range(k) if open_count[t] > 0]
        can_open = [t for t in range(k) if open_count[t] < max_depth]
        if closable and (not can_open or rng.random() < 0.5):
            t = rng.choice(closable)
            open_count[t] -= 1
            out.append(CLOSE[t])
        else:
            t = rng.choice(can_open)
            open_count[t] += 1
            opened += 1
            out.append(OPEN[t])
    rest = [t for t in range(k) for _ in range(open_count[t])]
    rng.shuffle(rest)
    out.extend(CLOSE[t] for t in rest)
    return "", "".join(out)


def shuffle_dyck_verify(inp: str, out: str, k: int = 4, max_depth: int = 8) -> bool:
    if inp or not out:
        return False
    count = [0] * k
    for ch in out:
        if ch in OPEN[:k]:
            t = OPEN.index(ch)
            count[t] += 1
            if count[t] > max_depth:
                return False
        elif ch in CLOSE[:k]:
            t = CLOSE.index(ch)
            count[t] -= 1
            if count[t] < 0:
                return False
        else:
            return False
    return not any(count)


# --------------------------------------------------------------------------- sequence tasks


def _word(rng: random.Random, lo: int, hi: int, alphabet: str = ALPHABET) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def _symbols(s: str) -> bool:
    return all(c in ALPHABET for c in s)


def _dedup(s: str) -> str:
    return "".join(dict.fromkeys(s))


def stack_sample(rng: random.Random, min_ops: int = 4, max_ops: int = 32) -> tuple[str, str]:
    ops: list[str] = []
    stack: list[str] = []
    for _ in range(rng.randint(min_ops, max_ops)):
        if stack and rng.random() < 0.4:
            ops.append("-")
            stack.pop()
        else:
            c = rng.choice(ALPHABET)
            ops.append(c)
            stack.append(c)
    return "".join(ops), "".join(stack)


def stack_verify(inp: str, out: str) -> bool:
    # the answer is what stays pushed: scan from the right, skipping letters that a later
    # '-' popped (an independent formulation of the simulation used by the generator)
    kept: list[str] = []
    pending = 0
    for ch in reversed(inp):
        if ch == "-":
            pending += 1
        elif ch in ALPHABET:
            if pending:
                pending -= 1
            else:
                kept.append(ch)
        else:
            return False
    return pending == 0 and "".join(reversed(kept)) == out


def set_sample(rng: random.Random, lo: int = 4, hi: int = 32) -> tuple[str, str]:
    x = _word(rng, lo, hi, ALPHABET[: rng.randint(4, 26)])
    return x, _dedup(x)


def set_verify(inp: str, out: str) -> bool:
    return (_symbols(inp) and len(set(out)) == len(out) and set(out) == set(inp)
            and sorted(out, key=inp.index) == list(out))


def sort_sample(rng: random.Random, lo: int = 4, hi: int = 32) -> tuple[str, str]:
    x = _word(rng, lo, hi)
    return x, "".join(sorted(x))


def sort_verify(inp: str, out: str) -> bool:
    return (_symbols(inp) and len(inp) == len(out) and all(a <= b for a, b in zip(out, out[1:], strict=False))
            and all(inp.count(c) == out.count(c) for c in set(inp)))


def reverse_sample(rng: random.Random, lo: int = 4, hi: int = 32) -> tuple[str, str]:
    x = _word(rng, lo, hi)
    return x, x[::-1]


def reverse_verify(inp: str, out: str) -> bool:
    return _symbols(inp) and len(inp) == len(out) and all(
        inp[i] == out[len(out) - 1 - i] for i in range(len(inp)))


def identity_sample(rng: random.Random, lo: int = 4, hi: int = 32) -> tuple[str, str]:
    x = _word(rng, lo, hi)
    return x, x


def identity_verify(inp: str, out: str) -> bool:
    return _symbols(inp) and len(inp) > 0 and inp == out


def union_sample(rng: random.Random, lo: int = 2, hi: int = 16) -> tuple[str, str]:
    alpha = ALPHABET[: rng.randint(4, 26)]
    x, y = _word(rng, lo, hi, alpha), _word(rng, lo, hi, alpha)
    return f"{x},{y}", _dedup(x + y)


def union_verify(inp: str, out: str) -> bool:
    if inp.count(",") != 1:
        return False
    x, y = inp.split(",")
    if not (_symbols(x) and _symbols(y)) or len(set(out)) != len(out):
        return False
    if set(out) != set(x) | set(y):
        return False
    # order: symbols of x by first appearance in x, then new symbols of y by appearance in y
    order = [c for c in out if c in x]
    tail = [c for c in out if c not in x]
    return (order == sorted(set(x), key=x.index) and tail == sorted(set(y) - set(x), key=y.index)
            and out.startswith("".join(order)))


def delete_sample(rng: random.Random, lo: int = 4, hi: int = 32) -> tuple[str, str]:
    alpha = ALPHABET[: rng.randint(3, 26)]
    x = _word(rng, lo, hi, alpha)
    c = rng.choice(x) if rng.random() < 0.9 else rng.choice(alpha)
    return f"{x},{c}", x.replace(c, "")


def delete_verify(inp: str, out: str) -> bool:
    if inp.count(",") != 1:
        return False
    x, c = inp.split(",")
    if len(c) != 1 or not _symbols(x + c) or c in out:
        return False
    it = iter(x)  # out must be x's subsequence that keeps every symbol other than c
    return all(ch in it for ch in out) and len(out) == len(x) - x.count(c)


def eca_step(row: str, rule: int = 110) -> str:
    n = len(row)
    return "".join(
        "1" if (rule >> (4 * (row[i - 1] == "1") + 2 * (row[i] == "1")
                         + (row[(i + 1) % n] == "1"))) & 1 else "0"
        for i in range(n))


def eca_sample(rng: random.Random, rule: int = 110, lo: int = 8, hi: int = 24,
               steps: int = 2) -> tuple[str, str]:
    row = "".join(rng.choice("01") for _ in range(rng.randint(lo, hi)))
    rows = []
    cur = row
    for _ in range(steps):
        cur = eca_step(cur, rule)
        rows.append(cur)
    return row, ",".join(rows)


def eca_verify(inp: str, out: str, rule: int = 110) -> bool:
    # a table lookup on the 3-cell neighbourhood written as a string, independent of eca_step
    table = {format(7 - i, "03b"): "01"[(rule >> (7 - i)) & 1] for i in range(8)}
    prev = inp
    if not prev or set(prev) - {"0", "1"}:
        return False
    for row in out.split(","):
        if len(row) != len(prev):
            return False
        ext = prev[-1] + prev + prev[0]
        if row != "".join(table[ext[i:i + 3]] for i in range(len(prev))):
            return False
        prev = row
    return True


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Task:
    """A procedural domain: generator, verifier, and whether the loss covers every token."""

    name: str
    sample: Callable[[random.Random], tuple[str, str]]
    verify: Callable[[str, str], bool]
    full_loss: bool
    """True for streams (dyck): loss on every token; False: loss on the output span only."""

    def generate(self, n: int, seed: int = 0) -> list[tuple[str, str]]:
        rng = random.Random(f"{self.name}/{seed}")
        return [self.sample(rng) for _ in range(n)]


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("dyck", dyck_sample, dyck_verify, True),
    Task("shuffle_dyck", shuffle_dyck_sample, shuffle_dyck_verify, True),
    Task("stack", stack_sample, stack_verify, False),
    Task("set", set_sample, set_verify, False),
    Task("sort", sort_sample, sort_verify, False),
    Task("reverse", reverse_sample, reverse_verify, False),
    Task("identity", identity_sample, identity_verify, False),
    Task("union", union_sample, union_verify, False),
    Task("delete", delete_sample, delete_verify, False),
    Task("eca", eca_sample, eca_verify, False),
)}
PROCEDURAL_DOMAINS: tuple[str, ...] = tuple(TASKS)
