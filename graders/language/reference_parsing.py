"""The structure of a reference answer written by a teacher: its lines, lists and headers.

Reference answers are often pasted from a PDF or a marking scheme, so a plain split by
line or sentence goes wrong in three ways this module undoes:

- **wrapped lines**: a sentence broken over lines ("Individual switches just execute" /
  "actions according to ...") is one line again;
- **lists**: any common bullet ("-", "*", "•", "●", "○", "▪", "→") or enumeration ("1.",
  "2)", "a)", "iii)") starts an item, and a header ("Benefits:") is kept as the context
  of its items;
- **alternatives**: a marking scheme often lists more than a student must give ("One of
  the following justifications should be given:", "Possible challenges:", "e.g."). The
  items under such a header form one :class:`Block` of alternatives, any of which earns
  the point, instead of a string of points no full answer could cover.

Grading notes to the marker ("Note: ... can still be granted 0.25") and point annotations
("(0.25)", "(0.5p)") are not content a student must state, and are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graders.language.words import COUNT_PHRASE_ENDS

_BULLET = re.compile(
    r"^\s*(?:[-*\u2022\u2023\u2043\u25aa\u25ab\u25a0\u25a1\u25cf\u25cb\u25e6\u2013\u2014\u2192>]+"
    r"|\(?(?:[0-9]{1,2}|[a-h]|[ivx]{1,4})[.)](?![0-9]))\s*",
    re.I,
)
_ALTERNATIVES = re.compile(
    r"\b(?:one of the following|any (?:one |two |three )?of the following"
    r"|possible|e\.g\b|for example|such as|examples?|alternatively|either|among others"
    r"|options?|can be|could be|may be|is also valid|are valid|accepted)\b",
    re.I,
)
_NOTE = re.compile(r"^\s*(?:note|hint|remark|marking|grading)\s*:", re.I)
_POINTS = re.compile(r"\(\s*[0-9]*[.,]?[0-9]+\s*(?:p|pts?|points?|marks?)?\s*\)", re.I)
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")
_JOINING_END = re.compile(
    r"(?:[,(/\-\u2013+=&*]|\b(?:and|or|of|the|a|an|to|with|by|for|in|on|at|from|that|which"
    r"|as|is|are|be|than|its|their|not|but))\s*$",
    re.I,
)


@dataclass
class Line:
    """A logical line: wrapped lines joined, its bullet (if any) removed."""

    text: str
    item: bool = False


@dataclass
class Block:
    """Text a student must cover: one statement, or a set of alternatives (any will do)."""

    header: str
    lines: list[str] = field(default_factory=list)
    alternatives: bool = False
    needs: int = 1  # how many of the alternatives a full answer gives


def clean(text: str) -> str:
    """Whitespace collapsed and point annotations removed."""
    return " ".join(_POINTS.sub("", text).split()).strip()


def logical_lines(reference: str) -> list[Line]:
    """The reference's lines with wrapped lines joined and grading notes dropped."""
    lines: list[Line] = []
    in_note = False
    for raw in reference.splitlines():
        if not raw.strip():
            in_note = False
            continue
        bullet = _BULLET.match(raw)
        body = raw[bullet.end() :] if bullet else raw
        while bullet and (nested := _BULLET.match(body)):  # "4.i) ..."
            body = body[nested.end() :]
        body = clean(body)
        if not re.search(r"[A-Za-z0-9]", body):
            continue
        continues = (
            not bullet
            and lines
            and not lines[-1].text.endswith(":")
            and (
                body[0].islower() or body[0] in "([=,;" or bool(_JOINING_END.search(lines[-1].text))
            )
        )
        if continues:
            if not in_note:
                lines[-1].text = f"{lines[-1].text} {body}"
            continue
        in_note = bool(_NOTE.match(body))
        if in_note:
            continue
        lines.append(Line(body, item=bool(bullet)))
    return lines


def _is_header(line: Line, following: Line | None) -> bool:
    """A line that introduces what follows: ends with ':' or is a short label above a list."""
    if line.text.endswith(":"):
        return True
    return (
        following is not None
        and following.item
        and not line.item
        and len(line.text.split()) <= 4
        and not _SENTENCE_END.search(line.text)
    )


