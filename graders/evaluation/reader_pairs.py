"""Training pairs for the reader, from the datasets' training folders and the lessons' rubrics.

- SemEval-2013 (SciEntsBank, Beetle): (reference, answer) -> the relation head
  (correct = covers, contradictory = contradicts, incorrect = neither).
- SAF: (question + reference, answer) -> the grade head and the score.
- Synthetic contradictions: reference statements negated or with an antonym swapped.
- Negation pairs (``--negation-pairs``, off by default): a negated statement read against
  itself and against negated answers that covered it is ``covers``, so that a "not" on both
  sides is no contradiction (the synthetic negations alone teach "a not = contradicts").
- Off-topic answers: an answer to another question of the same corpus covers nothing.
- The lessons: key points and misconceptions read against their phrasings and the YAML
  exemplars (``meets`` / ``holds``), and the exemplars graded against the question.

Only training folders and rubric YAML are read here; test folders only measure.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from graders.evaluation.contradictions import contradict, negate, reword
from graders.evaluation.datasets import read_saf
from graders.evaluation.semeval import SemEvalSet, datasets_dir, training_sets
from models.reader_training import Example
from rubrics import Lesson, Question

COVERS, CONTRADICTS, NEITHER = 0, 1, 2
GRADE = {"correct": 0, "partially correct": 1, "incorrect": 2}
SEMEVAL = {"correct": COVERS, "contradictory": CONTRADICTS, "incorrect": NEITHER}


@dataclass
class Split:
    """Training pairs and the held-out development questions (whole questions)."""

    train: list[Example]
    dev_semeval: list[SemEvalSet]
    dev_saf: list[tuple[str, str, int, float]]  # (first, answer, grade, score)


def _held(ids: Iterable[str], share: float, rng: random.Random) -> set[str]:
    ordered = sorted(ids)
    rng.shuffle(ordered)
    return set(ordered[: round(len(ordered) * share)])


def saf_first(prompt: str, reference: str) -> str:
    """What the grade head reads an answer against: the question and its reference answer."""
    return f"{prompt} Reference: {reference}"


@dataclass(frozen=True)
class Recipe:
    """Which pairs go in: the alternatives measured side by side in the README."""

    synthetic: bool = True  # negated / antonym-swapped references as contradictions
    off_topic: bool = True  # answers to other questions cover nothing
    lessons: bool = True  # the lessons' key points, misconceptions and exemplars
    every_reference: bool = False  # Beetle: a pair per reference alternative, not BEST only
    lesson_repeats: int = 2
    negation_pairs: bool = False  # negated statements covered by negated paraphrases
    reworded: bool = False  # statements said the other way round (antonym + "not") cover


def negation_pairs(first: str, seconds: Iterable[str]) -> list[Example]:
    """``first`` negated, read against itself and against each of ``seconds`` (texts that
    cover ``first``) negated the same way: both sides flipped, so ``covers``."""
    negated = negate(first)
    if not negated:
        return []
    found = [Example(negated, negated, relation=COVERS, source="negation")]
    for second in seconds:
        flipped = negate(second)
        if flipped and flipped != second:
            found.append(Example(negated, flipped, relation=COVERS, source="negation"))
    return found


def reworded_pairs(first: str, seconds: Iterable[str]) -> list[Example]:
    """Each of ``seconds`` (texts that cover ``first``) said the other way round still
    covers it; ``first`` said the other way round covers ``first``."""
    found = []
    for second in [first, *seconds]:
        said = reword(second)
        if said:
            found.append(Example(first, said, relation=COVERS, source="reworded"))
    return found


def semeval_pairs(
    sets: list[SemEvalSet], dev_share: float, rng: random.Random, recipe: Recipe
) -> tuple[list[Example], list[SemEvalSet]]:
    train: list[Example] = []
    dev: list[SemEvalSet] = []
    for found in sets:
        held = _held(found.questions, dev_share, rng)
        dev.append(
            SemEvalSet(
                found.name + "/dev",
                {q: v for q, v in found.questions.items() if q in held},
                [a for a in found.answers if a.question_id in held],
            )
        )
        kept = [a for a in found.answers if a.question_id not in held]
        for a in kept:
            question = found.questions[a.question_id]
            firsts = [r.text for r in question.references] if recipe.every_reference else []
            for first in firsts or [question.best]:
                # An alternative the answer does not match is no contradiction of it.
                label = SEMEVAL[a.label] if first == question.best or a.label != "correct" else -1
                if label != -1:
                    train.append(Example(first, a.answer, relation=label, source=found.name))
        by_question: dict[str, list[str]] = {}
        for a in kept:
            if a.label == "correct":
                by_question.setdefault(a.question_id, []).append(a.answer)
        questions = [q for q in found.questions.values() if q.id not in held]
        for q in questions:
            for ref in q.references[:3] if recipe.synthetic else []:
                train.append(Example(ref.text, ref.text, relation=COVERS, source="synthetic"))
                flipped = contradict(ref.text, rng)
                if flipped:
                    train.append(Example(ref.text, flipped, CONTRADICTS, source="synthetic"))
            for ref in q.references[:3] if recipe.negation_pairs else []:
                covering = by_question.get(q.id, [])[:2] if ref.text == q.best else []
                train.extend(negation_pairs(ref.text, covering))
            if recipe.reworded:
                train.extend(
                    reworded_pairs(
                        q.best, [r.text for r in q.references[1:3]] + by_question.get(q.id, [])
                    )
                )
            if recipe.off_topic:
                train.extend(_off_topic(q.best, q.id, by_question, rng, 4, found.name))
    return train, dev


def _off_topic(
    first: str,
    qid: str,
    answers: dict[str, list[str]],
    rng: random.Random,
    count: int,
    source: str,
    grade: bool = False,
) -> list[Example]:
    others = [q for q in sorted(answers) if q != qid and answers[q]]
    found = []
    for _ in range(count if others else 0):
        answer = rng.choice(answers[rng.choice(others)])
        if grade:
            found.append(Example(first, answer, grade=2, score=0.0, source="off-topic"))
        else:
            found.append(Example(first, answer, relation=NEITHER, source="off-topic"))
    return found


def saf_pairs(
    folder: Path, dev_share: float, rng: random.Random, off_topic: bool = True
) -> tuple[list[Example], list[tuple[str, str, int, float]]]:
    data = read_saf(folder)
    held = _held(data.questions, dev_share, rng)
    train: list[Example] = []
    dev: list[tuple[str, str, int, float]] = []
    by_question: dict[str, list[str]] = {}
    for item in data.items:
        q = data.questions[item.question_id]
        first = saf_first(q.prompt, q.reference_answer)
        assert item.label is not None
        grade = GRADE[item.label.value.replace("_", " ")]
        if item.question_id in held:
            dev.append((first, item.answer, grade, item.score / q.max_score))
            continue
        train.append(Example(first, item.answer, grade=grade, score=item.score / q.max_score))
        by_question.setdefault(item.question_id, []).append(item.answer)
    for qid in sorted(by_question) if off_topic else []:
        q = data.questions[qid]
        first = saf_first(q.prompt, q.reference_answer)
        train.extend(_off_topic(first, qid, by_question, rng, 20, "saf", grade=True))
    return train, dev


def lesson_pairs(
    lessons: Iterable[Lesson], rng: random.Random, negation: bool = False, reworded: bool = False
) -> list[Example]:
    """Key points and misconceptions against phrasings and exemplars; exemplars graded.
    ``negation``: also each key point and misconception negated, covered by its negated
    phrasings. ``reworded``: each also covered by its phrasings said the other way round."""
    found: list[Example] = []
    for lesson in lessons:
        for question in lesson.questions:
            found.extend(_question_pairs(question, rng))
            points = [(k.text, k.phrasings) for k in question.key_points]
            points += [(m.text, m.phrasings) for m in question.misconceptions]
            for text, phrasings in points:
                if reworded:
                    found.extend(reworded_pairs(text, phrasings))
                if negation:
                    found.extend(negation_pairs(text, phrasings[:2]))
    return found


def _question_pairs(question: Question, rng: random.Random) -> list[Example]:
    found: list[Example] = []

    def add(first: str, second: str, relation: int) -> None:
        found.append(Example(first, second, relation=relation, source="lesson"))

    refuted = {
        kp: [m for m in question.misconceptions if kp in m.contradicts]
        for kp in (k.id for k in question.key_points)
    }
    for kp in question.key_points:
        for phrasing in kp.phrasings:
            add(kp.text, phrasing, COVERS)
            flipped = contradict(phrasing, rng)
            if flipped:
                add(kp.text, flipped, CONTRADICTS)
        for other in question.key_points:
            if other.id != kp.id:
                add(kp.text, rng.choice(other.phrasings), NEITHER)
        for m in refuted[kp.id]:
            for phrasing in m.phrasings[:3]:
                add(kp.text, phrasing, CONTRADICTS)
    for m in question.misconceptions:
        for phrasing in m.phrasings:
            add(m.text, phrasing, COVERS)
        for kp in question.key_points:
            if kp.id in m.contradicts:
                for phrasing in kp.phrasings[:3]:
                    add(m.text, phrasing, CONTRADICTS)
    first = saf_first(question.prompt, question.reference_answer)
    for ex in question.exemplars:
        for kp in question.key_points:
            if kp.id in ex.meets:
                add(kp.text, ex.answer, COVERS)
            elif kp.id in ex.partial:
                continue
            elif any(m.id in ex.holds for m in refuted[kp.id]):
                add(kp.text, ex.answer, CONTRADICTS)
            else:
                add(kp.text, ex.answer, NEITHER)
        for m in question.misconceptions:
            if m.id in ex.holds:
                add(m.text, ex.answer, COVERS)
            elif set(m.contradicts) & set(ex.meets):
                add(m.text, ex.answer, CONTRADICTS)
            else:
                add(m.text, ex.answer, NEITHER)
        found.append(Example(first, ex.answer, grade=GRADE[ex.label.value], source="lesson"))
    return found


def build(
    lessons: Iterable[Lesson],
    root: Path | None = None,
    dev_share: float = 0.1,
    seed: int = 13,
    recipe: Recipe | None = None,
) -> Split:
    recipe = recipe or Recipe()
    rng = random.Random(seed)
    root = root or datasets_dir()
    semeval, dev_semeval = semeval_pairs(training_sets(root), dev_share, rng, recipe)
    saf, dev_saf = saf_pairs(root / "saf" / "training", dev_share, rng, recipe.off_topic)
    lesson = (
        lesson_pairs(lessons, rng, recipe.negation_pairs, recipe.reworded) if recipe.lessons else []
    )
    train = semeval + saf + lesson * recipe.lesson_repeats
    rng.shuffle(train)
    return Split(train, dev_semeval, dev_saf)
