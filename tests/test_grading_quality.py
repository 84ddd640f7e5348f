"""Grading quality on the lesson itself, with the real embedding model over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rubrics import load_lessons

pytestmark = pytest.mark.integration

LESSON = load_lessons()["instruction-tuning"]
QUESTIONS = [q.id for q in LESSON.questions]

OFF_TOPIC = "I had pasta for lunch and then we played football in the park until it rained."

WRONG = {
    "sc-1": "A base model is a smaller model and an instruction-tuned model is a bigger model "
    "trained on more data with more GPUs.",
    "sc-2": "SFT teaches the model new knowledge and facts that it did not know before.",
    "sc-3": "It means the SFT data has both good and bad answers marked as wrong, so the model "
    "learns what to avoid.",
    "sc-4": "LoRA is a new model architecture that replaces transformers and trains all the "
    "weights from scratch.",
    "sc-5": "a. SFT b. pretraining c. a later stage d. pretraining e. SFT",
    "sc-6": "The volume drop does not matter, it is just a number about the size of datasets.",
    "ex-1": "SFT, because instruction tuning teaches the model to answer questions.",
    "ex-2": "Pretraining, because the model read a lot of Japanese text.",
    "ex-4": "Pretraining, the model read about harmful things on the web.",
}

HALF = {
    "sc-1": "A base model comes out of pretraining with next-token prediction on lots of text, "
    "so it knows facts and continues text.",
    "sc-4": "LoRA stands for Low-Rank Adaptation: you freeze the base weights and train small "
    "low-rank matrices instead.",
    "sc-3": "Every example in SFT data is a positive example of the wanted response.",
}


def grade(http: httpx.Client, question_id: str, answer: str) -> dict[str, Any]:
    response = http.post(
        "/v1/grade",
        json={"lesson_id": LESSON.id, "question_id": question_id, "answer": answer},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    for item in result["key_points"] + result["misconceptions"]:
        if item["evidence"]:
            ev = item["evidence"]
            assert answer[ev["start"] : ev["end"]] == ev["text"]
    return result


def test_lesson_covers_every_item() -> None:
    kinds = [q.kind.value for q in LESSON.questions]
    assert kinds.count("self-check") == 6
    assert kinds.count("exercise") == 6
    assert kinds.count("flashcard") == 10
    sc5 = LESSON.question("sc-5")
    assert sc5 is not None and sorted(c.item or "" for c in sc5.choices) == list("abcde")


@pytest.mark.parametrize("question_id", QUESTIONS)
def test_model_answer_scores_high(http: httpx.Client, question_id: str) -> None:
    question = LESSON.question(question_id)
    assert question is not None
    result = grade(http, question_id, question.reference_answer)
    assert result["percent"] >= 0.85, result["key_points"]
    assert result["misconceptions"] == []


@pytest.mark.parametrize("question_id", QUESTIONS)
def test_off_topic_and_empty_score_low(http: httpx.Client, question_id: str) -> None:
    assert grade(http, question_id, OFF_TOPIC)["percent"] <= 0.20
    empty = grade(http, question_id, "   \n ")
    assert empty["score"] == 0
    assert "No answer was given" in empty["feedback"]["summary"]


@pytest.mark.parametrize("question_id", sorted(WRONG))
def test_clearly_wrong_scores_low(http: httpx.Client, question_id: str) -> None:
    result = grade(http, question_id, WRONG[question_id])
    assert result["percent"] <= 0.20, result["key_points"]
    assert result["label"] == "incorrect"


@pytest.mark.parametrize("question_id", sorted(HALF))
def test_half_right_lands_between(http: httpx.Client, question_id: str) -> None:
    result = grade(http, question_id, HALF[question_id])
    assert 0.2 < result["percent"] < 0.85, result["key_points"]
    assert result["label"] == "partially correct"


def test_misconception_flagged_and_negation_respected(http: httpx.Client) -> None:
    wrong = grade(http, "sc-2", "SFT teaches the model new knowledge.")
    assert "sft-adds-knowledge" in [m["id"] for m in wrong["misconceptions"]]
    right = grade(
        http,
        "sc-2",
        "SFT does not teach the model new knowledge. The knowledge is already there from "
        "pretraining; SFT teaches when to apply it.",
    )
    assert right["misconceptions"] == []
    assert right["percent"] > wrong["percent"]


def test_exercise_wrong_stage_loses_the_item(http: httpx.Client) -> None:
    reason = " because the facts come from reading huge amounts of text."
    right = grade(http, "ex-1", "Pretraining," + reason)
    wrong = grade(http, "ex-1", "SFT," + reason)
    stage = {k["id"]: k for k in wrong["key_points"] if k["kind"] == "choice"}
    assert all(item["status"] == "missing" for item in stage.values())
    assert right["score"] - wrong["score"] >= min(item["weight"] for item in stage.values())


def test_stage_synonyms_accepted(http: httpx.Client) -> None:
    for answer in [
        "Instruction tuning teaches the request-to-response mapping.",
        "supervised fine-tuning: the base model would just continue the prompt",
    ]:
        result = grade(http, "ex-2", answer)
        choice = next(k for k in result["key_points"] if k["kind"] == "choice")
        assert choice["status"] == "met", answer
    later = grade(http, "ex-4", "RLHF / preference tuning after SFT teaches refusals.")
    choice = next(k for k in later["key_points"] if k["kind"] == "choice")
    assert choice["status"] == "met"


def test_sc5_items_graded_one_by_one(http: httpx.Client) -> None:
    answer = "a. pretraining b. SFT c. both d. SFT e. pretraining"
    result = grade(http, "sc-5", answer)
    choices = {k["id"]: k for k in result["key_points"] if k["kind"] == "choice"}
    assert len(choices) == 5
    assert sum(c["status"] == "met" for c in choices.values()) >= 4
    swapped = grade(http, "sc-5", "a. SFT b. pretraining c. both d. SFT e. pretraining")
    assert swapped["score"] < result["score"]
