"""``rubricate eval`` on SemEval-2013 Task 7: the whole grading pipeline, read as 3-way labels.

Every answer is graded inline like a SAF answer: the question's prompt, and its BEST reference
answer as the reference (``SemEvalQuestion.best``; the other references are alternatives). The
pipeline's result (the label the service returns, as the API would) maps onto SemEval's labels:
``correct`` is correct; otherwise a key point the reader read as contradicted
(``graders.verdict.reader_verdicts.CONTRADICTED``) makes it contradictory; otherwise it is
incorrect.
Figures per test folder, as published for the shared task: accuracy, macro-F1 and weighted-F1
over the three labels (scikit-learn), beside the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from graders.core.result import Label
from graders.evaluation.datasets import Dataset, DatasetQuestion, Item
from graders.evaluation.metrics import Figures
from graders.evaluation.report import Report
from graders.evaluation.runner import Record
from graders.evaluation.semeval import LABELS, read_semeval

KIND = "semeval2013"


def semeval_dataset(folder: Path) -> Dataset:
    """A SemEval-2013 folder as an evaluation dataset, named ``corpus/split``: each question
    with its best reference, each answer with its label (scored 1 when correct, else 0)."""
    found = read_semeval(folder, f"{folder.parent.name}/{folder.name}")
    questions = {
        qid: DatasetQuestion(qid, q.prompt, q.best, 1.0) for qid, q in found.questions.items()
    }
    items = [
        Item(
            id=a.id or f"{a.question_id}.{n}",
            question_id=a.question_id,
            answer=a.answer,
            score=1.0 if a.label == "correct" else 0.0,
            accuracy=a.label,
        )
        for n, a in enumerate(found.answers, 1)
    ]
    return Dataset(found.name, questions, items)


def semeval_label(label: str, contradicted: bool) -> str:
    """The pipeline's label and the reader's contradiction as SemEval's 3-way label."""
    if label == Label.CORRECT.value:
        return "correct"
    return "contradictory" if contradicted else "incorrect"


def predicted_labels(records: Sequence[Record]) -> list[str]:
    return [semeval_label(r.label, r.contradicted) for r in records]


def semeval_figures(gold: Sequence[str], predicted: Sequence[str]) -> Figures:
    """Accuracy, macro-F1 and weighted-F1 over the labels present in either (all three on a
    whole test folder, as in the shared task; a label absent from both would score 0)."""
    from sklearn.metrics import accuracy_score, f1_score

    if not gold:
        return {"n": 0.0, "accuracy": None, "macro_f1": None, "weighted_f1": None}
    labels = [label for label in LABELS if label in gold or label in predicted]

    def f1(average: str) -> float:
        value = f1_score(gold, predicted, labels=labels, average=average, zero_division=0)
        return round(float(value), 4)

    return {
        "n": float(len(gold)),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": f1("macro"),
        "weighted_f1": f1("weighted"),
    }


def semeval_confusion(gold: Sequence[str], predicted: Sequence[str]) -> list[list[int]]:
    """Rows: human label, columns: predicted, both in LABELS order."""
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for g, p in zip(gold, predicted, strict=True):
        matrix[LABELS.index(g)][LABELS.index(p)] += 1
    return matrix


def semeval_report(dataset: Dataset, records: Sequence[Record], calibration: str) -> Report:
    """The figures of one SemEval-2013 folder, overall and per question."""
    gold = [i.accuracy or "" for i in dataset.items]
    predicted = predicted_labels(records)
    per_question: dict[str, dict[str, Figures]] = {}
    for qid in dataset.questions:
        rows = [k for k, i in enumerate(dataset.items) if i.question_id == qid]
        if rows:
            per_question[qid] = {
                "rubricate": semeval_figures([gold[k] for k in rows], [predicted[k] for k in rows])
            }
    return Report(
        dataset=dataset.name,
        n=len(records),
        calibration=calibration,
        overall={"rubricate": semeval_figures(gold, predicted)},
        per_question=per_question,
        confusion={"rubricate": semeval_confusion(gold, predicted)},
        kind=KIND,
    )
