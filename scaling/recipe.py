"""Data recipes: which domain is drawn at which point of training.

A recipe is a *base* mixture plus optional phases. The string form (``--mix``) is::

    prose=0.7,code=0.3                       static mixture (weights normalised; each ≥ 0,
                                             a domain at 0 left out)
    prose=1;front=dyck:0.001                 the first 0.1% of tokens are dyck, then the base
    prose=0.8,code=0.2;mid=code:0.5@0.4      from 40% of training on, code has weight 0.5 and
                                             the other base domains share the remaining 0.5
                                             in their base proportions
    prose=1;meco=0.9                         MeCo: ``URL: <source>\\n\\n`` before each document
                                             (no loss on it) for the first 90%, then cooldown
    prose=1;front=dyck:0.01:reset            two-stage protocol: the front stage has its own LR
                                             schedule, then a fresh optimizer + warm-up
    prose=1;front=dyck:0.01:reset:keep=attn  keep only the attention weights of the front stage
                                             (``keep=mlp`` / ``keep=all``); needs ``reset``

User corpora are base entries of the form ``NAME@PATH[:FIELD]=WEIGHT``::

    prose=0.7,wiki@data/wiki/*.jsonl:text=0.3
    notes@/abs/notes/*.txt=1

``NAME`` (letters, digits, ``_``; not a built-in domain) is the domain name used everywhere
else (``front=``, ``mid=``, per-domain losses); ``PATH`` is a file, a directory, or a glob of
``*.txt`` / ``*.jsonl`` / ``*.parquet`` files; ``FIELD`` is the text column of jsonl/parquet
files (default ``text``). ``NAME@hf:DATASET[/CONFIG][:FIELD]`` reads a Hugging Face dataset
(needs the optional ``datasets`` package and a network or a local HF cache).

TOML form (the same recipe; ``parse_recipe(dict)``)::

    [mix]
    base = {prose = 0.7, wiki = 0.3}
    front = {domain = "dyck", fraction = 0.01, reset = true, keep = "attn"}
    mid = {domain = "code", weight = 0.5, start = 0.4}
    meco = 0.9
    [mix.corpora.wiki]
    path = "data/wiki/*.jsonl"
    field = "text"

(the keys may also sit at top level, without ``[mix]``).

Skill tasks (:mod:`scaling.skills.tasks`) are domains written ``FAMILY(KNOB=VALUE,…)``: the
probe families as training data, loss on the answer only, evaluated on held-out items::

    needle(k=8)=1                             train on needle recall with 8 key=value pairs
    prose=0.6,copy(n=8)=0.2,add(digits=3,pad=steps)=0.2
    needle(k=8)=1;front=dyck:0.2:reset:emb=mean
                                              the diagnostic protocol: a Dyck warm-up (20% of
                                              the tokens), then the task; at the switch every
                                              token embedding is set to their mean

Families and knobs: ``needle(k,key)``, ``copy(n)``, ``reverse(n)``, ``sort(n)``,
``brackets(depth)``, ``add(digits,pad=plain|sums|steps|full)``, ``mod_add(p)``,
``mul(digits)``; ``copy()`` takes the defaults. The parentheses mark a task (``sort`` alone is
the procedural domain). In TOML a task is a quoted key, ``base = {"needle(k=8)" = 1}``, or a
table with its weight and knobs, ``base = {needle = {weight = 1, k = 8}}``.

``front=…:emb=keep|reinit|mean`` sets what the token embeddings become where the front phase
ends (with ``reset`` or continuous): kept (default), re-initialised, or all set to their mean
embedding (the procedural-pretraining paper's diagnostic protocol).

Canonical name: base domains sorted by name (skill tasks spelled with every knob), weights
normalised and rounded to 12 significant digits, then ``front``, ``mid``, ``meco`` in that
order; ``parse_recipe(r.name) == r``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .errors import ScalingError

KEEP_CHOICES = ("attn", "mlp", "all")
EMB_CHOICES = ("keep", "reinit", "mean")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RecipeError(ScalingError, ValueError):
    """A ``--mix`` string or TOML recipe that cannot be used; the message names the bad part."""


def _known_domains() -> tuple[str, ...]:
    from .data.domains import BUILTIN_DOMAINS

    return BUILTIN_DOMAINS


def _split_top(text: str, sep: str) -> list[str]:
    """``text.split(sep)`` outside parentheses (skill-task knobs hold ``,`` and ``=``)."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _fmt(x: float) -> str:
    return format(x, ".12g")


