"""The refiner yields to students: no new LLM pass while interactive grading is busy."""

from __future__ import annotations

from types import SimpleNamespace

from graders.grades.refiner import Refiner


def test_pauses_only_above_the_threshold() -> None:
    book = SimpleNamespace(on_pending=[], in_flight=0)
    refiner = Refiner(book, ready=lambda: True, pause_above=4)  # type: ignore[arg-type]
    assert not refiner.paused()
    book.in_flight = 4
    assert not refiner.paused()
    book.in_flight = 5
    assert refiner.paused()
    never = Refiner(book, ready=lambda: True, pause_above=0)  # type: ignore[arg-type]
    assert not never.paused()
    assert len(book.on_pending) == 2  # both are woken when grades start waiting
