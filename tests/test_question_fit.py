"""Per-question calibration from teacher-graded answers, and which answers to ask for."""

from __future__ import annotations

from graders.calibration.question_fit import fit_question, pick_informative


def test_picks_spread_over_scores_and_near_cuts_without_labels() -> None:
    scores = [i / 99 for i in range(100)]
    picked = pick_informative(scores, 10, (0.3, 0.8))
    assert len(picked) == len(set(picked)) == 10
    chosen = sorted(scores[i] for i in picked)
    assert chosen[0] == 0.0 and chosen[-1] == 1.0  # the range's two ends
    assert any(abs(s - 0.3) < 0.02 for s in chosen) and any(abs(s - 0.8) < 0.02 for s in chosen)
    assert pick_informative(scores, 0, (0.3, 0.8)) == []
    assert sorted(pick_informative([0.5, 0.1], 5, (0.3, 0.8))) == [0, 1]


def test_offset_is_shrunk_and_cuts_follow_the_teacher() -> None:
    # The grader scores this question 0.2 too low everywhere.
    human = [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.0, 0.5]
    labels = [
        "incorrect" if h == 0 else "correct" if h == 1 else "partially correct" for h in human
    ]
    ours = [max(0.0, h - 0.2) for h in human]
    fit = fit_question(ours, human, labels, (0.3, 0.8))
    assert 0.0 < fit.offset < 0.2  # toward the gap, shrunk by the pseudo-answers
    assert [fit.label(fit.percent(p)) for p in ours] == labels
    assert fit.n == len(human)


def test_no_teacher_grades_change_nothing() -> None:
    fit = fit_question([], [], [], (0.3, 0.8))
    assert fit.offset == 0 and fit.cuts == (0.3, 0.8)
    assert fit.label(0.85) == "correct" and fit.label(0.5) == "partially correct"