def _canon(x: float) -> float:
    """Round to 12 significant digits, so that the canonical name round-trips exactly."""
    return float(_fmt(x))


def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise RecipeError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise RecipeError(f"{what}: {text!r} is not a finite number")
    return v


@dataclass(frozen=True)
class UserCorpus:
    """A user corpus registered by a recipe: ``name@path:field``."""

    name: str
    """Domain name used in the recipe."""
    path: str
    """File, directory, glob, or ``hf:DATASET[/CONFIG]``."""
    field: str = "text"
    """Text field of jsonl/parquet/HF records (ignored for ``.txt``)."""

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.path}" + ("" if self.field == "text" else f":{self.field}")


@dataclass(frozen=True)
class Front:
    """Front-loaded domain: the first ``fraction`` of all tokens come from ``domain``."""

    domain: str
    fraction: float
    reset: bool = False
    """Two-stage protocol: new LR schedule, fresh optimizer and warm-up after the front stage."""
    keep: str | None = None
    """With ``reset``: which weights survive the stage change (``attn``, ``mlp``, ``all``)."""
    emb: str | None = None
    """The token embeddings where the front phase ends: ``keep``, ``reinit``, or ``mean``
    (every row set to the mean embedding); ``None`` = what ``keep`` implies."""


@dataclass(frozen=True)
class Mid:
    """Mid-training: from ``start`` (fraction of tokens) on, ``domain`` has weight ``weight``."""

    domain: str
    weight: float
    start: float


@dataclass(frozen=True)
class Phase:
    """A stretch of training ``[start, end)`` (fractions of total tokens) with fixed weights."""

    name: str
    start: float
    end: float
    weights: dict[str, float]
    meco: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "start": self.start, "end": self.end,
                "weights": dict(self.weights), "meco": self.meco}


