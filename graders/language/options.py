"""Grading picks among named options (which training stage adds a behaviour).

These are graded by the words the student uses, not by similarity: "SFT" and
"pretraining" embed close together, but picking the wrong one must lose the item.
Synonyms match as whole words (hyphens and spaces alike), longest first, and a mention
inside a negated clause ("not SFT", "rather than pretraining") does not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from graders.language.segments import Segment, clause_around, is_negated
from rubrics import Choice

_ITEM_MARKER = r"(?:(?<=\s)|(?<=^)|(?<=[;,]))\(?{item}[.):]\s*"
# "a pretraining b sft c both": bare markers, trusted only when most items appear in order.
_BARE_MARKER = r"(?:(?<=\s)|(?<=^)|(?<=[;,]))\(?{item}(?=\s)\s*"


@dataclass(frozen=True)
class ChoiceOutcome:
    choice: Choice
    named: tuple[str, ...]
    correct: bool
    evidence: Segment | None


@cache
def _synonym_pattern(synonym: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in re.split(r"[\s\-]+", synonym.strip()) if w]
    return re.compile(r"(?<![A-Za-z0-9])" + r"[\s\-]*".join(words) + r"(?![A-Za-z0-9])", re.I)


def _markers(answer: str, items: list[str], marker: str) -> dict[str, re.Match[str]]:
    """Each item's marker, searched in order, each after the one before."""
    starts: dict[str, re.Match[str]] = {}
    cursor = 0
    for item in items:
        pattern = re.compile(marker.format(item=re.escape(item)), re.I | re.M)
        match = pattern.search(answer, cursor)
        if match:
            starts[item] = match
            cursor = match.end()
    return starts


def _item_span(answer: str, choice: Choice, items: list[str]) -> tuple[int, int] | None:
    """Where the answer to sub-item ``choice.item`` stands: from its marker to the next one."""
    if choice.item is None:
        return 0, len(answer)
    starts = _markers(answer, items, _ITEM_MARKER)
    if len(starts) < 2:
        bare = _markers(answer, items, _BARE_MARKER)
        if len(bare) >= min(3, len(items)):
            starts = bare
    own = starts.get(choice.item)
    if own is None:
        return None
    later = [m.start() for i, m in starts.items() if m.start() > own.start()]
    return own.end(), min(later, default=len(answer))


def named_options(
    answer: str, choice: Choice, span: tuple[int, int]
) -> tuple[tuple[str, ...], Segment | None]:
    """Options named (not negated) inside ``span``, in order, with the clause naming the first."""
    candidates: list[tuple[int, int, str]] = []
    for option, synonyms in choice.options.items():
        for synonym in synonyms:
            for match in _synonym_pattern(synonym).finditer(answer, span[0], span[1]):
                candidates.append((match.start(), match.end(), option))
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0]))
    taken: list[tuple[int, int, str]] = []
    for start, end, option in candidates:
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, option))
    named: list[str] = []
    evidence: Segment | None = None
    for start, end, option in sorted(taken):
        clause = clause_around(answer, start, end, span)
        if is_negated(clause.text):
            continue
        if option not in named:
            named.append(option)
        evidence = evidence or clause
    return tuple(named), evidence


def grade_choice(answer: str, choice: Choice, items: list[str]) -> ChoiceOutcome:
    span = _item_span(answer, choice, items)
    if span is None:
        return ChoiceOutcome(choice, (), False, None)
    named, evidence = named_options(answer, choice, span)
    allowed = {o for right in choice.correct for o in right} | set(choice.accepted)
    correct = bool(named) and set(named) <= allowed
    correct = correct and any(set(right) <= set(named) for right in choice.correct)
    return ChoiceOutcome(choice, named, correct, evidence if named else None)
