"""The migrations, on SQLite and the real PostgreSQL: a database the last release made
(tests/data/last_release_schema.sql: its create_all schema; last_release_rows.json: rows
written by its stores) upgrades through ``rubricate db upgrade`` with nothing lost; a fresh
one is exactly the metadata; start-up refuses an older database unless told to upgrade it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, column, create_engine, inspect, select, table, text
from typer.testing import CliRunner

from app.cli import cli
from app.lti.state import build
from app.lti.store import LtiStore
from graders.core.errors import DatabaseOutdated, DatabaseTooNew
from graders.store.batch_store import BatchStore
from graders.store.database import normalise_url
from graders.store.grade_rows import GradeRow
from graders.store.grade_store import GradeStore
from graders.store.schema import config, head, include_name
from graders.store.tables import metadata
from tests import conftest
from tests.batch_fixtures import database_urls

pytestmark = pytest.mark.integration
DATA = Path(__file__).parent / "data"
Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_urls(request, tmp_path)


def engine_of(url: str) -> Engine:
    return create_engine(normalise_url(url))


# Where the two engines' create_all emitted different words (tests/data/last_release_schema.sql),
# and the sha256 of each engine's DDL as that release emitted it, to the byte.
DIALECT_WORDS = {
    "sqlite": {
        "serial": "INTEGER",
        "before": '"before"',
        "after": '"after"',
        "passback_id": "INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT",
        "passback_key": "",
    },
    "postgresql": {
        "serial": "SERIAL",
        "before": "before",
        "after": "after",
        "passback_id": "SERIAL NOT NULL",
        "passback_key": ",\n\tPRIMARY KEY (id)",
    },
}
EMITTED = {
    "sqlite": "a57ebc380cf6cd1349ab5759b66590fe258dac86b2b5c2427d321bfa5e632f10",
    "postgresql": "64b53fbceea41924d179b26630dd73a9301cf7f518e3010c184e42578d033741",
}


def last_release_ddl(dialect: str) -> str:
    """The DDL that release's create_all emitted on this engine."""
    template = (DATA / "last_release_schema.sql").read_text()
    ddl = template[template.index("CREATE TABLE") :].format(**DIALECT_WORDS[dialect]).rstrip()
    assert hashlib.sha256(ddl.encode()).hexdigest() == EMITTED[dialect]
    return ddl


