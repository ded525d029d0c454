"""What ``scaling data show`` prints: decoded samples of a domain, or items of a skill probe.

:func:`samples` decides which of the two a name means (a built-in domain wins over a probe of
the same name; ``probe:NAME`` asks for the probe), registers a user corpus ``NAME@PATH[:FIELD]``
and returns a :class:`Samples`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..recipe import parse_recipe
from ..skills import PROBES, get_probe
from .domains import BUILTIN_DOMAINS, register_corpus, show_samples


@dataclass
class Samples:
    """Samples of one domain (decoded train documents) or one probe (prompt → answer)."""

    domain: str  #: the name asked for (a probe's as given; a user corpus's NAME)
    kind: str  #: "domain" or "probe"
    texts: list[str] = field(default_factory=list)  #: a domain's decoded documents
    items: list[tuple[str, str]] = field(default_factory=list)  #: a probe's (prompt, answer)
    difficulty: int | None = None  #: a probe's difficulty

    def summary(self) -> dict:
        if self.kind == "probe":
            return {"domain": self.domain, "kind": "probe", "difficulty": self.difficulty,
                    "samples": [{"prompt": p, "answer": a} for p, a in self.items]}
        return {"domain": self.domain, "kind": "domain", "samples": self.texts}

    def report(self) -> str:
        if self.kind == "probe":
            return "\n".join(f"{p}  →  {a}" for p, a in self.items)
        return "\n".join(f"--- {self.domain} sample {i}\n{text}"
                         for i, text in enumerate(self.texts))


def is_probe(name: str) -> bool:
    """Whether ``name`` means a skill probe: ``probe:NAME``, or a probe's name that is not also
    a built-in domain's."""
    return name.startswith("probe:") or (name not in BUILTIN_DOMAINS and name in PROBES)


def samples(name: str, n: int = 3, difficulty: int = 1, tokenizer: str = "byte") -> Samples:
    """``n`` samples of the domain or probe ``name`` (see :func:`is_probe`).

    A domain's are decoded documents of its train pool (by ``tokenizer``); a probe's are
    held-out items at ``difficulty``. ``NAME@PATH[:FIELD]`` registers the user corpus first.
    """
    if is_probe(name):
        exs = get_probe(name.removeprefix("probe:")).generate(n, difficulty)
        return Samples(name, "probe", items=[(e.prompt, e.answer) for e in exs],
                       difficulty=difficulty)
    if "@" in name:  # a user corpus NAME@PATH[:FIELD]
        c = parse_recipe(f"{name}=1").corpora[0]
        register_corpus(c.name, c.path, c.field)
        name = c.name
    return Samples(name, "domain", texts=show_samples(name, n, tokenizer))
