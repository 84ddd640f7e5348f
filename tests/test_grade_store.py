"""The grade store on SQLite and the real PostgreSQL: ids, revisions, claims, erasure."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.store.grade_rows import GradeRow
from graders.store.grade_store import GradeStore
from tests.batch_fixtures import database_urls, new_grade


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GradeStore]:
    for url in database_urls(request, tmp_path):
        opened = GradeStore(url)
        yield opened
        opened.close()


def revise(store: GradeStore, grade_id: str, by: str, label: str, **extra: object) -> int | None:
    row = GradeRow(
        graded_by=by,
        result=f'{{"label": "{label}"}}',
        label=label,
        needs_review=False,
        confidence=0.9,
        rubric_hash="r1",
        exemplar_set="none",
    )
    return store.revise(grade_id, row, **extra)  # type: ignore[arg-type]


def test_revisions_and_the_teacher_wins(store: GradeStore) -> None:
    grade_id = store.add(new_grade())
    assert store.get(grade_id).revision == 1  # type: ignore[union-attr]
    assert store.claim(grade_id)
    assert not store.claim(grade_id)  # claimed once only
    assert revise(store, grade_id, "teacher", "correct", review='{"label": "correct"}', who="t1")
    # The LLM pass that was running lands after the review: kept, but not current.
    assert revise(store, grade_id, "embedding+llm", "partially correct", refinement="done") == 3
    grade = store.get(grade_id)
    assert grade is not None
    assert (grade.revision, grade.graded_by, grade.label) == (3, "teacher", "correct")
    assert grade.refinement == "superseded"
    assert '"partially correct"' in grade.ai_result
    assert [r[1] for r in store.history(grade_id)] == ["embedding", "teacher", "embedding+llm"]
    trail = store.audit_trail(grade_id)
    assert trail[0]["who"] == "t1" and trail[0]["action"] == "review"
    assert trail[0]["before"] == '{"label": "incorrect"}'


def test_claims_are_exclusive_across_threads(store: GradeStore) -> None:
    ids = [store.add(new_grade(f"a{i}")) for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        won = list(pool.map(store.claim, ids * 4))
    assert sum(won) == 20
    assert store.refinement_counts() == {"running": 20}
    store.unclaim(ids[0])  # cut short: pending again, the attempt not counted
    assert store.get(ids[0]).refine_attempts == 0  # type: ignore[union-attr]
    assert store.release_stale(-1) == 19  # a refiner that died: its claims come back
    assert len(store.pending(100)) == 20


def test_erasing_a_student(store: GradeStore) -> None:
    mine = [store.add(new_grade(student_id="s-erase")) for _ in range(3)]
    other = store.add(new_grade(student_id="s-keep"))
    assert store.erase_student("s-erase", "teacher") == 3
    assert all(store.get(i) is None for i in mine)
    assert store.get(other) is not None
    assert store.audit_trail(mine[0])[0]["action"].startswith("erased")
    assert store.purge_older_than(3600) == 0
    assert store.purge_older_than(-1) == 1