def load_last_release(url: str, *, schema_only: bool = False) -> None:
    """An old database: the last release's tables, then (unless schema_only) its rows."""
    engine = engine_of(url)
    dialect = engine.dialect.name
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        if dialect == "sqlite":
            cursor.executescript(last_release_ddl(dialect))
        else:
            cursor.execute(last_release_ddl(dialect))
        raw.commit()
    finally:
        raw.close()
    if not schema_only:
        written: Rows = json.loads((DATA / "last_release_rows.json").read_text())
        with engine.begin() as conn:
            for name, found in written.items():
                conn.execute(table(name, *map(column, found[0])).insert(), found)
            if dialect == "postgresql":  # the serial keys go on after the rows written
                for name in ("rubricate_grade_audit", "lti_passbacks"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
    engine.dispose()


def rows(url: str) -> Rows:
    engine = engine_of(url)
    with engine.connect() as conn:
        found = {
            table.name: [
                r._asdict() for r in conn.execute(select(table).order_by(*table.primary_key))
            ]
            for table in metadata.sorted_tables
        }
    engine.dispose()
    return found


def revision_of(url: str) -> str | None:
    engine = engine_of(url)
    with engine.connect() as conn:
        found = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return found


def upgrade(url: str) -> str:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_last_release_database_upgrades_with_nothing_lost(url: str) -> None:
    load_last_release(url)
    before = rows(url)
    assert {name: len(found) for name, found in before.items()} == {
        **dict.fromkeys(("lti_states", "lti_nonces", "lti_sessions"), 0),
        **dict.fromkeys(("rubricate_release_policies", "lti_platforms", "lti_holds"), 1),
        **dict.fromkeys(("lti_keys", "rubricate_batches", "rubricate_batch_grades"), 1),
        **{"rubricate_grades": 4, "rubricate_grade_revisions": 7, "rubricate_grade_audit": 2},
        **{"rubricate_batch_rows": 4, "rubricate_batch_chunks": 2, "lti_passbacks": 2},
    }
    current = CliRunner().invoke(cli, ["db", "current", "--url", url])
    assert "revision none (made before migrations: revision 1)" in current.output
    assert "upgraded from none (made before migrations: revision 1) to revision" in upgrade(url)
    assert revision_of(url) == head()
    assert rows(url) == before  # every table, every row, every value
    assert "already at revision" in upgrade(url)

    grades = GradeStore(url)
    try:
        for row in before["rubricate_grades"]:
            stored = grades.get(row["id"])
            assert stored is not None
            assert vars(stored) == {k: row[k] for k in vars(stored)} | {
                "needs_review": bool(row["needs_review"])
            }
            revisions = [
                r for r in before["rubricate_grade_revisions"] if r["grade_id"] == row["id"]
            ]
            assert grades.history(row["id"]) == [
                (r["revision"], r["graded_by"], r["created_at"]) for r in revisions
            ]
            for r in revisions:
                assert grades.revision(row["id"], r["revision"]) == r["result"]
            trail = [a for a in before["rubricate_grade_audit"] if a["grade_id"] == row["id"]]
            assert grades.audit_trail(row["id"]) == trail
        reviewed = grades.of_question("demo-photosynthesis", "q1", reviewed=True)
        assert [(g.graded_by, json.loads(g.review or "")["comment"]) for g in reviewed] == [
            ("teacher", "Say which gas is released.")
        ]
        # Written after the upgrade: the audit's id sequence goes on where it was.
        grade_id = reviewed[0].id
        row = GradeRow(
            graded_by="teacher",
            result="{}",
            label="correct",
            needs_review=False,
            confidence=1.0,
            rubric_hash="h",
            exemplar_set="none",
        )
        assert grades.revise(grade_id, row, review="{}", who="t2") == 4
        assert [a["who"] for a in grades.audit_trail(grade_id)][-1] == "t2"
    finally:
        grades.close()

    batches = BatchStore(url)
    try:
        (batch,) = before["rubricate_batches"]
        record = batches.get(batch["id"])
        assert record is not None
        assert (record.status, record.filename, record.total, record.done, record.failed) == (
            batch["status"],
            batch["filename"],
            batch["total"],
            batch["done"],
            batch["failed"],
        )
        graded = {g["answer_hash"]: g["result"] for g in before["rubricate_batch_grades"]}
        results = list(batches.results(batch["id"]))
        assert len(results) == len(before["rubricate_batch_rows"])
        for result, row in zip(results, before["rubricate_batch_rows"], strict=True):
            expected = {k: v for k, v in row.items() if k != "batch_id"}
            expected["result"] = graded.get(row["answer_hash"]) if row["status"] == "done" else None
            assert vars(result) == expected
        assert batches.redelivery(batch["id"]).chunks == 2
    finally:
        batches.close()

    lti = LtiStore(url)
    try:
        assert [(p.issuer, s) for p, s in lti.platforms()] == [("https://lms.example", "api")]
        assert [p.score for p in lti.passbacks()] == [{"scoreGiven": 0.6}, {"scoreGiven": 1}]
        assert [h.grade_id for h in lti.held()] == [before["lti_holds"][0]["grade_id"]]
        lti.enqueue("https://lms.example", "c1", "https://lms.example/li/9", {"scoreGiven": 0})
        assert len(lti.passbacks()) == 3
    finally:
        lti.close()


def shape(engine: Engine) -> dict[str, object]:
    """Every table's columns, keys, indexes and unique constraints, as the database has them."""
    found = inspect(engine)

    def columns(name: str) -> list[tuple[object, ...]]:
        return [
            (c["name"], str(c["type"]), c["nullable"], c.get("default"))
            for c in found.get_columns(name)
        ]

    return {
        name: (
            columns(name),
            found.get_pk_constraint(name)["constrained_columns"],
            [(f["constrained_columns"], f["referred_table"]) for f in found.get_foreign_keys(name)],
            sorted((i["name"] or "", i["column_names"]) for i in found.get_indexes(name)),
            sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(name)),
        )
        for name in sorted(metadata.tables)
    }


def test_revision_1_is_the_schema_the_last_release_made(url: str, tmp_path: Path) -> None:
    load_last_release(url, schema_only=True)
    made = engine_of(url)
    expected = shape(made)
    with made.begin() as conn:
        metadata.drop_all(conn)
        command.upgrade(config(conn), "1")
    assert shape(made) == expected
    made.dispose()


def test_a_fresh_database_is_exactly_the_metadata(url: str) -> None:
    GradeStore(url).close()  # an empty database is made at start-up
    assert revision_of(url) == head()
    engine = engine_of(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        assert compare_metadata(context, metadata) == []
        assert set(inspect(conn).get_table_names()) == {*metadata.tables, "alembic_version"}
    engine.dispose()


def test_start_up_refuses_an_older_database_unless_told(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_last_release(url)
    for store in (GradeStore, BatchStore, LtiStore):
        with pytest.raises(DatabaseOutdated, match="`rubricate db upgrade`"):
            store(url)
    key = tmp_path / "lti-key.pem"  # the fixture's stored key is a placeholder
    settings = conftest.make_settings(tmp_path, database_url=url, lti_key_path=key)
    with pytest.raises(DatabaseOutdated, match="RUBRICATE_DB_UPGRADE=true"):
        build(settings)
    assert revision_of(url) is None  # refused: untouched
    monkeypatch.setenv("RUBRICATE_DB_UPGRADE", "true")
    state = build(conftest.make_settings(tmp_path, database_url=url, lti_key_path=key))
    state.store.close()
    asyncio.run(state.http.aclose())
    assert revision_of(url) == head()


def test_a_database_newer_than_the_code_is_refused(url: str) -> None:
    GradeStore(url).close()
    engine = engine_of(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
    engine.dispose()
    with pytest.raises(DatabaseTooNew, match="from-the-future"):
        GradeStore(url, upgrade=True)
    result = CliRunner().invoke(cli, ["db", "upgrade", "--url", url])
    assert result.exit_code == 2 and "from-the-future" in result.output
