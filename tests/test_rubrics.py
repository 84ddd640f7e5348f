"""Rubric files: validation errors name file, field and reason; a new lesson is a new file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from rubrics import RubricFileError, load_lesson_file, load_lessons
from rubrics.loader import BUILTIN_DIR

DEMO = Path(__file__).parent / "data" / "lessons" / "demo-lesson.yaml"


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_lessons_valid() -> None:
    lessons = load_lessons()
    lesson = lessons["instruction-tuning"]
    assert len(lesson.questions) == 22
    assert {k.id for k in lesson.key_points} >= {
        "base-model",
        "sft-response-shape",
        "positive-only-signal",
        "lora-peft",
        "volume-asymmetry",
        "later-stages",
    }
    for question in lesson.questions:
        assert question.key_points or question.choices
        assert question.max_score > 0


def test_misconceptions_the_issue_names_exist() -> None:
    lesson = load_lessons()["instruction-tuning"]
    texts = " ".join(m.text.lower() for q in lesson.questions for m in q.misconceptions)
    assert "new knowledge" in texts
    assert "lora" in texts
    assert "negative" in texts


def test_adding_a_lesson_is_dropping_a_file(tmp_path: Path) -> None:
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    lessons = load_lessons([BUILTIN_DIR, tmp_path])
    assert set(lessons) == {"instruction-tuning", "demo-photosynthesis"}


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("reference_answer:", "reference_answr:", 1)
    path = write(tmp_path, text)
    with pytest.raises(RubricFileError) as err:
        load_lesson_file(path)
    message = str(err.value)
    assert str(path) in message
    assert "questions[0].reference_answer" in message
    assert any("reference_answr" in field for field, _ in err.value.problems)


def test_dangling_lesson_key_point_link(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8")
    first_link = text.split("lesson_key_point:", 1)[1].split("\n", 1)[0].strip()
    path = write(
        tmp_path, text.replace(f"lesson_key_point: {first_link}", "lesson_key_point: nowhere", 1)
    )
    with pytest.raises(RubricFileError, match="nowhere"):
        load_lesson_file(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("id: [unclosed", "invalid YAML"),
        ("- just\n- a list\n", "mapping"),
        ("", "mapping"),
    ],
)
def test_malformed_files(tmp_path: Path, content: str, reason: str) -> None:
    with pytest.raises(RubricFileError, match=reason):
        load_lesson_file(write(tmp_path, content))


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: caf\xe9".encode("latin-1"))
    with pytest.raises(RubricFileError, match="not UTF-8"):
        load_lesson_file(path)


def test_duplicate_lesson_id(tmp_path: Path) -> None:
    shutil.copy(DEMO, tmp_path / "a.yaml")
    shutil.copy(DEMO, tmp_path / "b.yaml")
    with pytest.raises(RubricFileError, match="already defined"):
        load_lessons([tmp_path])


def test_rubrics_check_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["rubrics", "check"])
    assert ok.exit_code == 0, ok.output
    assert "instruction-tuning" in ok.output
    bad = write(tmp_path, "id: x\ntitle: y\nkey_points: []\nquestions: []\n")
    failed = runner.invoke(cli, ["rubrics", "check", str(bad)])
    assert failed.exit_code == 1
    assert "key_points" in failed.output and str(bad) in failed.output


def test_alternatives_need_as_many_as_they_ask_for(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8")
    first = text.split("phrasings:", 1)
    indent = first[0].rsplit("\n", 1)[1]
    fine = f"needs: 2\n{indent}alternatives: [[uses light], [makes sugar]]\n{indent}phrasings:"
    lesson = load_lesson_file(write(tmp_path, fine.join(first), "fine.yaml"))
    point = lesson.questions[0].key_points[0]
    assert point.needs == 2 and point.alternatives == [["uses light"], ["makes sugar"]]
    short = f"needs: 3\n{indent}alternatives: [[uses light], [makes sugar]]\n{indent}phrasings:"
    with pytest.raises(RubricFileError, match="needs 3 alternatives but lists 2"):
        load_lesson_file(write(tmp_path, short.join(first)))


def _with_exemplar(lines: str) -> str:
    """The demo lesson with one more exemplar on its first question."""
    text = DEMO.read_text(encoding="utf-8")
    head, tail = text.split("    exemplars:\n", 1)
    return head + "    exemplars:\n" + lines + tail


def test_exemplars_load_with_the_lesson() -> None:
    lesson = load_lesson_file(DEMO)
    question = lesson.questions[0]
    assert question.exemplars
    glucose = [e for e in question.exemplars if "glucose" not in e.answer.lower()]
    assert glucose and all(
        e.label.value in {"correct", "partially correct", "incorrect"} for e in glucose
    )


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (
            '      - {answer: "It makes sugar.", label: correct, meets: [no-such-point]}\n',
            "exemplars[0] names unknown ids: no-such-point",
        ),
        (
            '      - {answer: "x y", label: incorrect, holds: [no-such-misconception]}\n',
            "names unknown ids: no-such-misconception",
        ),
        (
            '      - {answer: "x y", label: incorrect, meets: [makes-glucose-oxygen], '
            "partial: [makes-glucose-oxygen]}\n",
            "named as both met and partial",
        ),
        ('      - {answer: "x y", label: great}\n', "exemplars[0].label"),
        ('      - {answer: "x y", label: correct, score: 99}\n', "score 99.0 is over"),
    ],
)
def test_bad_exemplars_name_file_field_and_reason(tmp_path: Path, lines: str, reason: str) -> None:
    path = write(tmp_path, _with_exemplar(lines))
    with pytest.raises(RubricFileError) as err:
        load_lesson_file(path)
    assert reason in str(err.value) and str(path) in str(err.value)
    failed = CliRunner().invoke(cli, ["rubrics", "check", str(path)])
    assert failed.exit_code == 1 and reason in failed.output


def test_every_question_of_the_lesson_has_exemplars() -> None:
    lesson = load_lessons()["instruction-tuning"]
    for question in lesson.questions:
        labels = {e.label.value for e in question.exemplars}
        assert len(question.exemplars) >= 5, question.id
        assert {"correct", "incorrect"} <= labels, question.id
