"""Unit tests for segmentation, negation and choice grading (no model needed)."""

from __future__ import annotations

from graders.language.options import grade_choice
from graders.language.segments import is_negated, segments
from rubrics import Choice

OPTIONS = {
    "pretraining": ["pretraining", "pre-training"],
    "sft": ["SFT", "supervised fine-tuning", "instruction tuning", "fine-tuning"],
    "both": ["both"],
    "later": [
        "a later stage",
        "later stage",
        "RLHF",
        "preference tuning",
        "preference fine-tuning",
        "after SFT",
    ],
}


def choice(**kwargs: object) -> Choice:
    values: dict[str, object] = {
        "id": "stage",
        "prompt": "Which stage?",
        "lesson_key_point": "k",
        "options": OPTIONS,
        "correct": [["later"]],
        "feedback_correct": "yes",
        "feedback_wrong": "no",
    }
    values.update(kwargs)
    return Choice.model_validate(values)


def test_segments_are_exact_substrings() -> None:
    answer = "SFT does not add facts, it teaches shape.\n- LoRA is cheap; PEFT too\n\n  Done!"
    found = segments(answer)
    assert found
    for segment in found:
        assert answer[segment.start : segment.end] == segment.text
    texts = [s.text for s in found]
    assert "SFT does not add facts" in texts
    assert "it teaches shape." in texts
    assert "LoRA is cheap" in texts


def test_segments_of_nothing() -> None:
    assert segments("") == []
    assert segments("   \n\t ") == []
    assert segments("... ---") == []


def test_segments_are_bounded() -> None:
    assert len(segments("Word and more words. " * 2000)) <= 240


def test_negation_scope() -> None:
    assert is_negated("SFT does not teach new knowledge")
    assert is_negated("It is incorrect to say SFT teaches facts")
    assert is_negated("SFT doesn't add facts")
    assert not is_negated("SFT teaches the model new facts it did not know before")
    assert not is_negated("SFT teaches response shape")


def test_choice_names_and_negation() -> None:
    graded = grade_choice("It comes from RLHF, not SFT.", choice(), [])
    assert graded.correct and graded.named == ("later",)
    assert graded.evidence is not None and graded.evidence.text == "It comes from RLHF"
    assert not grade_choice("Supervised fine-tuning.", choice(), []).correct
    assert not grade_choice("I am not sure.", choice(), []).correct
    assert not grade_choice("I will answer this later.", choice(), []).named
    assert grade_choice("preference fine-tuning does it", choice(), []).named == ("later",)


def test_choice_alternatives_and_accepted() -> None:
    both = choice(correct=[["both"], ["pretraining", "sft"]])
    assert grade_choice("both", both, []).correct
    assert grade_choice("pre-training and instruction tuning", both, []).correct
    assert not grade_choice("pretraining", both, []).correct
    lenient = choice(correct=[["sft"]], accepted=["later"])
    assert grade_choice("SFT mostly, some preference tuning", lenient, []).correct
    assert not grade_choice("SFT and pretraining", lenient, []).correct


def test_choice_items() -> None:
    items = ["a", "b", "c"]
    answer = "a. pretraining b) SFT (c) a later stage"
    assert grade_choice(answer, choice(item="c"), items).correct
    assert not grade_choice(answer, choice(item="a"), items).correct
    assert grade_choice(answer, choice(item="a", correct=[["pretraining"]]), items).correct
    assert not grade_choice("no markers here, RLHF", choice(item="b"), items).correct
