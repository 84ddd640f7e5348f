"""Telling a statement from its opposite, where a sentence embedding cannot.

A bi-encoder puts "SFT needs less data than pretraining" right beside "SFT needs more
data than pretraining": the two share every word but one. So before a segment is taken
to state a misconception, its words are compared with the misconception's phrasing (and
with the phrasing of the key point the misconception contradicts), looking only at the
words where the two differ:

- **negation**: one is negated, the other is not ("does not add facts" / "adds facts");
- **opposite cues**: the differing words fall on opposite sides of one scale: more/less,
  fixed/updated, all/only, new/already, same/different, cheap/expensive, before/after,
  positive/negative;
- **swapped comparison**: both compare with "than", and what one puts after "than" the
  other puts before it ("pretraining needs more than SFT" / "SFT needs more than
  pretraining").

One kind of difference (the scales, however many of them, or negation, or a swap) makes
the two opposite. Two kinds may cancel ("SFT needs less than pretraining" / "pretraining
needs more than SFT") or not, so the answer is then "unsure". The embedding match alone
asserts a misconception only when segment and phrasing are the same in polarity (see
``graders.scoring.embedding_grader``); where the evidence cannot tell which side a segment is
on, the grade says so (``needs_review``) instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from graders.language.segments import is_negated
from graders.language.words import OPPOSITES_SKIPPED, stemmer, word_set

_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")


# Words that negate wherever they stand ("teaches the format, not facts"), as stems.
_NEGATORS = word_set("not no never without nor")
_NOT = re.compile(r"^(?:cannot|(?:ca|do|does|did|is|are|was|were|wo|should|could|has|have)n'?t)$")

# Scales whose two ends say opposite things. Words are stemmed before lookup, so each
# entry covers its inflections ("update", "updates", "updated").
_SCALES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "amount": (
        word_set("more most greater larger bigger higher longer increase many huge massive extra"),
        word_set("less least fewer smaller lower shorter decrease reduce tiny little few small"),
    ),
    "change": (
        word_set("fixed frozen freeze untouched unchanged keep kept preserve same original intact"),
        word_set("update change modify overwrite rewrite retrain adjust replace"),
    ),
    "scope": (
        word_set("all every entire whole full each everything"),
        word_set("only just some subset part partial fraction few small handful"),
    ),
    "novelty": (
        word_set("new add inject novel"),
        word_set("already existing exist pretrained pre-existing previously"),
    ),
    "likeness": (
        word_set("same identical similar equal equivalent"),
        word_set("different differ distinct unlike other"),
    ),
    "cost": (
        word_set("cheap cheaper inexpensive fast faster quick quicker easy easier"),
        word_set("expensive costly slow slower hard harder difficult"),
    ),
    "order": (
        word_set("before earlier first prior previous"),
        word_set("after later last then subsequent next"),
    ),
    "sign": (
        word_set("positive good correct right desired"),
        word_set("negative bad wrong incorrect undesired"),
    ),
}


@lru_cache(maxsize=1)
def _stemmed_scales() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    stem = stemmer().stemWord
    return {
        name: (frozenset(stem(w) for w in up), frozenset(stem(w) for w in down))
        for name, (up, down) in _SCALES.items()
    }


@lru_cache(maxsize=8192)
def _stems(text: str) -> tuple[str, ...]:
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    words = ["not" if _NOT.match(w) else w.split("'")[0] for w in words]
    return tuple(stemmer().stemWords(words))


def _negated_words(stems: tuple[str, ...]) -> set[str]:
    """Words right after a negator ("the format, not facts" -> facts)."""
    found: set[str] = set()
    for i, word in enumerate(stems):
        if word in _NEGATORS:
            found.update(
                w for w in stems[i + 1 : i + 3] if w not in OPPOSITES_SKIPPED and w not in _NEGATORS
            )
    return found


def _side(words: set[str], up: frozenset[str], down: frozenset[str]) -> int:
    """+1 or -1 when the words sit on one end of a scale only; 0 when on none or both."""
    high, low = bool(words & up), bool(words & down)
    return 0 if high == low else (1 if high else -1)


def _around_than(stems: tuple[str, ...]) -> tuple[set[str], set[str]] | None:
    if "than" not in stems:
        return None
    cut = stems.index("than")
    before = {w for w in stems[:cut] if w not in OPPOSITES_SKIPPED}
    after = {w for w in stems[cut + 1 : cut + 4] if w not in OPPOSITES_SKIPPED}
    return before, after


STRUCTURAL = ("negation", "swapped comparison")


@dataclass(frozen=True)
class Difference:
    """The polarity cues on which two texts differ; no ``cues`` when none was found."""

    cues: tuple[str, ...]

    @property
    def meaning(self) -> str:
        """ "same", "opposite" (one kind of difference) or "unsure" (several kinds)."""
        kinds = {c for c in self.cues if c in STRUCTURAL}
        if any(c not in STRUCTURAL for c in self.cues):
            kinds.add("scale")
        return "same" if not kinds else "opposite" if len(kinds) == 1 else "unsure"

    def describe(self) -> str:
        return ", ".join(self.cues)


def difference(text: str, other: str) -> Difference:
    """The polarity cues on which ``text`` and ``other`` differ (see the module docstring)."""
    cues: list[str] = []
    mine, theirs = _stems(text), _stems(other)
    only_mine, only_theirs = set(mine) - set(theirs), set(theirs) - set(mine)
    if (
        is_negated(text) != is_negated(other)
        or _negated_words(mine) & set(theirs)
        or _negated_words(theirs) & set(mine)
    ):
        cues.append("negation")
    for name, (up, down) in _stemmed_scales().items():
        a, b = _side(only_mine, up, down), _side(only_theirs, up, down)
        if a and b and a != b:
            cues.append(name)
    split_mine, split_theirs = _around_than(mine), _around_than(theirs)
    if split_mine and split_theirs:
        (before_a, after_a), (before_b, after_b) = split_mine, split_theirs
        if (after_a & before_b) - after_b or (after_b & before_a) - after_a:
            cues.append("swapped comparison")
    return Difference(tuple(cues))
