"""The rubric schema: what a lesson file must contain, checked when it is loaded.

A lesson has its own key points (the ideas the lesson teaches). Every gradable item
(self-check question, exercise item, flashcard) lists weighted key points, each linked to
one lesson key point, so feedback can always be keyed back to the lesson. Items whose
answer is a pick among fixed options (a training stage) also have ``choices``, graded
by the option the student names rather than by similarity.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
MAX_ALTERNATIVES = 50  # of one key point


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionKind(StrEnum):
    SELF_CHECK = "self-check"
    EXERCISE = "exercise"
    FLASHCARD = "flashcard"


class LessonKeyPoint(_Strict):
    """One idea the lesson teaches; feedback is grouped under these."""

    id: Id
    title: Text
    summary: Text


class KeyPoint(_Strict):
    """One thing a good answer says, in several phrasings a student might use.

    A point met by naming some of several ideas ("give two of these five benefits") lists
    them as ``alternatives`` (each one's phrasings) and says how many it ``needs``; its
    similarity is then the mean of the best ``needs`` alternatives' similarities.
    """

    id: Id
    text: Text
    lesson_key_point: Id
    weight: float = Field(default=1.0, gt=0, le=100)
    phrasings: list[Text] = Field(min_length=1)
    alternatives: list[Annotated[list[Text], Field(min_length=1)]] = Field(
        default_factory=list, max_length=MAX_ALTERNATIVES
    )
    needs: int = Field(default=1, ge=1, le=20)
    feedback_met: Text
    feedback_missed: Text

    @model_validator(mode="after")
    def _enough_alternatives(self) -> KeyPoint:
        if self.needs > 1 and len(self.alternatives) < self.needs:
            raise ValueError(f"needs {self.needs} alternatives but lists {len(self.alternatives)}")
        return self


class Misconception(_Strict):
    """A wrong idea a student is likely to write, with the correction to give."""

    id: Id
    text: Text
    phrasings: list[Text] = Field(min_length=1)
    feedback: Text
    lesson_key_point: Id | None = None
    contradicts: list[Id] = Field(
        default_factory=list,
        description="Key points of this question that cannot be credited when it is present.",
    )


class Choice(_Strict):
    """A pick among named options (for example the training stage behind a behaviour).

    ``item`` is the marker of the sub-item it answers ("a" for "a."); None means the
    whole answer. ``correct`` lists the right answers, each a set of options that must all
    be named (so "both" and "pretraining and SFT" can each be right); ``accepted`` options
    may also be named without losing the item; naming any other option loses it.
    """

    id: Id
    item: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{1,3}$")] | None = None
    prompt: Text
    lesson_key_point: Id
    weight: float = Field(default=1.0, gt=0, le=100)
    options: dict[Id, list[Text]] = Field(min_length=2)
    correct: list[list[Id]] = Field(min_length=1)
    accepted: list[Id] = Field(default_factory=list)
    feedback_correct: Text
    feedback_wrong: Text

    @model_validator(mode="after")
    def _options_known(self) -> Choice:
        named = {option for answer in self.correct for option in answer} | set(self.accepted)
        unknown = sorted(named - set(self.options))
        if unknown:
            raise ValueError(f"correct/accepted name unknown options: {', '.join(unknown)}")
        return self


class ExemplarLabel(StrEnum):
    CORRECT = "correct"
    PARTIALLY_CORRECT = "partially correct"
    INCORRECT = "incorrect"


class Exemplar(_Strict):
    """A graded example answer (an anchor paper): what a teacher decided about it.

    ``meets`` and ``partial`` name the key points (and choices) the answer meets fully or
    in part; every other key point is missing. ``holds`` names the misconceptions it
    states. ``score`` is out of the question's max score; without it the score follows
    from the key points met. Exemplars are evidence for the grader: an answer close to one
    gets its verdicts unless other evidence disagrees.
    """

    answer: Text
    label: ExemplarLabel
    score: float | None = Field(default=None, ge=0)
    meets: list[Id] = Field(default_factory=list)
    partial: list[Id] = Field(default_factory=list)
    holds: list[Id] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _disjoint(self) -> Exemplar:
        both = sorted(set(self.meets) & set(self.partial))
        if both:
            raise ValueError(f"named as both met and partial: {', '.join(both)}")
        return self


MAX_EXEMPLARS = 200  # of one question


class Question(_Strict):
    """One gradable item of a lesson."""

    id: Id
    kind: QuestionKind
    prompt: Text
    reference_answer: Text
    key_points: list[KeyPoint] = Field(default_factory=list)
    choices: list[Choice] = Field(default_factory=list)
    misconceptions: list[Misconception] = Field(default_factory=list)
    exemplars: list[Exemplar] = Field(default_factory=list, max_length=MAX_EXEMPLARS)

    @property
    def max_score(self) -> float:
        return sum(k.weight for k in self.key_points) + sum(c.weight for c in self.choices)

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if not self.key_points and not self.choices:
            raise ValueError("a question needs at least one key point or choice")
        ids = [k.id for k in self.key_points] + [c.id for c in self.choices]
        ids += [m.id for m in self.misconceptions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate ids: {', '.join(duplicates)}")
        key_point_ids = {k.id for k in self.key_points}
        for m in self.misconceptions:
            unknown = sorted(set(m.contradicts) - key_point_ids)
            if unknown:
                raise ValueError(f"misconception {m.id} contradicts unknown key points: {unknown}")
        gradable = key_point_ids | {c.id for c in self.choices}
        misconception_ids = {m.id for m in self.misconceptions}
        for i, e in enumerate(self.exemplars):
            unknown = sorted(set(e.meets + e.partial) - gradable)
            unknown += sorted(set(e.holds) - misconception_ids)
            if unknown:
                raise ValueError(f"exemplars[{i}] names unknown ids: {', '.join(unknown)}")
            if e.score is not None and e.score > self.max_score:
                raise ValueError(f"exemplars[{i}].score {e.score} is over {self.max_score}")
        return self


class Lesson(_Strict):
    """A lesson file: its key points and its gradable questions."""

    id: Id
    title: Text
    source: str | None = None
    key_points: list[LessonKeyPoint] = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _links_resolve(self) -> Lesson:
        lesson_ids = {k.id for k in self.key_points}
        question_ids = [q.id for q in self.questions]
        duplicates = sorted({i for i in question_ids if question_ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate question ids: {', '.join(duplicates)}")
        for q in self.questions:
            links = [k.lesson_key_point for k in q.key_points]
            links += [c.lesson_key_point for c in q.choices]
            links += [m.lesson_key_point for m in q.misconceptions if m.lesson_key_point]
            unknown = sorted(set(links) - lesson_ids)
            if unknown:
                raise ValueError(f"question {q.id} links unknown lesson key points: {unknown}")
        return self

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def content_hash(self) -> str:
        """A short hash of the validated content: results name it so grades can be audited."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
