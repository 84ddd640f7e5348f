"""The structure of teachers' reference answers: wrapped lines, lists, alternatives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders.language.reference_parsing import blocks, counted_things, logical_lines, one_for_each
from graders.language.rubric_from_reference import MAX_KEY_POINTS, adhoc_lesson, split_reference

WRAPPED = """Data plane: Responsible for packet forwarding. Individual switches just execute
actions according to their flow tables decided upon by the control plane.
Control plane: logically centralized, but can be physically distributed
(multiple coordinating control servers for higher availability).
P(A) = 1 - P(Y=0) - P(Y=1) *
0.4 (0.25p)"""


def test_wrapped_lines_are_joined_and_point_marks_dropped() -> None:
    lines = [line.text for line in logical_lines(WRAPPED)]
    assert lines == [
        "Data plane: Responsible for packet forwarding. Individual switches just execute "
        "actions according to their flow tables decided upon by the control plane.",
        "Control plane: logically centralized, but can be physically distributed "
        "(multiple coordinating control servers for higher availability).",
        "P(A) = 1 - P(Y=0) - P(Y=1) * 0.4",
    ]


def test_every_common_bullet_starts_an_item_and_notes_are_dropped() -> None:
    reference = (
        "\u25cf first\n\u25cb second\n\u2022 third\n- fourth\n1. fifth\n2) sixth\n"
        "4.i)seventh\nii) eighth\nNote: In case the reasoning is clear, the naming\n"
        "can be omitted.\nThe Sequence number is 0.5 long."
    )
    lines = logical_lines(reference)
    assert [line.text for line in lines] == [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
        "The Sequence number is 0.5 long.",
    ]  # fmt: skip
    assert all(line.item for line in lines[:8]) and not lines[8].item


ALTERNATIVES = """The correct sequence is BCA. One of the following justifications should be given:
\u25cf Event B is a subset of C, and C is a subset of A
\u25cf An actual, correct calculation of the probabilities:
\u25cb P(B) = 0.6^3 * 0.4^3
Data plane: Responsible for packet forwarding."""


def test_a_list_of_alternatives_is_one_key_point() -> None:
    found = blocks(ALTERNATIVES)
    assert [(b.alternatives, len(b.lines)) for b in found] == [(False, 1), (True, 3), (False, 1)]
    points = split_reference(ALTERNATIVES)
    assert points[0].text == "The correct sequence is BCA."
    choice = points[1]
    assert choice.text.startswith("One of the following justifications should be given: Event B")
    assert "Event B is a subset of C, and C is a subset of A" in choice.phrasings
    assert "P(B) = 0.6^3 * 0.4^3" in choice.phrasings
    assert points[2].text == "Data plane: Responsible for packet forwarding."


SDN = """Benefits:
\u25cf Reduced complexity of the switches
\u25cf Faster convergence to a global optimum
\u25cf Better integration of application and network
Drawbacks:
\u25cf The control server is a bottleneck
\u25cf Synchronization and consistency issues"""


def test_the_question_tells_which_lists_offer_a_choice() -> None:
    assert counted_things("Describe two benefits and three drawbacks in 1-2 sentences.") == {
        "benefit": 2,
        "drawback": 3,
    }
    assert counted_things("State at least 4 of the differences.") == {"difference": 4}
    assert counted_things("Flip a coin 6 times.") == {}
    chosen = split_reference(SDN, "Describe two benefits and two drawbacks.")
    assert [p.text.split(":")[0] for p in chosen] == ["Benefits (any 2)", "Drawbacks (any 2)"]
    assert [(p.needs, len(p.alternatives)) for p in chosen] == [(2, 3), (2, 2)]
    assert "Faster convergence to a global optimum" in chosen[0].alternatives[1]
    # "at least N" above a plain list: any N of the whole list.
    plain = "To support billions of hosts.\nTo reduce routing tables.\nTo increase security."
    (objectives,) = split_reference(plain, "State at least 2 objectives of IPv6.")
    assert objectives.needs == 2 and len(objectives.alternatives) == 3
    assert len(split_reference(plain, "What are the objectives of IPv6?")) == 3
    # Without the question, each benefit is a point of its own (a student must give all).
    assert len(split_reference(SDN)) == 5


MODES = """Replication
\u25cf Issue of scalability
\u25cf More resources, more cost
Partitioning
\u25cf Knowledge about neighborhood
\u25cf Lower availability"""


def test_one_for_each_makes_each_labelled_list_a_choice() -> None:
    question = "Name the two modes and name one downside for each of them."
    assert one_for_each(question)
    assert not one_for_each("Explain the responsibilities of each plane.")
    points = split_reference(MODES, question)
    assert [p.text.split(":")[0] for p in points] == ["Replication", "Partitioning"]
    assert "Replication: Issue of scalability" in points[0].phrasings
    assert len(split_reference(MODES)) == 4


def test_an_alternative_sentence_is_another_phrasing_of_the_one_before() -> None:
    points = split_reference(
        "There is a single unique path between every pair of nodes. Alternatively, you can "
        "say that spanning trees contain no loops. Duplicates are avoided."
    )
    assert len(points) == 2
    assert "Alternatively, you can say that spanning trees contain no loops." in points[0].phrasings


def test_the_following_offers_a_choice_only_of_what_the_question_counts() -> None:
    reference = "The following are the tasks of the controller:\n- Configuration\n- Discovery"
    assert len(split_reference(reference, "Name two tasks the controller takes care of.")) == 1
    assert len(split_reference(reference, "What does the controller do?")) == 2


_PIECES = st.sampled_from(
    ["\n", ":", " ", "- ", "\u25cf ", "\u25cb ", "1.", "ii)", "(0.25)", "Note: ", "e.g. ", "Or ",
     "Alternatively, ", "One of the following:", "Possible ", "Benefits", "(", "=", ".", "and"]
)  # fmt: skip
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=30)), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(reference=_TEXT, question=_TEXT)
def test_any_reference_gives_a_valid_rubric(reference: str, question: str) -> None:
    """Whatever a client posts as a reference answer, the rubric built from it validates."""
    if not reference.strip():
        with pytest.raises(ValueError, match="no text"):
            adhoc_lesson(question, reference, 2.0)
        return
    points = adhoc_lesson(question, reference, 2.0).questions[0].key_points
    assert 1 <= len(points) <= MAX_KEY_POINTS
    assert all(p.phrasings and all(x.strip() for x in p.phrasings) for p in points)
