"""What ``scaling data stats`` prints: the realised token fractions of a recipe's run, overall
and per phase (:func:`recipe_stats` → :class:`MixStats`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..units import format_count
from .stream import mix_stats


@dataclass
class MixStats:
    """:func:`~scaling.data.stream.mix_stats`'s numbers (``stats``, the ``--json`` object)."""

    stats: dict

    def summary(self) -> dict:
        return self.stats

    def report(self) -> str:
        st = self.stats
        lines = [f"recipe {st['recipe']}: {format_count(st['realised_tokens'])} tokens in "
                 f"{st['steps']} steps of {st['tokens_per_step']}",
                 f"{'phase':<16}{'span':<16}{'domain':<14}{'weight':>9}{'realised':>10}"]
        for p in st["phases"]:
            span = f"{p['start']:.4g}–{p['end']:.4g}" + (" meco" if p["meco"] else "")
            for d, w in p["weights"].items():
                lines.append(f"{p['name']:<16}{span:<16}{d:<14}{w:>9.4f}"
                             f"{p['fractions'].get(d, 0.0):>10.4f}")
        lines.append(f"{'overall':<32}" + "  ".join(
            f"{d} {f:.4f} (exp {st['expected'][d]:.4f})" for d, f in st["fractions"].items()))
        return "\n".join(lines)


def recipe_stats(mix: str, tokens: int, batch_size: int = 32, seq_len: int = 128,
                 seed: int = 0) -> MixStats:
    """The realised fractions of a run of ``tokens`` tokens on recipe ``mix`` (whole steps of
    ``batch_size`` rows of ``seq_len`` tokens, data seed ``seed``)."""
    return MixStats(mix_stats(mix, tokens, batch_size, seq_len, seed))