@dataclass(frozen=True)
class Recipe:
    """A parsed, validated, canonical recipe (build it with :func:`parse_recipe`)."""

    base: tuple[tuple[str, float], ...]
    """``(domain, weight)`` pairs, weights normalised to sum 1, sorted by domain name."""
    front: Front | None = None
    mid: Mid | None = None
    meco: float | None = None
    """Fraction of training (from the start) with metadata prefixes; ``None`` = no MeCo."""
    corpora: tuple[UserCorpus, ...] = field(default=())
    """User corpora referenced by name in ``base`` (sorted by name)."""

    # ------------------------------------------------------------------ names
    @property
    def name(self) -> str:
        """Canonical ``--mix`` string; ``parse_recipe(r.name) == r``."""
        specs = {c.name: c.spec for c in self.corpora}
        parts = [",".join(f"{specs.get(d, d)}={_fmt(w)}" for d, w in self.base)]
        if self.front is not None:
            f = self.front
            s = f"front={f.domain}:{_fmt(f.fraction)}"
            if f.reset:
                s += ":reset"
            if f.keep is not None:
                s += f":keep={f.keep}"
            if f.emb is not None:
                s += f":emb={f.emb}"
            parts.append(s)
        if self.mid is not None:
            parts.append(f"mid={self.mid.domain}:{_fmt(self.mid.weight)}@{_fmt(self.mid.start)}")
        if self.meco is not None:
            parts.append(f"meco={_fmt(self.meco)}")
        return ";".join(parts)

    def __str__(self) -> str:
        return self.name

    @property
    def domains(self) -> tuple[str, ...]:
        """Every domain drawn at some point (base order, then front, then mid)."""
        out = [d for d, _ in self.base]
        for extra in (self.front and self.front.domain, self.mid and self.mid.domain):
            if extra and extra not in out:
                out.append(extra)
        return tuple(out)

    # ------------------------------------------------------------------ schedule
    def _main_weights(self, frac: float) -> dict[str, float]:
        base = dict(self.base)
        if self.mid is None or frac < self.mid.start:
            return base
        m = self.mid
        rest = {d: w for d, w in base.items() if d != m.domain}
        total = sum(rest.values())
        if total <= 0 or m.weight >= 1.0:
            return {m.domain: 1.0}
        out = {d: (1.0 - m.weight) * w / total for d, w in rest.items()}
        out[m.domain] = m.weight
        return {d: out[d] for d in sorted(out)}

    def weights_at(self, frac: float) -> dict[str, float]:
        """Domain weights at token position ``frac * total`` (``frac`` in [0, 1]).

        The front phase is ``[0, front.fraction)``; mid-training applies for
        ``frac >= mid.start`` (after any front phase): the mid domain gets ``w_mid`` and each
        other base domain ``(1 - w_mid) * w_d / sum_{e != mid} w_e``.
        """
        if not 0.0 <= frac <= 1.0:
            raise RecipeError(f"token fraction must be in [0, 1], got {frac}")
        if self.front is not None and frac < self.front.fraction:
            return {self.front.domain: 1.0}
        return self._main_weights(frac)

    def meco_at(self, frac: float) -> bool:
        """Whether metadata prefixes are on at ``frac`` (MeCo, before the cooldown)."""
        return self.meco is not None and frac < self.meco

    def boundaries(self) -> list[float]:
        cuts = {0.0, 1.0}
        if self.front is not None:
            cuts.add(self.front.fraction)
        if self.mid is not None and 0.0 < self.mid.start < 1.0:
            cuts.add(self.mid.start)
        if self.meco is not None and 0.0 < self.meco < 1.0:
            cuts.add(self.meco)
        return sorted(cuts)

    def phases(self) -> list[Phase]:
        """The stretches of training with constant weights and MeCo state, in order.

        Names: ``front`` / ``main`` / ``mid``, with ``-cooldown`` appended once a MeCo recipe
        has switched its prefixes off.
        """
        cuts = self.boundaries()
        out: list[Phase] = []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if b <= a:
                continue
            if self.front is not None and a < self.front.fraction:
                name = "front"
            elif self.mid is not None and a >= self.mid.start:
                name = "mid"
            else:
                name = "main"
            meco = self.meco_at(a)
            if self.meco is not None and not meco:
                name += "-cooldown"
            out.append(Phase(name, a, b, self.weights_at(a), meco))
        return out

    def phase_at(self, frac: float) -> Phase:
        for p in self.phases():
            if p.start <= frac < p.end:
                return p
        return self.phases()[-1]

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        """JSON-safe dict (the TOML form); ``parse_recipe(r.to_dict()) == r``."""
        out: dict = {"base": dict(self.base)}
        if self.front is not None:
            out["front"] = {"domain": self.front.domain, "fraction": self.front.fraction,
                            "reset": self.front.reset, "keep": self.front.keep}
            if self.front.emb is not None:
                out["front"]["emb"] = self.front.emb
        if self.mid is not None:
            out["mid"] = {"domain": self.mid.domain, "weight": self.mid.weight,
                          "start": self.mid.start}
        if self.meco is not None:
            out["meco"] = self.meco
        if self.corpora:
            out["corpora"] = {c.name: {"path": c.path, "field": c.field} for c in self.corpora}
        return out


# ---------------------------------------------------------------------- parsing


