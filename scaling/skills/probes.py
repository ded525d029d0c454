"""Skill probes: held-out tasks with a difficulty knob, scored by exact match.

Every probe renders plain text (so any tokenizer works). ``difficulty`` d ≥ 1 sets the size;
the sizes below keep prompt + answer ≤ 256 byte tokens for d ≤ 6:

==================  ===========================================  ==========================
probe               prompt → answer                              size at difficulty d
==================  ===========================================  ==========================
``needle``          ``kv: qfa=417 zzb=902 … ? zzb=`` → ``902``   k = 4·d pairs (≤ 8·k + 12)
``copy``            ``copy: abcd|`` → ``abcd``                   n = 4·d symbols
``reverse``         ``reverse: abcd|`` → ``dcba``                n = 4·d symbols
``sort``            ``sort: dbca|`` → ``abcd``                   n = 4·d symbols
``brackets``        ``close: ([{<[|`` → ``]>}])``                 2·d + 2 open brackets
``add_plain``       ``add: 123+456=`` → ``579``                  d + 1 digits per operand
``add_scratchpad``  ``add: 12+39=`` → ``2+9+0=11,1+3+1=5,=51``   d + 1 digits per operand
``mod_add``         ``mod 97: 51+60=`` → ``14``                  p = (7, 31, 97, 211, 997)[d]
==================  ===========================================  ==========================

The scratchpad answer lists, from the least significant digit, ``a_i+b_i+carry=s_i`` and ends
with ``=`` and the sum; its exact match needs every step right.

Probe items are drawn from the held-out side of the split of :mod:`scaling.skills.tasks`
(:func:`held_out`), so a run that trains on a skill task never meets its probe items in training.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ScalingError

_OPEN, _CLOSE = "([{<", ")]}>"
_PRIMES = (7, 31, 97, 211, 997, 7919)


#: One item in ``HELD_OUT_BUCKETS`` is held out (12.5%).
HELD_OUT_BUCKETS = 8
#: The skill-task family whose item split a probe shares.
PROBE_FAMILY = {"add_plain": "add", "add_scratchpad": "add"}


class ProbeError(ScalingError, ValueError):
    """Unknown probe or bad difficulty."""


def held_out(family: str, prompt: str) -> bool:
    """Whether the item with this prompt is an evaluation item: ``sha256(family | prompt)
    mod 8 == 0``. Skill-task training items never are (:mod:`scaling.skills.tasks`)."""
    h = hashlib.sha256(f"{family}|{prompt}".encode()).digest()
    return int.from_bytes(h[:8], "little") % HELD_OUT_BUCKETS == 0


@dataclass(frozen=True)
class Example:
    prompt: str
    answer: str


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def needle(rng: random.Random, d: int) -> Example:
    k = 4 * d
    keys: list[str] = []
    while len(keys) < k:
        key = _letters(rng, 3)
        if key not in keys:
            keys.append(key)
    vals = [f"{rng.randrange(1000):03d}" for _ in keys]
    q = rng.randrange(k)
    hay = " ".join(f"{a}={v}" for a, v in zip(keys, vals, strict=True))
    return Example(f"kv: {hay} ? {keys[q]}=", vals[q])


def copy(rng: random.Random, d: int) -> Example:
    x = _letters(rng, 4 * d)
    return Example(f"copy: {x}|", x)


def reverse(rng: random.Random, d: int) -> Example:
    x = _letters(rng, 4 * d)
    return Example(f"reverse: {x}|", x[::-1])


def sort(rng: random.Random, d: int) -> Example:
    x = _letters(rng, 4 * d)
    return Example(f"sort: {x}|", "".join(sorted(x)))


def brackets(rng: random.Random, d: int) -> Example:
    depth = 2 * d + 2
    prefix: list[str] = []
    stack: list[int] = []
    # a random Dyck prefix that ends with `depth` unclosed brackets
    while len(stack) < depth:
        if stack and len(prefix) < 4 * depth and rng.random() < 0.3:
            prefix.append(_CLOSE[stack.pop()])
        else:
            t = rng.randrange(4)
            stack.append(t)
            prefix.append(_OPEN[t])
    return Example(f"close: {''.join(prefix)}|", "".join(_CLOSE[t] for t in reversed(stack)))


def _operands(rng: random.Random, d: int) -> tuple[int, int]:
    n = d + 1
    return rng.randrange(10 ** (n - 1), 10 ** n), rng.randrange(10 ** (n - 1), 10 ** n)


def add_plain(rng: random.Random, d: int) -> Example:
    a, b = _operands(rng, d)
    return Example(f"add: {a}+{b}=", str(a + b))


def addition_pad(a: int, b: int, pad: str) -> str:
    """The answer of ``a+b`` with scratchpad ``pad``: ``plain`` (the sum), or per digit from the
    least significant ``sums`` (``s_i``), ``steps`` (``a_i+b_i+carry=s_i``) or ``full`` (steps
    plus the written digit and the carry), then ``=`` and the sum."""
    if pad == "plain":
        return str(a + b)
    xs, ys = str(a)[::-1], str(b)[::-1]
    steps, carry = [], 0
    for i in range(max(len(xs), len(ys))):
        u = int(xs[i]) if i < len(xs) else 0
        v = int(ys[i]) if i < len(ys) else 0
        s = u + v + carry
        steps.append({"sums": f"{s}", "steps": f"{u}+{v}+{carry}={s}",
                      "full": f"{u}+{v}+{carry}={s} w{s % 10} c{s // 10}"}[pad])
        carry = s // 10
    return ",".join(steps) + f",={a + b}"


def scratchpad(a: int, b: int) -> str:
    """``a_i+b_i+carry=s_i`` per digit from the least significant, then ``=`` and the sum."""
    return addition_pad(a, b, "steps")


def add_scratchpad(rng: random.Random, d: int) -> Example:
    a, b = _operands(rng, d)
    return Example(f"add: {a}+{b}=", scratchpad(a, b))


def mod_add(rng: random.Random, d: int) -> Example:
    p = _PRIMES[min(d, len(_PRIMES)) - 1]
    a, b = rng.randrange(p), rng.randrange(p)
    return Example(f"mod {p}: {a}+{b}=", str((a + b) % p))


@dataclass(frozen=True)
class Probe:
    """A named probe: ``generate(n, difficulty, seed)`` → examples (deterministic)."""

    name: str
    make: Callable[[random.Random, int], Example]
    description: str = ""

    def generate(self, n: int, difficulty: int = 1, seed: int = 0) -> list[Example]:
        if int(difficulty) != difficulty or difficulty < 1:
            raise ProbeError(f"difficulty must be an integer >= 1, got {difficulty!r}")
        if n < 0:
            raise ProbeError(f"n must be >= 0, got {n}")
        # held out by construction: only items of the held-out split (never training items)
        rng = random.Random(f"probe/{self.name}/{difficulty}/{seed}")
        family = PROBE_FAMILY.get(self.name, self.name)
        out: list[Example] = []
        while len(out) < n:
            ex = self.make(rng, int(difficulty))
            if held_out(family, ex.prompt):
                out.append(ex)
        return out


PROBES: dict[str, Probe] = {p.name: p for p in (
    Probe("needle", needle, "recall the value of a queried key among k key=value pairs"),
    Probe("copy", copy, "copy a random string"),
    Probe("reverse", reverse, "reverse a random string"),
    Probe("sort", sort, "sort the letters of a random string"),
    Probe("brackets", brackets, "close every open bracket of a Dyck prefix"),
    Probe("add_plain", add_plain, "multi-digit addition, answer only"),
    Probe("add_scratchpad", add_scratchpad, "multi-digit addition with per-digit scratchpad"),
    Probe("mod_add", mod_add, "modular addition"),
)}


def get_probe(name: str) -> Probe:
    if name not in PROBES:
        raise ProbeError(f"unknown probe {name!r}; known: {', '.join(PROBES)}")
    return PROBES[name]
