"""Admission control: the LLM is asked only when it can answer within the budget."""

from __future__ import annotations

import pytest

from graders.service.llm_admission import Admission


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def served(admission: Admission, clock: Clock, seconds: float, *, cut: bool = False) -> None:
    """One call admitted within a 1 s budget, taking ``seconds``: answered, or ``cut`` at its
    deadline."""
    with admission.call(admission.decide(1.0)) as outcome:
        clock.now += seconds
        outcome.cut() if cut else outcome.ok()


def test_first_call_probes_then_speed_decides() -> None:
    clock = Clock()
    admission = Admission(slots=2, clock=clock)
    first = admission.decide(1.0)
    assert first.admitted and first.reason == "probe" and first.expected_s is None
    with admission.call(first) as outcome:
        # While the probe runs, nothing is known: others are not let through.
        assert not admission.decide(1.0).admitted
        clock.now += 0.4
        outcome.ok()
    assert admission.service_s == pytest.approx(0.4)
    assert admission.decide(1.0).admitted  # 0.4 s expected, idle


def test_queue_ahead_counts_against_the_budget() -> None:
    clock = Clock()
    admission = Admission(slots=2, clock=clock)
    served(admission, clock, 0.6)
    first, second = admission.decide(1.0), admission.decide(1.0)
    with admission.call(first), admission.call(second):
        # two in flight on two slots: 0.6 x (1 + 2/2) = 1.2 s > 1 s
        late = admission.decide(1.0)
        assert not late.admitted and "past the 1 s budget" in late.reason
        assert late.expected_s == pytest.approx(1.2)
        assert admission.decide(2.0).admitted
    assert admission.skipped == 1


def test_a_call_cut_at_its_deadline_teaches_that_the_llm_is_slow() -> None:
    clock = Clock()
    admission = Admission(slots=4, clock=clock)
    served(admission, clock, 1.0, cut=True)
    assert admission.service_s == pytest.approx(2.0)
    assert not admission.decide(1.0).admitted


def test_a_failed_call_teaches_nothing_and_a_stale_speed_is_probed_again() -> None:
    clock = Clock()
    admission = Admission(slots=4, probe_every_s=30, clock=clock)
    served(admission, clock, 5.0)
    with admission.call(admission.decide(10.0)):
        clock.now += 0.01  # failed fast: no outcome marked
    assert admission.service_s == pytest.approx(5.0)
    assert not admission.decide(1.0).admitted
    clock.now += 31
    probe = admission.decide(1.0)
    assert probe.admitted and probe.reason == "probe"
