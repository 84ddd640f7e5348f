"""``rubricate eval`` on SemEval-2013 folders: format detection, loading, the 3-way label mapping
and the shared task's figures (small XML files written here; no model), and one run of the
whole pipeline on the first answers of a real test folder (integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from app.eval_run import eval_targets, run_eval
from app.runtime import Backends
from graders.calibration.calibration_file import DEFAULT_FILE, load_calibration
from graders.core.result import GradeResult, GraderVerdict, KeyPointResult, Status
from graders.evaluation.datasets import Dataset, DatasetQuestion, Item
from graders.evaluation.folders import read_targets, xml_format
from graders.evaluation.markdown import markdown
from graders.evaluation.runner import Record, reader_contradicted
from graders.evaluation.semeval_eval import (
    semeval_confusion,
    semeval_figures,
    semeval_label,
    semeval_report,
)
from graders.verdict.reader_verdicts import CONTRADICTED
from models.embedder import Embedder
from tests.conftest import dataset_dir, make_settings

SEMEVAL_FILE = """<?xml version="1.0"?>
<question id="{qid}" module="FaultFinding">
  <questionText>Why does bulb A stay lit?</questionText>
  <referenceAnswers>
    <referenceAnswer category="MINIMAL" id="r1">it is in a closed path</referenceAnswer>
    <referenceAnswer category="BEST" id="r2">Bulb A is still in a closed path
      with the battery</referenceAnswer>
  </referenceAnswers>
  <studentAnswers>
    <studentAnswer id="{qid}.a1" accuracy="correct" answerMatch="r2">it is in a
      closed path</studentAnswer>
    <studentAnswer id="{qid}.a2" accuracy="contradictory">it is not in a closed path</studentAnswer>
    <studentAnswer id="{qid}.a3" accuracy="incorrect">the battery is new</studentAnswer>
  </studentAnswers>
</question>
"""

SAF_FILE = """<?xml version="1.0"?>
<question id="1.1" module="TC">
  <questionText>What is a port?</questionText>
  <referenceAnswers><referenceAnswer id="r">An endpoint of a connection.</referenceAnswer>
  </referenceAnswers>
  <studentAnswers>
    <studentAnswer id="s1">
      <response>an endpoint</response>
      <response_feedback>Correct.</response_feedback>
      <score>1</score>
      <verification_feedback>Correct</verification_feedback>
    </studentAnswer>
  </studentAnswers>
