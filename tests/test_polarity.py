"""Telling a statement from its opposite by the words where two texts differ."""

from __future__ import annotations

import pytest

from graders.language.opposites import difference


@pytest.mark.parametrize(
    ("text", "other", "cue"),
    [
        (
            "Because SFT needs much less data than pretraining.",
            "SFT needs more data than pretraining",
            "amount",
        ),
        ("LoRA keeps the original weights fixed", "LoRA updates the original weights", "change"),
        (
            "LoRA trains only a small subset of the weights",
            "LoRA trains all of the weights",
            "scope",
        ),
        (
            "the knowledge is already in the base model",
            "SFT teaches the model new knowledge",
            "novelty",
        ),
        ("SFT does not add new facts", "SFT adds new facts", "negation"),
        (
            "it teaches the format of answers, not facts",
            "it teaches the answers and the facts",
            "negation",
        ),
        (
            "it can't tell better answers from worse ones",
            "it can tell better answers from worse ones",
            "negation",
        ),
        (
            "pretraining needs more data than SFT",
            "SFT needs more data than pretraining",
            "swapped comparison",
        ),
        ("LoRA is cheap to train", "LoRA is expensive to train", "cost"),
    ],
)
def test_opposites_are_told_apart(text: str, other: str, cue: str) -> None:
    found = difference(text, other)
    assert cue in found.cues, found
    assert found.meaning == "opposite"
    assert difference(other, text).meaning == "opposite"


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("SFT needs more data than pretraining", "SFT needs more data than pretraining"),
        ("fine-tuning teaches the model new facts", "SFT teaches the model new facts"),
        ("LoRA retrains every weight", "LoRA updates all of the model's weights"),
        ("the model gets updated", "the model's weights are changed"),
    ],
)
def test_paraphrases_agree(text: str, other: str) -> None:
    assert difference(text, other).meaning == "same"


def test_two_kinds_of_difference_are_unsure() -> None:
    # A swapped comparison with the opposite word says the same thing: neither side can
    # be asserted from words alone.
    found = difference(
        "SFT needs less data than pretraining", "pretraining needs more data than SFT"
    )
    assert set(found.cues) == {"amount", "swapped comparison"}
    assert found.meaning == "unsure"


def test_only_the_differing_words_count() -> None:
    # A cue on one side only is no opposite: "more data" is not the opposite of "data".
    assert difference("SFT uses more data", "SFT uses data").meaning == "same"
    # A word both texts hold is no difference, even where a set of words cannot see
    # which noun it belongs to: the polarity check errs toward "same" (then the embedding
    # and the key points it contradicts decide), never toward a false opposite.
    assert difference("more data and more compute", "more data but less compute").cues == ()