def _fraction(text, what: str, *, open_low: bool = True, allow_one: bool = True) -> float:
    v = _number(text, what) if isinstance(text, str) else _number(str(text), what)
    lo_ok = v > 0 if open_low else v >= 0
    hi_ok = v <= 1 if allow_one else v < 1
    if not (lo_ok and hi_ok):
        lo = "(0" if open_low else "[0"
        hi = "1]" if allow_one else "1)"
        raise RecipeError(f"{what} must be in {lo}, {hi}, got {text!r}")
    return _canon(v)


def _check_domain(name: str, where: str, user: Mapping[str, UserCorpus]) -> str:
    """The domain's canonical name (a skill task with every knob), or a RecipeError."""
    from .skills.tasks import FAMILIES, TaskError, is_task_spec, parse_task

    known = _known_domains()
    if name in known or name in user:
        return name
    if is_task_spec(name):
        try:
            return parse_task(name).spec
        except TaskError as e:
            raise RecipeError(f"{e} (in {where} of --mix)") from None
    extra = f"; user corpora: {', '.join(sorted(user))}" if user else ""
    hint = " (a user corpus is written NAME@PATH=WEIGHT)" if where == "base" else ""
    if name in FAMILIES:
        hint = f" (the skill task is written with its knobs: {name}(…), e.g. {name}())"
    raise RecipeError(f"unknown domain {name!r} in {where} of --mix; known: "
                      f"{', '.join(known)}, skill tasks {', '.join(f + '(…)' for f in FAMILIES)}"
                      f"{extra}{hint}")


def _user_corpus(key: str) -> UserCorpus:
    name, _, rest = key.partition("@")
    name = name.strip()
    rest = rest.strip()
    if not _NAME.match(name):
        raise RecipeError(f"user corpus name {name!r} in {key!r}: use letters, digits and _")
    if name in _known_domains():
        raise RecipeError(f"user corpus name {name!r} clashes with a built-in domain; "
                          "pick another name")
    if not rest:
        raise RecipeError(f"user corpus {name!r} has an empty path; write {name}@PATH=WEIGHT")
    fld = "text"
    prefix = ""
    if rest.startswith("hf:"):
        prefix, rest = "hf:", rest[3:]
    if ":" in rest:
        rest, _, fld = rest.rpartition(":")
        if not fld or not _NAME.match(fld.replace("-", "_").replace(".", "_")):
            raise RecipeError(f"bad text field {fld!r} for user corpus {name!r}")
    if not rest:
        raise RecipeError(f"user corpus {name!r} has an empty path; write {name}@PATH=WEIGHT")
    return UserCorpus(name, prefix + rest, fld)