def _split_header(text: str) -> tuple[str, str]:
    """'Content. One of the following should be given:' -> ('Content.', 'One of ...')."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
    if len(parts) > 1 and text.endswith(":"):
        return " ".join(parts[:-1]), parts[-1]
    return "", text


_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NUMBER = re.compile(rf"^(?:[0-9]+|{'|'.join(_WORDS)})$", re.I)
_NOT_COUNTED = frozenset(
    {"sentence", "time", "second", "minute", "word", "byte", "bit", "packet", "line", "point"}
)
_SKIP = frozenset({"of", "the", "a", "an", "main", "more", "different", "most", "important"})


def _singular(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _WORDS.index(word.lower()) + 1


def counted_things(question: str) -> dict[str, int]:
    """Nouns the question asks for a number of, singular, with the number: "Describe two
    benefits and two drawbacks" -> {"benefit": 2, "drawback": 2}; "state at least 4 of the
    differences" -> {"difference": 4}."""
    words = re.findall(r"[A-Za-z0-9-]+", question)
    found: dict[str, int] = {}
    for i, word in enumerate(words):
        if not _NUMBER.match(word):
            continue
        content = False
        for following in words[i + 1 : i + 4]:
            if following.lower() in _SKIP and not content:
                continue
            if (
                following.lower() in COUNT_PHRASE_ENDS
                or _NUMBER.match(following)
                or not following.isalpha()
            ):
                break
            noun = _singular(following)
            if noun not in _NOT_COUNTED:
                found[noun] = max(found.get(noun, 0), _number(word))
            content = True
    return found


_AT_LEAST = re.compile(r"\bat least\s+([0-9]+|" + "|".join(_WORDS) + r")\b", re.I)


def at_least(question: str) -> int:
    """'State at least 4 objectives' -> 4: the reference lists more than that to pick from."""
    found = _AT_LEAST.search(question)
    return _number(found.group(1)) if found else 0


_ONE_FOR_EACH = re.compile(
    r"\b(?:one|1|an?)\s+(?:[a-z-]+\s+){0,2}?(?:for|of|per|in)\s+(?:each|every|both)\b", re.I
)


def one_for_each(question: str) -> bool:
    """'Name one downside for each of them': under each labelled list, any item will do."""
    return bool(_ONE_FOR_EACH.search(question))


def _asks_for(header: str, counted: dict[str, int]) -> int:
    """How many of a header's items the question asks for ("Benefits:" or "The following
    are the tasks ...:" for "two benefits", "two tasks"), or 0 if it names none of them."""
    words = {_singular(w) for w in re.findall(r"[A-Za-z-]+", header)}
    return max((n for noun, n in counted.items() if noun in words), default=0)


def blocks(reference: str, question: str = "") -> list[Block]:
    """The reference as blocks: plain statements, and lists of alternatives under a header.

    Items of a list whose header does not offer alternatives stay separate statements, each
    with the header as context. A list of alternatives runs while its items do (an item's
    sub-items belong to it); one whose header is followed by plain lines runs to the end.
    """
    lines = logical_lines(reference)
    counted = counted_things(question)
    each = one_for_each(question)
    out: list[Block] = []
    header = ""
    group: Block | None = None
    group_of_items = False
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else None
        if group is not None and group_of_items and not line.item:
            group, header = None, ""
        if _is_header(line, following):
            content, head = _split_header(line.text)
            head = head.rstrip(": ").strip()
            if group is not None:  # a header inside a list of alternatives: more of them
                if content or line.item:  # "● A correct calculation:" is one of them too
                    group.lines.append(content or head)
                header = head
                continue
            if content:
                out.append(Block("", [content]))
            short = len(head.split()) <= 4
            label = short and following is not None and following.item
            # Only a short label or "the following" header counted by the question offers a
            # choice: "Two modes and their drawbacks are:" introduces what must all be said.
            named = _asks_for(head, counted)
            asked = named if short or "following" in head.lower() else 0
            if (
                _ALTERNATIVES.search(head)
                or asked
                or (each and label and not line.text.endswith(":"))
            ):
                group, header = Block(head, alternatives=True, needs=named or 1), ""
                group_of_items = following is not None and following.item
                out.append(group)
            else:
                header = head
            continue
        if group is not None:
            context = bool(header) and line.item and len(line.text.split()) <= 4
            group.lines.append(f"{header}: {line.text}" if context else line.text)
            continue
        if not line.item:
            header = ""
        out.append(Block(header, [line.text]))
    found = [b for b in out if b.lines]
    wanted = at_least(question)
    if wanted and not any(b.alternatives for b in found) and len(found) > wanted:
        # "State at least 4 objectives" above a plain list of ten: any four will do.
        listed = [f"{b.header}: {text}" if b.header else text for b in found for text in b.lines]
        found = [Block("", listed, alternatives=True, needs=wanted)]
    for block in found:
        block.needs = min(block.needs, max(1, len(block.lines)))
    return found
