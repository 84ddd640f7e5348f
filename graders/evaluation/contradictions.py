"""Synthetic contradictions of a reference statement, for training the reader (offline).

Two ways, as the literature on NLI data augmentation does: negate the statement (add or drop a
"not" at its first auxiliary verb) or swap one word for its antonym. Both keep the words of the
statement, so the reader cannot tell them from a paraphrase by word overlap alone.
"""

from __future__ import annotations

import random
import re

AUXILIARIES = (
    "is", "are", "was", "were", "can", "could", "will", "would", "should", "must", "does",
    "do", "did", "has", "have", "had", "may", "might",
)  # fmt: skip
CONTRACTED = {"isn't": "is", "aren't": "are", "wasn't": "was", "weren't": "were",
              "can't": "can", "cannot": "can", "won't": "will", "doesn't": "does",
              "don't": "do", "didn't": "did", "hasn't": "has", "haven't": "have",
              "shouldn't": "should", "wouldn't": "would", "couldn't": "could"}  # fmt: skip
ANTONYMS = [
    ("more", "less"), ("increase", "decrease"), ("increases", "decreases"),
    ("higher", "lower"), ("larger", "smaller"), ("bigger", "smaller"), ("before", "after"),
    ("positive", "negative"), ("open", "closed"), ("same", "different"), ("faster", "slower"),
    ("always", "never"), ("all", "no"), ("only", "never"), ("add", "remove"), ("adds", "removes"),
    ("cheaper", "more expensive"), ("small", "large"), ("true", "false"), ("with", "without"),
    ("connected", "not connected"), ("inside", "outside"), ("first", "last"),
    ("correct", "wrong"), ("better", "worse"), ("frozen", "updated"), ("fixed", "changed"),
    ("high", "low"), ("many", "few"), ("long", "short"), ("hot", "cold"),
]  # fmt: skip
SWAP = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS if " " not in b}
WORD = re.compile(r"[A-Za-z']+")


def negate(text: str) -> str | None:
    """Drop the first negation, else add "not" after the first auxiliary verb."""
    for match in WORD.finditer(text):
        word = match.group(0).lower()
        if word in CONTRACTED:
            return text[: match.start()] + CONTRACTED[word] + text[match.end() :]
        if word in {"not", "never"}:
            cut = text[: match.start()].rstrip() + " " + text[match.end() :].lstrip()
            return cut.strip()
    for match in WORD.finditer(text):
        if match.group(0).lower() in AUXILIARIES:
            return text[: match.end()] + " not" + text[match.end() :]
    return None


def swap_antonym(text: str, rng: random.Random) -> str | None:
    found = [m for m in WORD.finditer(text) if m.group(0).lower() in SWAP]
    if not found:
        return None
    match = rng.choice(found)
    return text[: match.start()] + SWAP[match.group(0).lower()] + text[match.end() :]


def contradict(text: str, rng: random.Random) -> str | None:
    """A contradiction of ``text``, or None where neither way applies."""
    swapped = swap_antonym(text, rng)
    negated = negate(text)
    if swapped and negated:
        return swapped if rng.random() < 0.4 else negated
    return swapped or negated


# Words whose antonym is their negation after "is": "not higher" says "lower" (a comparison or
# a two-valued property); not "add"/"remove" or "hot"/"cold", where "not" leaves a middle.
TWO_SIDED = frozenset((
    "higher", "lower", "larger", "smaller", "bigger", "faster", "slower", "more", "less", "open",
    "closed", "same", "different", "positive", "negative", "inside", "outside", "correct",
    "wrong", "true", "false", "better", "worse",
))  # fmt: skip


def reword(text: str) -> str | None:
    """The same statement said the other way round: "is higher" -> "is not lower", and "is not
    open" -> "is closed" (an auxiliary verb, then a two-sided word). A "not" that does not
    contradict: it teaches the reader that a negation word alone is no contradiction. None
    where the statement has no such place."""
    words = list(WORD.finditer(text))
    for i, match in enumerate(words[:-1]):
        if match.group(0).lower() not in AUXILIARIES:
            continue
        nxt = words[i + 1]
        negated = nxt.group(0).lower() == "not" and i + 2 < len(words)
        target = words[i + 2] if negated else nxt
        word = target.group(0).lower()
        if word not in TWO_SIDED:
            continue
        said = ("" if negated else "not ") + SWAP[word]
        return text[: nxt.start()] + said + text[target.end() :]
    return None
