"""The refiner yields to students: no new LLM pass while interactive grading is busy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from graders.workflow.refiner import Refiner


def test_pauses_only_above_the_threshold() -> None:
    book = SimpleNamespace(on_pending=[], in_flight=0, busy_at=-1e9)
    refiner = Refiner(book, ready=lambda: True, pause_above=4)  # type: ignore[arg-type]
    assert book.busy_above == 4
    assert not refiner.paused()
    book.in_flight = 4
    assert not refiner.paused()
    book.in_flight = 5
    assert refiner.paused()
    book.in_flight, book.busy_at = 0, time.monotonic()
    assert refiner.paused()  # a lull must last LULL_S before refining again
    book.busy_at = time.monotonic() - 2.5
    assert not refiner.paused()
    never = Refiner(book, ready=lambda: True, pause_above=0)  # type: ignore[arg-type]
    assert not never.paused()
    assert len(book.on_pending) == 2  # both are woken when grades start waiting


def test_students_preempt_a_running_refinement(tmp_path: Path) -> None:
    """A burst of students cancels the LLM pass under way; the grade waits, its attempt not
    counted, and is refined once the burst is over."""
    from graders.store.grade_store import GradeStore
    from tests.batch_fixtures import new_grade

    store = GradeStore(f"sqlite:///{tmp_path / 'g.db'}")
    calls: list[str] = []

    async def slow_grade(*args: object, **kwargs: object) -> object:
        calls.append("llm")
        await asyncio.sleep(30)
        raise AssertionError("never finishes in this test")

    async def question_of(grade: object) -> tuple[None, None]:
        return None, None

    book = SimpleNamespace(
        on_pending=[],
        in_flight=0,
        busy_at=-1e9,
        store=store,
        question_of=question_of,
        service=SimpleNamespace(grade_question=slow_grade),
    )

    async def scenario() -> None:
        refiner = Refiner(book, ready=lambda: True, pause_above=2, poll_s=0.05)  # type: ignore[arg-type]
        grade_id = store.add(new_grade())
        task = asyncio.create_task(refiner.run())
        await until(lambda: store.get(grade_id).refinement == "running")  # type: ignore[union-attr]
        book.in_flight = 3
        await until(lambda: store.get(grade_id).refinement == "pending")  # type: ignore[union-attr]
        assert refiner.preempted == 1
        assert store.get(grade_id).refine_attempts == 0  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        assert len(calls) == 1  # nothing new while the students are there
        book.in_flight, book.busy_at = 0, time.monotonic()
        await until(lambda: len(calls) == 2)
        task.cancel()
        await refiner.aclose()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    store.close()


async def until(check: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)
