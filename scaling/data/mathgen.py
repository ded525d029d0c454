"""School-level math question/answer pairs in DeepMind-Math categories (our own generator).

Categories: ``arithmetic`` (+, −, ×, exact ÷, order of operations), ``linear`` (solve
``a*x + b = c`` with integer roots), ``polynomials`` (expand ``(x+a)(x+b)``, evaluate
``p(x)``), ``number_theory`` (gcd, lcm, remainder, is-prime), ``comparison`` (larger of two
numbers/fractions, sort), ``units`` (length, mass, time conversions). A sample is
``(question, answer)``; the stream renders it as ``Q: question\\nA: answer`` + EOS with the loss
on the answer (and its EOS) only. :func:`check` recomputes each answer independently.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

CATEGORIES = ("arithmetic", "linear", "polynomials", "number_theory", "comparison", "units")


def _n(rng: random.Random, lo: int = -99, hi: int = 99) -> int:
    return rng.randint(lo, hi)


def _p(x: int) -> str:
    return f"({x})" if x < 0 else str(x)


def arithmetic(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(5)
    a, b = _n(rng, -999, 999), _n(rng, -999, 999)
    if kind == 0:
        return f"What is {a} + {_p(b)}?", str(a + b)
    if kind == 1:
        return f"What is {a} - {_p(b)}?", str(a - b)
    if kind == 2:
        a, b = _n(rng, -99, 99), _n(rng, -99, 99)
        return f"Calculate {a}*{_p(b)}.", str(a * b)
    if kind == 3:
        b = rng.choice([x for x in range(-12, 13) if x])
        q = _n(rng, -99, 99)
        return f"Divide {q * b} by {_p(b)}.", str(q)
    a, b, c = _n(rng, -20, 20), _n(rng, -20, 20), _n(rng, -20, 20)
    return f"Evaluate {a} + {_p(b)}*{_p(c)}.", str(a + b * c)


def linear(rng: random.Random) -> tuple[str, str]:
    a = rng.choice([x for x in range(-12, 13) if x])
    x = _n(rng, -20, 20)
    b = _n(rng, -50, 50)
    var = rng.choice("xyzkmnt")
    return f"Solve {a}*{var} + {_p(b)} = {a * x + b} for {var}.", str(x)


def _poly(coeffs: list[int], var: str = "x") -> str:
    """Coefficients highest degree first → ``2*x**2 - 3*x + 1``."""
    deg = len(coeffs) - 1
    terms: list[str] = []
    for i, c in enumerate(coeffs):
        if c == 0:
            continue
        p = deg - i
        mag = abs(c)
        body = (str(mag) if p == 0 else (f"{mag}*" if mag != 1 else "") + var
                + (f"**{p}" if p > 1 else ""))
        sign = "-" if c < 0 else "+"
        terms.append(("-" + body if c < 0 else body) if not terms else f" {sign} {body}")
    return "".join(terms) or "0"


def polynomials(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        a, b = _n(rng, -9, 9), _n(rng, -9, 9)
        return f"Expand (x + {_p(a)})*(x + {_p(b)}).", _poly([1, a + b, a * b])
    coeffs = [_n(rng, -9, 9) for _ in range(rng.randint(2, 4))]
    coeffs[0] = coeffs[0] or 1
    x = _n(rng, -5, 5)
    val = sum(c * x ** (len(coeffs) - 1 - i) for i, c in enumerate(coeffs))
    return f"Let f(x) = {_poly(coeffs)}. What is f({x})?", str(val)


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def number_theory(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(4)
    a, b = rng.randint(2, 500), rng.randint(2, 500)
    if kind == 0:
        return f"What is the greatest common divisor of {a} and {b}?", str(math.gcd(a, b))
    if kind == 1:
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        return f"What is the lowest common multiple of {a} and {b}?", str(math.lcm(a, b))
    if kind == 2:
        b = rng.randint(2, 30)
        return f"What is the remainder when {a} is divided by {b}?", str(a % b)
    n = rng.randint(2, 2000)
    return f"Is {n} a prime number?", "True" if _is_prime(n) else "False"


def comparison(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(3)
    if kind == 0:
        a, b = _n(rng, -999, 999), _n(rng, -999, 999)
        while a == b:
            b = _n(rng, -999, 999)
        return f"Which is bigger: {a} or {b}?", str(max(a, b))
    if kind == 1:
        f1 = Fraction(rng.randint(1, 20), rng.randint(1, 20))
        f2 = Fraction(rng.randint(1, 20), rng.randint(1, 20))
        while f1 == f2:
            f2 = Fraction(rng.randint(1, 20), rng.randint(1, 20))
        return f"Which is smaller: {f1} or {f2}?", str(min(f1, f2))
    xs = rng.sample(range(-50, 51), rng.randint(3, 5))
    return f"Sort {', '.join(map(str, xs))} in increasing order.", ", ".join(
        map(str, sorted(xs)))


_UNITS = {  # unit → (quantity, size in the base unit)
    "millimetres": ("length", 1), "centimetres": ("length", 10), "metres": ("length", 1000),
    "kilometres": ("length", 1_000_000), "milligrams": ("mass", 1), "grams": ("mass", 1000),
    "kilograms": ("mass", 1_000_000), "seconds": ("time", 1), "minutes": ("time", 60),
    "hours": ("time", 3600), "days": ("time", 86400),
}


def _num(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else str(float(f))


def units(rng: random.Random) -> tuple[str, str]:
    qty = rng.choice(["length", "mass", "time"])
    names = [u for u, (q, _) in _UNITS.items() if q == qty]
    src, dst = rng.sample(names, 2)
    # exact answers: convert big → small from any amount, small → big to a chosen answer
    factor = Fraction(_UNITS[src][1], _UNITS[dst][1])
    if factor >= 1:
        amount = Fraction(rng.randint(1, 999), rng.choice([1, 1, 10]))
        value = amount * factor
    else:
        value = Fraction(rng.randint(1, 999), rng.choice([1, 1, 10]))
        amount = value / factor
    return f"How many {dst} are there in {_num(amount)} {src}?", _num(value)


GENERATORS = {"arithmetic": arithmetic, "linear": linear, "polynomials": polynomials,
              "number_theory": number_theory, "comparison": comparison, "units": units}


def sample(rng: random.Random) -> tuple[str, str, str]:
    """One ``(category, question, answer)``, categories equally likely."""
    cat = CATEGORIES[rng.randrange(len(CATEGORIES))]
    q, a = GENERATORS[cat](rng)
    return cat, q, a


def check(question: str, answer: str) -> bool:
    """Recompute the answer from the question text alone (independent of the generators)."""
    try:
        return _check(question, answer)
    except (ValueError, SyntaxError, ZeroDivisionError, KeyError, TypeError, NameError):
        return False


def _check(question: str, answer: str) -> bool:
    import re

    q = question
    m = re.fullmatch(r"(?:What is|Calculate|Evaluate) (.+)[?.]", q)
    if m and "f(" not in q and "greatest" not in q and "lowest" not in q \
            and "remainder" not in q and "prime" not in q:
        return str(eval(m.group(1), {"__builtins__": {}})) == answer  # noqa: S307 (our own text)
    m = re.fullmatch(r"Divide (-?\d+) by \(?(-?\d+)\)?\.", q)
    if m:
        return Fraction(int(m.group(1)), int(m.group(2))) == Fraction(answer)
    m = re.fullmatch(r"Solve (-?\d+)\*(\w) \+ \(?(-?\d+)\)? = (-?\d+) for \w\.", q)
    if m:
        a, b, c = int(m.group(1)), int(m.group(3)), int(m.group(4))
        return a * int(answer) + b == c
    m = re.fullmatch(r"Expand \(x \+ \(?(-?\d+)\)?\)\*\(x \+ \(?(-?\d+)\)?\)\.", q)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        expr = answer.replace("x", "(X)")
        return all(eval(expr.replace("X", str(x)), {"__builtins__": {}}) == (x + a) * (x + b)
                   for x in range(-3, 4))  # noqa: S307
    m = re.fullmatch(r"Let f\(x\) = (.+)\. What is f\((-?\d+)\)\?", q)
    if m:
        expr = m.group(1).replace("x", f"({m.group(2)})")
        return str(eval(expr, {"__builtins__": {}})) == answer  # noqa: S307
    m = re.fullmatch(r"What is the greatest common divisor of (\d+) and (\d+)\?", q)
    if m:
        a, b, d = int(m.group(1)), int(m.group(2)), int(answer)
        return a % d == 0 and b % d == 0 and all(a % e or b % e for e in range(d + 1, min(a, b) + 1))
    m = re.fullmatch(r"What is the lowest common multiple of (\d+) and (\d+)\?", q)
    if m:
        a, b, v = int(m.group(1)), int(m.group(2)), int(answer)
        return v % a == 0 and v % b == 0 and all(k % a or k % b for k in range(max(a, b), v))
    m = re.fullmatch(r"What is the remainder when (\d+) is divided by (\d+)\?", q)
    if m:
        a, b, r = int(m.group(1)), int(m.group(2)), int(answer)
        return 0 <= r < b and (a - r) % b == 0
    m = re.fullmatch(r"Is (\d+) a prime number\?", q)
    if m:
        n = int(m.group(1))
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        return answer == str(len(divisors) == 2)
    m = re.fullmatch(r"Which is (bigger|smaller): (\S+) or (\S+)\?", q)
    if m:
        x, y = Fraction(m.group(2)), Fraction(m.group(3))
        want = max(x, y) if m.group(1) == "bigger" else min(x, y)
        return Fraction(answer) == want and answer in (m.group(2), m.group(3))
    m = re.fullmatch(r"Sort (.+) in increasing order\.", q)
    if m:
        xs = [int(t) for t in m.group(1).split(", ")]
        ys = [int(t) for t in answer.split(", ")]
        return sorted(xs) == sorted(ys) and all(a < b for a, b in zip(ys, ys[1:], strict=False))
    m = re.fullmatch(r"How many (\w+) are there in (\S+) (\w+)\?", q)
    if m:
        dst, amount, src = m.group(1), Fraction(m.group(2)), m.group(3)
        return (_UNITS[src][0] == _UNITS[dst][0]
                and Fraction(answer) * _UNITS[dst][1] == amount * _UNITS[src][1])
    return False