def _normalise(base: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    total = sum(w for _, w in base)
    if abs(total - 1.0) < 1e-9:  # already normalised (e.g. a canonical name): keep it exact
        total = 1.0
    return tuple(sorted((d, _canon(w / total)) for d, w in base))


def _build(base_items: list[tuple[str, float]], corpora: dict[str, UserCorpus],
           front: Front | None, mid: Mid | None, meco: float | None) -> Recipe:
    if not base_items:
        raise RecipeError("--mix has no base mixture; write e.g. prose=1")
    seen: set[str] = set()
    canon: list[tuple[str, float]] = []
    for d, w in base_items:
        d = _check_domain(d, "base", corpora)
        if d in seen:
            raise RecipeError(f"duplicate domain {d!r} in the base mixture of --mix")
        seen.add(d)
        if not w >= 0:
            raise RecipeError(f"weight of {d!r} must be ≥ 0, got {w!r}")
        if w > 0:  # a domain at weight 0 is not in the mixture (a table's empty column)
            canon.append((d, w))
    if not canon:
        raise RecipeError("every weight of the base mixture is 0; give one domain a weight")
    base_items = canon
    used = {d for d, _ in canon}
    if front is not None:
        front = replace(front, domain=_check_domain(front.domain, "front=", corpora))
    if mid is not None:
        mid = replace(mid, domain=_check_domain(mid.domain, "mid=", corpora))
        if front is not None and mid.start < front.fraction:
            raise RecipeError(f"mid= starts at {mid.start}, inside the front phase (first "
                              f"{front.fraction}); start it at or after {front.fraction}")
    unused = set(corpora) - seen
    if unused:
        raise RecipeError(f"user corpora {sorted(unused)} are registered but not in the base "
                          "mixture; give them a weight")
    return Recipe(_normalise(base_items), front, mid, meco,
                  tuple(corpora[k] for k in sorted(corpora) if k in used))


def _parse_front(text: str) -> Front:
    parts = text.split(":")
    if len(parts) < 2:
        raise RecipeError(f"front={text!r}: write front=DOMAIN:FRACTION[:reset][:keep=attn]"
                          "[:emb=mean]")
    domain, frac = parts[0].strip(), _fraction(parts[1], "front fraction", allow_one=False)
    reset, keep, emb = False, None, None
    for opt in (p.strip() for p in parts[2:]):
        if opt == "reset":
            if reset:
                raise RecipeError("duplicate 'reset' in front=")
            reset = True
        elif opt.startswith("keep="):
            if keep is not None:
                raise RecipeError("duplicate 'keep=' in front=")
            keep = opt[5:]
        elif opt.startswith("emb="):
            if emb is not None:
                raise RecipeError("duplicate 'emb=' in front=")
            emb = opt[4:]
        else:
            raise RecipeError(f"unknown front= option {opt!r}; use 'reset', "
                              "'keep=attn|mlp|all' and 'emb=keep|reinit|mean'")
    return _front(domain, frac, reset, keep, emb)


def _front(domain: str, frac: float, reset: bool, keep: str | None,
           emb: str | None = None) -> Front:
    if keep is not None:
        if keep not in KEEP_CHOICES:
            raise RecipeError(f"keep={keep!r}: use one of {', '.join(KEEP_CHOICES)}")
        if not reset:
            raise RecipeError("keep= needs the two-stage protocol: write front=D:F:reset:keep=…")
    if emb is not None:
        if emb not in EMB_CHOICES:
            raise RecipeError(f"emb={emb!r} in front=: use one of {', '.join(EMB_CHOICES)}")
    return Front(domain, frac, bool(reset), keep, emb)


def _parse_mid(text: str) -> Mid:
    m = re.match(r"^\s*([^:@]+):([^@]+)@(.+)$", text)
    if not m:
        raise RecipeError(f"mid={text!r}: write mid=DOMAIN:WEIGHT@START, e.g. mid=code:0.5@0.4")
    return Mid(m.group(1).strip(), _fraction(m.group(2), "mid weight"),
               _fraction(m.group(3), "mid start", open_low=False, allow_one=False))


def _parse_string(spec: str) -> Recipe:
    if not spec or not spec.strip():
        raise RecipeError("empty --mix; write e.g. prose=1")
    sections = [s.strip() for s in _split_top(spec.strip(), ";")]
    base_txt, opts = sections[0], sections[1:]
    if "=" in base_txt and base_txt.split("=", 1)[0].strip() in ("front", "mid", "meco"):
        raise RecipeError("--mix must start with the base mixture, e.g. 'prose=1;front=dyck:0.01'")
    corpora: dict[str, UserCorpus] = {}
    base: list[tuple[str, float]] = []
    for item in _split_top(base_txt, ","):
        item = item.strip()
        if not item:
            raise RecipeError(f"empty entry in base mixture {base_txt!r}")
        if "=" not in item:
            raise RecipeError(f"base entry {item!r} has no weight; write DOMAIN=WEIGHT")
        key, _, wtxt = item.rpartition("=")
        key = key.strip()
        if "@" in key:
            c = _user_corpus(key)
            if c.name in corpora:
                raise RecipeError(f"duplicate domain {c.name!r} in the base mixture of --mix")
            corpora[c.name] = c
            key = c.name
        base.append((key, _number(wtxt, f"weight of {key!r}")))
    front = mid = meco = None
    seen: set[str] = set()
    for opt in opts:
        if not opt:
            continue
        k, eq, v = opt.partition("=")
        k = k.strip()
        if not eq:
            raise RecipeError(f"--mix option {opt!r} has no '='; use front=, mid=, meco=")
        if k in seen:
            raise RecipeError(f"duplicate key {k!r} in --mix")
        seen.add(k)
        if k == "front":
            front = _parse_front(v)
        elif k == "mid":
            mid = _parse_mid(v)
        elif k == "meco":
            meco = _fraction(v, "meco fraction")
        else:
            raise RecipeError(f"unknown --mix option {k!r}; use front=, mid=, meco=")
    return _build(base, corpora, front, mid, meco)


def _parse_mapping(spec: Mapping) -> Recipe:
    if "mix" in spec and isinstance(spec["mix"], Mapping):
        spec = spec["mix"]
    allowed = {"base", "front", "mid", "meco", "corpora"}
    extra = set(spec) - allowed
    if extra:
        raise RecipeError(f"unknown recipe keys {sorted(extra)}; use {sorted(allowed)}")
    base_map = spec.get("base")
    if not isinstance(base_map, Mapping) or not base_map:
        raise RecipeError("recipe needs a non-empty 'base' table, e.g. base = {prose = 1}")
    corpora: dict[str, UserCorpus] = {}
    for name, c in (spec.get("corpora") or {}).items():
        if isinstance(c, str):
            c = {"path": c}
        if not isinstance(c, Mapping) or not c.get("path"):
            raise RecipeError(f"user corpus {name!r} needs a non-empty path")
        corpora[name] = _user_corpus(f"{name}@{c['path']}:{c.get('field') or 'text'}")
    base = []
    for d, w in base_map.items():
        if isinstance(w, Mapping):  # a skill task with its knobs: needle = {weight = 1, k = 8}
            from .skills.tasks import TaskError, task_from_table

            if "weight" not in w:
                raise RecipeError(f"skill task {d!r} in the recipe table needs a weight, e.g. "
                                  f"{d} = {{weight = 1, …}}")
            try:
                d, w = task_from_table(str(d), dict(w)).spec, w["weight"]
            except TaskError as e:
                raise RecipeError(str(e)) from None
        base.append((str(d), _number(str(w), f"weight of {d!r}")))
    front = mid = None
    if spec.get("front") is not None:
        f = spec["front"]
        if isinstance(f, str):
            front = _parse_front(f)
        else:
            front = _front(str(f.get("domain", "")),
                           _fraction(f.get("fraction"), "front fraction", allow_one=False),
                           bool(f.get("reset", False)), f.get("keep"), f.get("emb"))
    if spec.get("mid") is not None:
        m = spec["mid"]
        if isinstance(m, str):
            mid = _parse_mid(m)
        else:
            mid = Mid(str(m.get("domain", "")), _fraction(m.get("weight"), "mid weight"),
                      _fraction(m.get("start"), "mid start", open_low=False, allow_one=False))
    meco = spec.get("meco")
    if meco is not None:
        meco = _fraction(meco, "meco fraction")
    return _build(base, corpora, front, mid, meco)


def parse_recipe(spec: str | Mapping | Recipe) -> Recipe:
    """Parse a ``--mix`` string or its TOML/dict form into a canonical :class:`Recipe`.

    Raises
    ------
    RecipeError
        Unknown domain (the known ones are listed), weights <= 0, fractions outside their
        range, duplicate keys, malformed options — naming the offending part.
    """
    if isinstance(spec, Recipe):
        return spec
    if isinstance(spec, str):
        return _parse_string(spec)
    if isinstance(spec, Mapping):
        return _parse_mapping(spec)
    raise RecipeError(f"a recipe is a --mix string or a table, got {type(spec).__name__}")
