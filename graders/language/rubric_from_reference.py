"""Rubrics built from a reference answer, for questions that come without a YAML rubric.

The reference answer is split into key points: its sentences and list items (a short item
under a "...:" header keeps the header as context), each with its clauses as extra
phrasings; "X instead of Y" / "X rather than Y" contrasts keep X as a phrasing of their own.
When an LLM is at hand, :func:`llm_key_points` asks it to extract and rephrase the key
points; whatever it returns only adds phrasings, and any failure falls back to the split.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from graders.language.reference_parsing import Block, blocks
from graders.language.segments import segments
from models.llm_errors import LLMError
from models.llm_protocol import JsonRequest, LLMClient
from rubrics import KeyPoint, Lesson, LessonKeyPoint, Question, QuestionKind
from rubrics.schema import MAX_ALTERNATIVES

log = logging.getLogger(__name__)

ADHOC_PREFIX = "adhoc-"
MAX_KEY_POINTS = 12
MAX_TEXT = 1000
_CONTRAST = re.compile(r"\s*,?\s*\b(?:instead of|rather than|as opposed to)\b", re.I)
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[\"'(]*[A-Z0-9])")
_OTHER_WAY = re.compile(r"\s*(?:alternatively|or)\b", re.I)
_ID = re.compile(r"[^a-z0-9_.-]+")


@dataclass(frozen=True)
class AutoKeyPoint:
    text: str
    phrasings: tuple[str, ...]
    # For "any N of these": each alternative's phrasings, and N (see rubrics.KeyPoint).
    alternatives: tuple[tuple[str, ...], ...] = ()
    needs: int = 1


def _clip(text: str) -> str:
    return " ".join(text.split())[:MAX_TEXT]


def _statement(sentence: str, header: str) -> AutoKeyPoint | None:
    """A key point for one sentence: its clauses and the kept side of a contrast as phrasings."""
    sentence = sentence.strip()
    if not re.search(r"[A-Za-z0-9]", sentence):
        return None
    text = f"{header}: {sentence}" if header and len(sentence.split()) <= 4 else sentence
    phrasings = [text]
    if text != sentence:
        phrasings.append(sentence)
    kept = _CONTRAST.split(sentence, maxsplit=1)[0].strip(" ,.;")
    if kept != sentence and len(kept.split()) >= 2:
        phrasings.append(kept)
    clauses = [s.text for s in segments(sentence)][1:]
    phrasings += [c for c in clauses if len(c.split()) >= 3]
    return AutoKeyPoint(_clip(text), tuple(dict.fromkeys(map(_clip, phrasings))))


def _statements(line: str, header: str) -> list[tuple[str, AutoKeyPoint]]:
    """Each sentence of a line with the key point it makes (sentences without text dropped)."""
    found = []
    for sentence in _SENTENCES.split(line):
        point = _statement(sentence, header)
        if point is not None:
            found.append((sentence, point))
    return found


def _alternatives(block: Block) -> AutoKeyPoint:
    """One key point for a list of alternatives: any of them (or any ``needs`` of them)."""
    options: list[tuple[str, ...]] = []
    for line in block.lines:
        phrasings = [p for _, point in _statements(line, block.header) for p in point.phrasings]
        if phrasings:
            options.append(tuple(dict.fromkeys(map(_clip, phrasings))))
    options = options[:MAX_ALTERNATIVES]
    listed = "; ".join(block.lines)
    if block.needs > 1 and len(options) >= block.needs:
        lead = f"{block.header} (any {block.needs})" if block.header else f"Any {block.needs} of"
        text = _clip(f"{lead}: {listed}")
        return AutoKeyPoint(text, (text,), tuple(options), block.needs)
    text = _clip(f"{block.header}: {listed}" if block.header else listed)
    flat = tuple(dict.fromkeys(p for option in options for p in option))
    return AutoKeyPoint(text, flat or (text,))


def split_reference(reference: str, question: str = "") -> list[AutoKeyPoint]:
    """Key points of a reference answer: its statements (sentences, list items, contrasts)
    and its lists of alternatives (see graders/language/reference_parsing.py), in order.

    The question tells which lists offer a choice ("name two tasks" above a list of nine);
    a sentence that starts "Alternatively" or "Or" is another way to say the one before.
    """
    points: list[AutoKeyPoint] = []
    for block in blocks(reference, question):
        if block.alternatives:
            points.append(_alternatives(block))
            continue
        for line in block.lines:
            for sentence, point in _statements(line, block.header):
                if points and _OTHER_WAY.match(sentence):
                    last = points[-1]
                    points[-1] = AutoKeyPoint(last.text, (*last.phrasings, *point.phrasings))
                else:
                    points.append(point)
    points = list({p.text: p for p in points}.values())
    if not points and reference.strip():
        points.append(AutoKeyPoint(_clip(reference), (_clip(reference),)))
    return _cap(points)


def _cap(points: list[AutoKeyPoint]) -> list[AutoKeyPoint]:
    """At most MAX_KEY_POINTS: the surplus merges into the last point as extra phrasings."""
    if len(points) <= MAX_KEY_POINTS:
        return points
    head, tail = points[: MAX_KEY_POINTS - 1], points[MAX_KEY_POINTS - 1 :]
    merged = tuple(dict.fromkeys(p for point in tail for p in point.phrasings))
    return [*head, AutoKeyPoint(_clip("; ".join(p.text for p in tail)), merged)]


def _safe_id(value: str) -> str:
    cleaned = _ID.sub("-", value.lower()).strip("-._")
    if not cleaned:
        cleaned = "q"
    return cleaned[:48] if cleaned[0].isalnum() else ("q" + cleaned)[:48]


def adhoc_lesson(
    prompt: str,
    reference_answer: str,
    max_score: float = 1.0,
    *,
    question_id: str | None = None,
    key_points: list[AutoKeyPoint] | None = None,
) -> Lesson:
    """A one-question lesson for an inline question, its id derived from the content hash."""
    points = key_points or split_reference(reference_answer, prompt)
    if not points:
        raise ValueError("a reference answer with no text gives no rubric")
    weight = max_score / len(points)
    digest = hashlib.sha256(
        "\x1f".join([prompt, reference_answer, repr(max_score), repr(points)]).encode()
    ).hexdigest()[:12]
    qid = _safe_id(question_id or "q-" + digest)
    question = Question(
        id=qid,
        kind=QuestionKind.EXERCISE,
        prompt=_clip(prompt) or "(no question text)",
        reference_answer=reference_answer.strip()[:4000],
        key_points=[
            KeyPoint(
                id=f"kp{i + 1}",
                text=p.text,
                lesson_key_point="reference",
                weight=weight,
                phrasings=list(p.phrasings),
                alternatives=[list(option) for option in p.alternatives],
                needs=p.needs,
                feedback_met=f"You covered: {p.text}",
                feedback_missed=f"Not covered: {p.text}",
            )
            for i, p in enumerate(points)
        ],
    )
    return Lesson(
        id=f"{ADHOC_PREFIX}{digest}",
        title="Inline question",
        key_points=[
            LessonKeyPoint(id="reference", title="Reference answer", summary=_clip(prompt) or "-")
        ],
        questions=[question],
    )


_LLM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "key_points": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "phrasings": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["text", "phrasings"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["key_points"],
    "additionalProperties": False,
}

_LLM_INSTRUCTIONS = (
    "Split the reference answer into its separate key points: each one idea a student "
    "must state to earn credit. For each, give a short statement and two or three other "
    "ways a student might phrase it. Use only ideas in the reference answer."
)


async def llm_key_points(
    client: LLMClient, prompt: str, reference_answer: str, *, max_tokens: int = 800
) -> list[AutoKeyPoint]:
    """Key points extracted and rephrased by the LLM; the plain split when it fails."""
    fallback = split_reference(reference_answer, prompt)
    messages = [
        {"role": "system", "content": _LLM_INSTRUCTIONS},
        {"role": "user", "content": f"QUESTION: {prompt}\n\nREFERENCE ANSWER:\n{reference_answer}"},
    ]
    try:
        reply = await client.complete_json(
            JsonRequest(messages, _LLM_SCHEMA, name="key_points", max_tokens=max_tokens)
        )
    except LLMError as exc:
        log.info("LLM key point extraction failed, using the split: %s", exc)
        return fallback
    points: list[AutoKeyPoint] = []
    raw = reply.get("key_points") if isinstance(reply, dict) else None
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict) or not str(entry.get("text", "")).strip():
            continue
        text = _clip(str(entry["text"]))
        extra = entry.get("phrasings")
        phrasings = [text] + [_clip(str(p)) for p in extra or [] if str(p).strip()]
        points.append(AutoKeyPoint(text, tuple(dict.fromkeys(phrasings))[:6]))
    if not points:
        return fallback
    # The split's own points stay too, so nothing of the reference answer is lost.
    return _cap(points + [p for p in fallback if p.text not in {q.text for q in points}])
