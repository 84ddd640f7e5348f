"""Measuring the reader alone: SemEval-2013 3-way and SAF, per folder (offline only).

Depends on the reader (models/reader.py), never the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graders.evaluation.datasets import read_saf
from graders.evaluation.reader_pairs import GRADE, SEMEVAL, saf_first
from graders.evaluation.semeval import SemEvalSet, datasets_dir, test_sets
from models.reader import Reader

RELATION_OF = ("correct", "contradictory", "incorrect")

# The negation check: (statement, an answer that says the same with a negation). Hand-written
# science facts, none from the lessons or the test folders; a reader that reads a "not" as a
# contradiction calls these contradicts. Lower is better.
NEGATED_PARAPHRASES = [
    ("Plants do not get their food from the soil; they make it by photosynthesis.",
     "A plant doesn't take its food out of the soil, it makes its own using light."),
    ("Sound cannot travel through a vacuum.",
     "Sound waves are not able to move through empty space."),
    ("Mammals are warm-blooded.",
     "Mammals do not depend on the outside temperature to stay warm."),
    ("The Moon does not produce its own light.",
     "The Moon doesn't make light; it only reflects sunlight."),
    ("Mass is conserved in a chemical reaction.",
     "In a chemical reaction no mass is lost or gained."),
    ("Viruses are not made of cells.", "A virus isn't a cell."),
    ("Antibiotics do not kill viruses.", "Antibiotics don't work against viruses."),
    ("In a vacuum, heavier objects do not fall faster than lighter ones.",
     "Without air, a heavy ball does not fall any faster than a light one."),
    ("Diamond and graphite are both made of carbon.",
     "Diamond is not a different element from graphite; both are carbon."),
    ("Seasons are caused by the tilt of Earth's axis.",
     "Seasons are not caused by Earth's distance from the Sun but by its tilt."),
    ("Water expands when it freezes.",
     "Ice does not take up less space than the water it came from; it takes more."),
    ("Enzymes are not used up in the reactions they speed up.",
     "An enzyme is not consumed by the reaction it catalyses."),
    ("Igneous rock forms when magma cools.",
     "Igneous rock is formed from cooled magma, not from layers of sediment."),
    ("Stars differ in colour because their surface temperatures differ.",
     "Not every star is the same colour, because hotter stars look bluer."),
    ("Light travels faster than sound.", "Sound is not as fast as light."),
    ("Mature red blood cells do not have a nucleus.", "A mature red blood cell has no nucleus."),
    ("Insulation slows the transfer of heat.",
     "An insulator does not let heat pass through it quickly."),
    ("Acids have a pH below 7.", "An acid does not have a pH of 7 or more."),
    ("Whales are mammals, not fish.", "A whale is not a fish; it is a mammal."),
    ("Evaporation can happen below the boiling point.",
     "Water does not have to boil to evaporate."),
    ("A vaccine trains the immune system to recognise a germ.",
     "A vaccine shows the immune system a germ it did not know before, so it recognises it."),
]  # fmt: skip


def three_way(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    labels = [0, 1, 2]
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro")),
        "weighted_f1": float(f1_score(gold, predicted, labels=labels, average="weighted")),
    }


def semeval_figures(reader: Reader, found: SemEvalSet) -> dict[str, float]:
    """The reader alone on one SemEval folder: each answer read against the question's
    references; the reading with the most ``covers`` wins (any alternative suffices)."""
    pairs, owners = [], []
    for i, a in enumerate(found.answers):
        for ref in found.questions[a.question_id].references:
            pairs.append((ref.text, a.answer))
            owners.append(i)
    readings = reader.read(pairs)
    best: dict[int, tuple[float, int]] = {}
    for owner, r in zip(owners, readings, strict=True):
        probs = (r.covers, r.contradicts, r.neither)
        if owner not in best or r.covers > best[owner][0]:
            best[owner] = (r.covers, int(np.argmax(probs)))
    gold = [SEMEVAL[a.label] for a in found.answers]
    predicted = [best[i][1] for i in range(len(found.answers))]
    return {**three_way(gold, predicted), "n": float(len(gold))}


def saf_figures(reader: Reader, rows: Sequence[tuple[str, str, int, float]]) -> dict[str, float]:
    """The grade head on (first, answer, grade, score) rows: label figures and Pearson."""
    readings = reader.read([(first, answer) for first, answer, _, _ in rows])
    predicted = [int(np.argmax((r.correct, r.partially_correct, r.incorrect))) for r in readings]
    figures = three_way([g for _, _, g, _ in rows], predicted)
    scores = np.array([r.score for r in readings])
    gold = np.array([s for _, _, _, s in rows])
    pearson = float(np.corrcoef(scores, gold)[0, 1]) if len(rows) > 1 else float("nan")
    return {**figures, "pearson": pearson, "n": float(len(rows))}


def saf_rows(folder: Path) -> list[tuple[str, str, int, float]]:
    data = read_saf(folder)
    rows = []
    for item in data.items:
        q = data.questions[item.question_id]
        assert item.label is not None
        rows.append(
            (
                saf_first(q.prompt, q.reference_answer),
                item.answer,
                GRADE[item.label.value.replace("_", " ")],
                item.score / q.max_score,
            )
        )
    return rows


def negation_figures(reader: Reader) -> dict[str, float]:
    """The share of NEGATED_PARAPHRASES read as contradicts (lower is better), and the mean
    probabilities of contradicts and covers."""
    readings = reader.read(NEGATED_PARAPHRASES)
    said = [int(np.argmax((r.covers, r.contradicts, r.neither))) for r in readings]
    return {
        "contradicts_share": float(np.mean([s == 1 for s in said])),
        "covers_share": float(np.mean([s == 0 for s in said])),
        "mean_contradicts": float(np.mean([r.contradicts for r in readings])),
        "n": float(len(readings)),
    }


def test_figures(
    reader: Reader, root: Path | None = None, per_folder: int | None = None
) -> dict[str, dict[str, float]]:
    """Every SemEval-2013 test folder and SAF's two test splits (``per_folder``: the first
    answers of each, a fixed sample)."""
    root = root or datasets_dir()
    figures: dict[str, dict[str, float]] = {}
    for found in test_sets(root):
        if per_folder is not None:
            found = SemEvalSet(found.name, found.questions, found.answers[:per_folder])
        figures[f"semeval/{found.name}"] = semeval_figures(reader, found)
    for split in ("unseen_answers", "unseen_questions"):
        rows = saf_rows(root / "saf" / split)
        figures[f"saf/{split}"] = saf_figures(reader, rows[:per_folder] if per_folder else rows)
    return figures
