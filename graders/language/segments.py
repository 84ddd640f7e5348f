"""Splitting an answer into segments, and telling negated statements from plain ones.

Segments keep their character offsets, so every piece of evidence is an exact substring
of what the student wrote. Both whole sentences and their clauses are segments: a key
point may be stated across a sentence, a misconception inside one clause of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SEGMENTS = 240

_LINE = re.compile(r"[^\n]+")
_LIST_MARKER = re.compile(r"\s*(?:[-*\u2022]|\(?[0-9]{1,2}[.)]|\(?[a-z][.)])\s+", re.I)
_SENTENCE_END = re.compile(
    r"(?<=[!?])[\"'\u201d\u2019)]*\s+"
    r"|(?<=[.])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c\u2018(]*[A-Z0-9])"
)
_CLAUSE_BREAK = re.compile(
    r"\s*(?:[;:\u2014]|,?\s+(?:but|whereas|while|although|though|because|since|so that|"
    r"which means|instead|rather than)\b|"
    r",\s+(?=(?:and\s+|but\s+)?(?:not|so|it|they|this|that|which)\b))\s*",
    re.I,
)
# Around a named option (graders.language.options) the clause ends at any comma or full stop too.
_NARROW_CLAUSE_BREAK = re.compile(
    r"[,;:!?\n]|\.(?!\d)|\b(?:but|while|whereas|although|instead)\b", re.I
)
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nothing|neither|nor|cannot|without|incorrect|wrong|false|"
    r"untrue|myth|misconception|mistaken|rather than|instead of|fails? to|unable to|"
    r"(?:does|do|is|are|wo|was|were|did|ca|could|should|has|have)n['\u2019]?t)\b|"
    r"n['\u2019]t\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class Segment:
    """A piece of the answer: ``text == answer[start:end]``."""

    text: str
    start: int
    end: int


NEGATION_WINDOW = 7


def is_negated(text: str) -> bool:
    """True when a negation cue ("not", "isn't", "rather than", ...) governs the clause.

    Only cues among its first words count: "SFT does not add facts" is negated, "SFT adds
    facts it did not know" is not (the cue sits in a relative clause at the end).
    """
    head = " ".join(text.split()[:NEGATION_WINDOW])
    return _NEGATION.search(head) is not None


def _trimmed(answer: str, start: int, end: int) -> Segment | None:
    piece = answer[start:end]
    left = len(piece) - len(piece.lstrip(" \t\r\n,.;:-"))
    right = len(piece.rstrip(" \t\r\n,;:-"))
    if right <= left or not _WORD.search(piece[left:right]):
        return None
    return Segment(piece[left:right], start + left, start + right)


def _split(answer: str, start: int, end: int, pattern: re.Pattern[str]) -> list[Segment]:
    pieces: list[Segment] = []
    cursor = start
    for match in pattern.finditer(answer, start, end):
        piece = _trimmed(answer, cursor, match.start())
        if piece:
            pieces.append(piece)
        cursor = match.end()
    piece = _trimmed(answer, cursor, end)
    if piece:
        pieces.append(piece)
    return pieces


def segments(answer: str) -> list[Segment]:
    """Sentences (and list items) of the answer, then the clauses of each longer one."""
    found: list[Segment] = []
    for line in _LINE.finditer(answer):
        start = line.start()
        marker = _LIST_MARKER.match(answer, start, line.end())
        if marker:
            start = marker.end()
        for sentence in _split(answer, start, line.end(), _SENTENCE_END):
            found.append(sentence)
            clauses = _split(answer, sentence.start, sentence.end, _CLAUSE_BREAK)
            if len(clauses) > 1:
                found.extend(c for c in clauses if len(c.text.split()) >= 2)
    unique = list(dict.fromkeys(found))
    return unique[:MAX_SEGMENTS]


def clause_around(answer: str, start: int, end: int, span: tuple[int, int]) -> Segment:
    """The clause holding answer[start:end] inside ``span``, bounded by any punctuation and
    contrast words (a narrower clause than ``segments``'s)."""
    left, right = span
    for brk in _NARROW_CLAUSE_BREAK.finditer(answer, span[0], span[1]):
        if brk.end() <= start:
            left = brk.end()
        elif brk.start() >= end:
            right = brk.start()
            break
    text = answer[left:right]
    stripped = text.strip()
    offset = left + text.index(stripped) if stripped else left
    return Segment(stripped, offset, offset + len(stripped))