</question>
"""


def _semeval(folder: Path, *qids: str) -> Path:
    folder.mkdir(parents=True)
    for qid in qids:
        (folder / f"{qid}.xml").write_text(SEMEVAL_FILE.format(qid=qid))
    return folder


def _saf(split: Path) -> Path:
    (split / "english").mkdir(parents=True)
    (split / "english" / "1.1_TC.xml").write_text(SAF_FILE)
    return split


def test_format_detected_from_the_xml(tmp_path: Path) -> None:
    semeval = _semeval(tmp_path / "beetle" / "test-unseen-answers", "Q1")
    saf = _saf(tmp_path / "saf" / "unseen_answers")
    assert xml_format(semeval) == "semeval2013"
    assert xml_format(saf) == xml_format(saf / "english") == "saf"
    (tmp_path / "empty").mkdir()
    assert xml_format(tmp_path / "empty") is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "q.xml").write_text("<question><studentAnswers>")
    with pytest.raises(ValueError, match=r"q\.xml"):
        xml_format(tmp_path / "bad")


def test_a_semeval_folder_reads_best_reference_and_labels(tmp_path: Path) -> None:
    folder = _semeval(tmp_path / "beetle" / "test-unseen-answers", "Q1", "Q2")
    (dataset,) = read_targets(folder)
    assert dataset.name == "beetle/test-unseen-answers" and dataset.semeval
    assert not dataset.labelled  # no SAF labels: the SAF figures do not apply
    question = dataset.questions["Q1"]
    assert question.reference_answer == "Bulb A is still in a closed path with the battery"
    assert question.prompt == "Why does bulb A stay lit?" and question.max_score == 1.0
    assert [i.accuracy for i in dataset.items] == ["correct", "contradictory", "incorrect"] * 2
    assert [i.score for i in dataset.items[:3]] == [1.0, 0.0, 0.0]
    assert dataset.items[0].answer == "it is in a closed path"
    assert dataset.subset(1).semeval and len(dataset.subset(1).items) == 2


def test_a_folder_above_gives_each_folder_below_it(tmp_path: Path) -> None:
    test = tmp_path / "semeval2013" / "test"
    _semeval(test / "sciEntsBank" / "test-unseen-questions", "Q3")
    _semeval(test / "sciEntsBank" / "test-unseen-answers", "Q1")
    _semeval(test / "beetle" / "test-unseen-answers", "Q2")
    corpus = [d.name for d in read_targets(test / "sciEntsBank")]
    assert corpus == ["sciEntsBank/test-unseen-answers", "sciEntsBank/test-unseen-questions"]
    corpora = [d.name.split("/")[0] for d in read_targets(test)]
    assert corpora == ["beetle", "sciEntsBank", "sciEntsBank"]
    # A SAF root still gives its splits; a folder above both gives both, SAF's first.
    _saf(tmp_path / "saf" / "unseen_answers")
    saf = read_targets(tmp_path / "saf")
    assert [(d.name, d.semeval, d.labelled) for d in saf] == [("unseen_answers", False, True)]
    both = read_targets(tmp_path)
    assert [d.semeval for d in both] == [False, True, True, True]
    (tmp_path / "nothing").mkdir()
    with pytest.raises(FileNotFoundError, match="no SAF or SemEval-2013"):
        read_targets(tmp_path / "nothing")


def test_eval_targets_limits_answers_and_fails_in_one_line(tmp_path: Path) -> None:
    folder = _semeval(tmp_path / "beetle" / "test-unseen-answers", "Q1", "Q2")
    (limited,) = eval_targets([folder], per_question=2)
    assert [i.id for i in limited.items] == ["Q1.a1", "Q1.a2", "Q2.a1", "Q2.a2"]
    (tmp_path / "nothing").mkdir()
    with pytest.raises(typer.Exit):
        eval_targets([tmp_path / "nothing"])


def test_label_mapping() -> None:
    assert semeval_label("correct", contradicted=True) == "correct"
    assert semeval_label("partially correct", contradicted=True) == "contradictory"
    assert semeval_label("incorrect", contradicted=True) == "contradictory"
    assert semeval_label("partially correct", contradicted=False) == "incorrect"
    assert semeval_label("incorrect", contradicted=False) == "incorrect"


def _key_point(**graders: GraderVerdict) -> KeyPointResult:
    return KeyPointResult(
        id="k1",
        text="closed path",
        lesson_key_point="k1",
        weight=1.0,
        status=Status.MISSING,
        credit=0.0,
        confidence=0.9,
        evidence=None,
        feedback="",
        graders=graders,
    )


def test_contradiction_is_the_readers_flag_on_a_key_point() -> None:
    said = GraderVerdict(status=Status.MISSING, flagged=CONTRADICTED)
    other = GraderVerdict(status=Status.MISSING, flagged="something else")
    plain = GraderVerdict(status=Status.MET)

    def result(*points: KeyPointResult) -> GradeResult:
        return GradeResult.model_construct(key_points=list(points))

    assert reader_contradicted(result(_key_point(embedding=plain), _key_point(reader=said)))
    assert not reader_contradicted(result(_key_point(reader=plain), _key_point(reader=other)))
    assert not reader_contradicted(result(_key_point(embedding=said)))  # only the reader's
    assert not reader_contradicted(result())


def test_record_keeps_the_contradiction_in_the_cache() -> None:
    record = Record("a", "k", 40.0, "incorrect", {"cos_ref": 0.5}, "", contradicted=True)
    line = json.loads(json.dumps(record.to_json()))
    assert Record.from_json(line).contradicted
    del line["contradicted"]  # a line cached before the field existed
    assert not Record.from_json(line).contradicted


def test_figures_as_published() -> None:
    gold = ["correct", "correct", "contradictory", "incorrect", "incorrect", "incorrect"]
    predicted = ["correct", "incorrect", "contradictory", "incorrect", "incorrect", "correct"]
    figures = semeval_figures(gold, predicted)
    # per label F1: correct 0.5, contradictory 1.0, incorrect 2/3; supports 2, 1, 3
    assert figures["n"] == 6.0
    assert figures["accuracy"] == round(4 / 6, 4)
    assert figures["macro_f1"] == round((0.5 + 1.0 + 2 / 3) / 3, 4)
    assert figures["weighted_f1"] == round((2 * 0.5 + 1.0 + 3 * 2 / 3) / 6, 4)
    assert semeval_confusion(gold, predicted) == [[1, 0, 1], [0, 1, 0], [1, 0, 2]]
    # A label in neither (a small subset) does not count as an F1 of 0.
    assert semeval_figures(["correct", "incorrect"], ["correct", "incorrect"])["macro_f1"] == 1.0
    assert semeval_figures([], [])["accuracy"] is None


def test_report_and_markdown_beside_saf(tmp_path: Path) -> None:
    questions = {q: DatasetQuestion(q, "p", "r", 1.0) for q in ("Q1", "Q2")}
    labels = [("Q1", "correct"), ("Q1", "contradictory"), ("Q2", "incorrect")]
    items = [Item(f"a{n}", q, "x", 0.0, accuracy=g) for n, (q, g) in enumerate(labels)]
    dataset = Dataset("beetle/test-unseen-answers", questions, items)
    records = [
        Record("a0", "k0", 90.0, "correct", {}, ""),
        Record("a1", "k1", 10.0, "incorrect", {}, "", contradicted=True),
        Record("a2", "k2", 40.0, "partially correct", {}, "", contradicted=True),
    ]
    report = semeval_report(dataset, records, "v1")
    assert report.kind == "semeval2013" and report.n == 3
    assert report.overall["rubricate"]["accuracy"] == round(2 / 3, 4)
    assert report.confusion["rubricate"] == [[1, 0, 0], [0, 1, 0], [0, 1, 0]]
    assert set(report.per_question) == {"Q1", "Q2"}
    other = Dataset("sciEntsBank/test-unseen-answers", questions, items)
    text = markdown([report, semeval_report(other, records, "v1")])
    assert "| system | accuracy | macro_f1 | weighted_f1 |" in text
    assert "| beetle/test-unseen-answers | 3 | 0.667 |" in text  # the folders side by side
    assert "| contradictory | 0 | 1 | 0 |" in text
    assert "SemEval-2013" not in markdown([])


@pytest.mark.integration
def test_eval_on_the_first_answers_of_a_semeval_test_folder(
    embedder: Embedder, tmp_path: Path
) -> None:
    folder = dataset_dir("semeval2013", "test", "beetle", "test-unseen-questions")
    targets = eval_targets([folder], per_question=1)  # `rubricate eval --per-question 1`
    (dataset,) = targets
    assert dataset.semeval and len(dataset.items) == len(dataset.questions) == 9
    out = tmp_path / "out"
    (report,) = run_eval(
        make_settings(tmp_path),
        targets,
        None,
        load_calibration(DEFAULT_FILE),
        out,
        backends=Backends(embedder=embedder),
    )
    ours = report.overall["rubricate"]
    print(report.dataset, ours, report.confusion)
    assert report.kind == "semeval2013" and report.n == 9
    for name in ("accuracy", "macro_f1", "weighted_f1"):
        value = ours[name]
        assert value is not None and 0.0 <= value <= 1.0
    assert sum(map(sum, report.confusion["rubricate"])) == 9
    results = json.loads((out / "results.json").read_text())
    assert results[0]["kind"] == "semeval2013" and results[0]["dataset"] == report.dataset
    assert "beetle/test-unseen-questions" in (out / "README.md").read_text()
