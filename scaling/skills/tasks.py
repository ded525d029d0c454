"""Trainable skill tasks: the probe families as data domains a recipe can draw.

A skill task is written ``FAMILY(KNOB=VALUE,…)`` — the parentheses mark it as a task (``sort``
alone is the procedural domain, ``sort(n=8)`` the sorting skill) and hold its difficulty knobs;
``copy()`` takes every default. The canonical spelling lists every knob in the order below,
e.g. ``add(digits=3,pad=steps)``; it is the domain's name everywhere (recipes, per-domain losses,
skill records).

==========  ==============================  ============================================
family      knobs (default; range)          prompt → answer
==========  ==============================  ============================================
``needle``  ``k`` pairs (4; 1–24),          ``kv: qfa=417 zzb=902 ? zzb=`` → ``902``
            ``key`` letters per key (3; 1–3)
``copy``    ``n`` symbols (8; 1–100)        ``copy: abcd|`` → ``abcd``
``reverse`` ``n`` symbols (8; 1–100)        ``reverse: abcd|`` → ``dcba``
``sort``    ``n`` symbols (8; 1–100)        ``sort: dbca|`` → ``abcd``
``brackets````depth`` open brackets (4; 1–32)  ``close: ([{<[|`` → ``]>}])``
``add``     ``digits`` per operand (3; 1–12) ``add: 123+456=`` → ``579`` (``pad=plain``)
            ``pad`` (plain; plain, sums,
            steps, full)
``mod_add`` ``p`` modulus (97; 5–100000)    ``mod 97: 51+60=`` → ``14``
``mul``     ``digits`` per operand (2; 1–6)  ``mul: 12*34=`` → ``408``
``stack``   ``n`` most ops (16; 4–100)      ``ab-c`` → ``ac`` (procedural formats:
``set``     ``n`` longest input (16; 4–100)  ``input SEP output``, see
``union``   ``n`` longest word (8; 2–60)     :mod:`scaling.data.procedural`)
``delete``  ``n`` longest input (16; 4–100)
``eca``     ``n`` cells (12; 4–40), ``steps`` (2; 1–4)
==========  ==============================  ============================================

The procedural streams ``dyck`` and ``shuffle_dyck`` have no answer span (their loss is on
every token), so they are no skill task; they serve as domains and warm-ups.

Scratchpads of ``add`` (``12+39``), from the least significant digit, in increasing detail:
``plain`` ``51``; ``sums`` (each column's sum) ``11,5,=51``; ``steps`` (each column's operands,
carry in and sum) ``2+9+0=11,1+3+1=5,=51``; ``full`` (also the written digit and the carry out)
``2+9+0=11 w1 c1,1+3+1=5 w5 c0,=51``.

Training items are ``prompt SEP answer EOS`` with the loss on ``answer EOS`` only.

Held out by construction
------------------------
An item belongs to the held-out split iff ``sha256(family | prompt) mod 8 == 0``
(:func:`held_out`): the training generator rejects those items, evaluation draws only them,
so no evaluation item is ever a training item, whatever the seeds. The split depends on the
prompt only, so the scratchpad formats of ``add`` share one split, and the zero-shot probes of
:mod:`scaling.skills.probes` (the same formats) draw from the held-out side too.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..data import procedural as proc
from ..errors import ScalingError
from . import probes as P
from .probes import HELD_OUT_BUCKETS, held_out

__all__ = ["FAMILIES", "HELD_OUT_BUCKETS", "PADS", "SkillTask", "TaskError", "held_out",
           "is_task_spec", "parse_task", "task_from_table"]

PADS = ("plain", "sums", "steps", "full")
_SPEC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.S)


class TaskError(ScalingError, ValueError):
    """An unknown skill task or a bad knob value; the message names the part."""


# --------------------------------------------------------------------------- generators


def _needle(rng: random.Random, k: int, key_len: int = 3) -> tuple[str, str]:
    keys: list[str] = []
    while len(keys) < k:
        key = P._letters(rng, key_len)
        if key not in keys:
            keys.append(key)
    vals = [f"{rng.randrange(1000):03d}" for _ in keys]
    q = rng.randrange(k)
    hay = " ".join(f"{a}={v}" for a, v in zip(keys, vals, strict=True))
    return f"kv: {hay} ? {keys[q]}=", vals[q]


def _string_task(op: str, fn: Callable[[str], str]):
    def make(rng: random.Random, n: int) -> tuple[str, str]:
        x = P._letters(rng, n)
        return f"{op}: {x}|", fn(x)
    return make


def _brackets(rng: random.Random, depth: int) -> tuple[str, str]:
    prefix: list[str] = []
    stack: list[int] = []
    while len(stack) < depth:  # a random Dyck prefix that ends with `depth` unclosed brackets
        if stack and len(prefix) < 4 * depth and rng.random() < 0.3:
            prefix.append(P._CLOSE[stack.pop()])
        else:
            t = rng.randrange(4)
            stack.append(t)
            prefix.append(P._OPEN[t])
    return f"close: {''.join(prefix)}|", "".join(P._CLOSE[t] for t in reversed(stack))


def _operands(rng: random.Random, digits: int) -> tuple[int, int]:
    lo = 10 ** (digits - 1) if digits > 1 else 0
    return rng.randrange(lo, 10 ** digits), rng.randrange(lo, 10 ** digits)


def _add(rng: random.Random, digits: int, pad: str) -> tuple[str, str]:
    a, b = _operands(rng, digits)
    return f"add: {a}+{b}=", P.addition_pad(a, b, pad)


def _mod_add(rng: random.Random, p: int) -> tuple[str, str]:
    a, b = rng.randrange(p), rng.randrange(p)
    return f"mod {p}: {a}+{b}=", str((a + b) % p)


def _mul(rng: random.Random, digits: int) -> tuple[str, str]:
    a, b = _operands(rng, digits)
    return f"mul: {a}*{b}=", str(a * b)


def _eca(rng: random.Random, n: int, steps: int) -> tuple[str, str]:
    return proc.eca_sample(rng, lo=n, hi=n, steps=steps)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Knob:
    """A difficulty knob: an integer in ``[lo, hi]`` or one of ``choices``."""

    name: str
    default: int | str
    lo: int = 0
    hi: int = 0
    choices: tuple[str, ...] = ()

    def parse(self, text: str, where: str) -> int | str:
        text = str(text).strip()
        if self.choices:
            if text not in self.choices:
                raise TaskError(f"{where}: {self.name}={text!r}; use one of "
                                f"{', '.join(self.choices)}")
            return text
        try:
            v = int(text)
        except ValueError:
            raise TaskError(f"{where}: {self.name}={text!r} is not an integer") from None
        if not self.lo <= v <= self.hi:
            raise TaskError(f"{where}: {self.name}={v} is out of range; use {self.lo}–{self.hi}")
        return v

    def describe(self) -> str:
        rng = "|".join(self.choices) if self.choices else f"{self.lo}–{self.hi}"
        return f"{self.name}={self.default} ({rng})"


@dataclass(frozen=True)
class Family:
    name: str
    knobs: tuple[Knob, ...]
    make: Callable[..., tuple[str, str]]
    description: str


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("needle", (Knob("k", 4, 1, 24), Knob("key", 3, 1, 3)), _needle,
           "recall the value of a queried key among k key=value pairs"),
    Family("copy", (Knob("n", 8, 1, 100),), _string_task("copy", lambda x: x),
           "copy a random string"),
    Family("reverse", (Knob("n", 8, 1, 100),), _string_task("reverse", lambda x: x[::-1]),
           "reverse a random string"),
    Family("sort", (Knob("n", 8, 1, 100),),
           _string_task("sort", lambda x: "".join(sorted(x))), "sort the letters of a string"),
    Family("brackets", (Knob("depth", 4, 1, 32),), _brackets,
           "close every open bracket of a Dyck prefix"),
    Family("add", (Knob("digits", 3, 1, 12), Knob("pad", "plain", choices=PADS)), _add,
           "multi-digit addition, answer only or with a scratchpad"),
    Family("mod_add", (Knob("p", 97, 5, 100_000),), _mod_add, "modular addition"),
    Family("mul", (Knob("digits", 2, 1, 6),), _mul, "multi-digit multiplication"),
    Family("stack", (Knob("n", 16, 4, 100),),
           lambda rng, n: proc.stack_sample(rng, min_ops=4, max_ops=n),
           "the final stack of push/pop operations"),
    Family("set", (Knob("n", 16, 4, 100),), lambda rng, n: proc.set_sample(rng, lo=4, hi=n),
           "the distinct symbols of a string in order of appearance"),
    Family("union", (Knob("n", 8, 2, 60),), lambda rng, n: proc.union_sample(rng, lo=2, hi=n),
           "the ordered union of two strings' symbols"),
    Family("delete", (Knob("n", 16, 4, 100),),
           lambda rng, n: proc.delete_sample(rng, lo=4, hi=n), "delete a symbol from a string"),
    Family("eca", (Knob("n", 12, 4, 40), Knob("steps", 2, 1, 4)), _eca,
           "rows of the rule-110 cellular automaton"),
)}
#: Procedural streams: a loss on every token and no answer span to score.
NO_ANSWER = tuple(t.name for t in proc.TASKS.values() if t.full_loss)


@dataclass(frozen=True)
class SkillTask:
    """A skill task with its knobs: ``sample``/``train_item``/``eval_items``."""

    family: str
    knobs: tuple[tuple[str, int | str], ...]

    @property
    def spec(self) -> str:
        """Canonical ``FAMILY(KNOB=VALUE,…)``; ``parse_task(t.spec) == t``."""
        return f"{self.family}(" + ",".join(f"{k}={v}" for k, v in self.knobs) + ")"

    def __str__(self) -> str:
        return self.spec

    def sample(self, rng: random.Random) -> tuple[str, str]:
        """A ``(prompt, answer)`` from the whole item space (either split)."""
        return FAMILIES[self.family].make(rng, *(v for _, v in self.knobs))

    def is_held_out(self, prompt: str) -> bool:
        return held_out(self.family, prompt)

    def train_item(self, rng: random.Random) -> tuple[str, str]:
        """A training item: never a held-out one (rejection; 7 in 8 items are kept)."""
        while True:
            prompt, answer = self.sample(rng)
            if not held_out(self.family, prompt):
                return prompt, answer

    def val_item(self, rng: random.Random) -> tuple[str, str]:
        """A held-out item (for validation-loss pools; may repeat)."""
        while True:
            prompt, answer = self.sample(rng)
            if held_out(self.family, prompt):
                return prompt, answer

    def eval_items(self, n: int, seed: int = 0) -> list[tuple[str, str]]:
        """Up to ``n`` *distinct* held-out items, deterministic in ``seed``.

        Fewer when the held-out part of the item space is smaller (after ``20·n + 1000``
        draws in a row without a new item the search stops); :class:`TaskError` when there is
        none.
        """
        rng = random.Random(f"task-eval/{self.spec}/{seed}")
        seen: dict[str, str] = {}
        misses, limit = 0, 20 * max(n, 1) + 1000
        while len(seen) < n and misses < limit:
            prompt, answer = self.sample(rng)
            if held_out(self.family, prompt) and prompt not in seen:
                seen[prompt] = answer
                misses = 0
            else:
                misses += 1
        if not seen:
            raise TaskError(f"skill task {self.spec} has no held-out items (its item space "
                            "is too small); raise its size knob")
        return list(seen.items())


def is_task_spec(name: str) -> bool:
    """Whether ``name`` is written as a skill task (``FAMILY(…)``)."""
    return isinstance(name, str) and "(" in name


def parse_task(spec: str) -> SkillTask:
    """``needle(k=8)`` → :class:`SkillTask`; the error names the family or knob at fault."""
    m = _SPEC.match(spec)
    if not m:
        raise TaskError(f"skill task {spec!r}: write FAMILY(KNOB=VALUE,…), e.g. needle(k=8) "
                        "or copy()")
    name, body = m.group(1), m.group(2).strip()
    if name in NO_ANSWER:
        raise TaskError(f"{spec!r}: {name} has no answer span (a stream with the loss on every "
                        f"token), so it is no skill task; draw it as a domain ({name}=…) or a "
                        f"warm-up (front={name}:…)")
    fam = FAMILIES.get(name)
    if fam is None:
        raise TaskError(f"unknown skill task {name!r} in {spec!r}; known: "
                        f"{', '.join(FAMILIES)}")
    given: dict[str, str] = {}
    for part in (p.strip() for p in body.split(",")) if body else ():
        k, eq, v = part.partition("=")
        k = k.strip()
        if not eq or not k:
            raise TaskError(f"skill task {spec!r}: knob {part!r} needs a value, e.g. "
                            f"{fam.knobs[0].name}={fam.knobs[0].default}")
        if k in given:
            raise TaskError(f"skill task {spec!r}: duplicate knob {k!r}")
        given[k] = v
    known = {kn.name: kn for kn in fam.knobs}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TaskError(f"skill task {spec!r}: unknown knob {unknown[0]!r}; {name} takes "
                        + ", ".join(kn.describe() for kn in fam.knobs))
    knobs = tuple((kn.name, kn.parse(given[kn.name], spec) if kn.name in given else kn.default)
                  for kn in fam.knobs)
    return SkillTask(name, knobs)


def task_from_table(name: str, table: dict) -> SkillTask:
    """The TOML form ``needle = {weight = 0.5, k = 8}`` (``weight`` is not a knob)."""
    knobs = ",".join(f"{k}={v}" for k, v in table.items() if k != "weight")
    return parse_task(f"{name}({knobs})")


def describe_tasks() -> list[str]:
    """One line per family: ``needle(k=4 (1–24)): recall …``."""
    return [f"{f.name}({', '.join(k.describe() for k in f.knobs)}): {f.description}"
            for f in FAMILIES.values()]
