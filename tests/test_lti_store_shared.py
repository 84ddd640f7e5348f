"""The LTI store on SQLite and on PostgreSQL, two stores on one database standing for two
API processes: nonces, login states and sessions once only; passbacks and holds claimed by
one process; one tool key for all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.lti.keys import ToolKey
from app.lti.legacy import import_legacy
from app.lti.models import DeepLinkSession, Hold, Platform, ResourceSession
from app.lti.state import tool_key
from app.lti.store import LtiStore
from tests import conftest
from tests.batch_fixtures import database_urls, pg_available, pg_schema_url
from tests.lti_tool import platform_record

pytestmark = [pytest.mark.integration, pytest.mark.scale]
ISS = "https://lms.example"


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LtiStore, LtiStore]]:
    for url in database_urls(request, tmp_path):
        first, second = LtiStore(url), LtiStore(url)
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def platform(client_id: str = "c1") -> Platform:
    return platform_record(ISS, client_id)


def test_platforms_upsert_and_lookup(stores: tuple[LtiStore, LtiStore]) -> None:
    a, b = stores
    a.put_platform(platform(), "file")
    b.put_platform(platform().model_copy(update={"name": "renamed"}), "api")
    assert [(p.name, s) for p, s in a.platforms()] == [("renamed", "api")]
    assert b.platform(ISS, None) == a.platform(ISS, "c1")
    a.put_platform(platform("c2"), "api")
    assert b.platform(ISS, None) is None  # two registrations: the client_id must say which
    assert b.delete_platform(ISS, "c2") and not a.delete_platform(ISS, "c2")


def test_a_nonce_is_used_once_across_processes(stores: tuple[LtiStore, LtiStore]) -> None:
    a, b = stores
    with ThreadPoolExecutor(8) as pool:
        used = list(pool.map(lambda i: (a, b)[i % 2].use_nonce("n-1", ISS), range(16)))
    assert used.count(True) == 1
    assert a.use_nonce("n-2", ISS) and not b.use_nonce("n-2", ISS)


def test_login_state_and_single_use_session(stores: tuple[LtiStore, LtiStore]) -> None:
    a, b = stores
    a.put_state("s-1", "n-1", ISS)
    assert b.take_state("s-1") == ("n-1", ISS)
    assert a.take_state("s-1") is None
    a.put_state("s-old", "n", ISS, ttl=-1)
    assert b.take_state("s-old") is None  # expired
    session = DeepLinkSession(
        issuer=ISS, client_id="c1", deployment_id="d1", deep_link_return_url="https://lms/dl"
    )
    a.put_session("tok", session, ttl=60)
    assert b.session("tok", DeepLinkSession) == session
    assert b.session("tok", ResourceSession) is None  # a token serves its own kind only
    assert a.session("tok", DeepLinkSession, consume=True) == session
    assert b.session("tok", DeepLinkSession, consume=True) is None


def test_a_session_stored_before_the_split_into_kinds_still_reads() -> None:
    """Sessions written as one model with every field (kind in the row) outlive an upgrade."""
    old = (
        '{"kind": "resource", "issuer": "https://lms", "client_id": "c1", "deployment_id": "d1",'
        ' "user_id": "u1", "lesson_id": "l1", "question_id": "q1", "lineitem": null,'
        ' "deep_link_return_url": null, "deep_link_data": null}'
    )
    session = ResourceSession.model_validate_json(old)
    assert (session.lesson_id, session.question_id, session.user_id) == ("l1", "q1", "u1")


def test_a_due_passback_goes_to_one_process(stores: tuple[LtiStore, LtiStore]) -> None:
    a, b = stores
    ids = [a.enqueue(ISS, "c1", ISS + "/li/1", {"scoreGiven": i}) for i in range(10)]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda s: s.due(limit=50), (a, b)))
    claimed = [p.id for batch in got for p in batch]
    assert sorted(claimed) == ids  # each once, by one or the other
    assert a.due() == [] and b.due() == []  # claimed: not due again while leased
    b.mark_retry(ids[0], 0, "503")
    b.mark_sent(ids[1])
    (again,) = a.due()
    assert again.id == ids[0] and again.attempts == 1 and again.last_error == "503"
    assert again.score == {"scoreGiven": 0}
    sent = a.passbacks("sent")
    assert [p.id for p in sent] == [ids[1]] and sent[0].attempts == 1
    assert len(b.passbacks()) == 10


def test_a_held_grade_is_released_once(stores: tuple[LtiStore, LtiStore]) -> None:
    a, b = stores
    hold = Hold("g1", ISS, "c1", ISS + "/li/1", "u1", time.time() + 60)
    a.hold(hold, "held")
    assert b.held() == [hold] and b.hold_for("g1") == hold
    with ThreadPoolExecutor(2) as pool:
        items = list(pool.map(lambda s: s.release_hold(hold, {"scoreGiven": 1}), (a, b)))
    assert sorted(items, key=lambda x: x is None)[1:] == [None]
    assert len(a.passbacks()) == 1 and a.held() == []


def test_one_tool_key_for_every_process(stores: tuple[LtiStore, LtiStore], tmp_path: Path) -> None:
    a, b = stores
    if not a.shared:
        # SQLite is one machine's: its processes share cache_dir/lti-key.pem.
        settings = conftest.make_settings(tmp_path / "one")
        assert tool_key(settings, a).kid == tool_key(settings, b).kid
        assert (tmp_path / "one" / "cache" / "lti-key.pem").exists()
        return
    keys = [
        tool_key(conftest.make_settings(tmp_path / name), store)
        for name, store in (("one", a), ("two", b))
    ]
    assert keys[0].kid == keys[1].kid
    # Kept in the database, not in either process's cache_dir.
    assert not (tmp_path / "one" / "cache" / "lti-key.pem").exists()


def test_an_existing_key_file_is_kept(tmp_path: Path) -> None:
    """A PostgreSQL deployment that had a key file keeps signing with it."""
    settings = conftest.make_settings(tmp_path)
    path = settings.cache_dir / "lti-key.pem"
    path.parent.mkdir(parents=True)
    before = ToolKey.load_or_create(path)
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    for url in pg_schema_url():
        store = LtiStore(url)
        try:
            assert tool_key(settings, store).kid == before.kid
        finally:
            store.close()


def test_processes_starting_together_create_the_tables_once() -> None:
    """Without the schema lock all but one of them failed on PostgreSQL's catalog."""
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    for url in pg_schema_url():
        with ThreadPoolExecutor(4) as pool:
            opened = list(pool.map(LtiStore, [url] * 4))
        for store in opened:
            store.close()


def test_state_of_the_old_sqlite_file_moves_into_postgres_once(tmp_path: Path) -> None:
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    path = tmp_path / "lti.sqlite3"
    old = LtiStore(path)
    old.put_platform(platform(), "api")
    sent = old.enqueue(ISS, "c1", ISS + "/li/1", {"scoreGiven": 1})
    old.mark_sent(sent)
    old.enqueue(ISS, "c1", ISS + "/li/2", {"scoreGiven": 2})
    hold = Hold("g1", ISS, "c1", ISS + "/li/3", "u1", time.time() + 60)
    old.hold(hold, "held")
    old.close()
    for url in pg_schema_url():
        stores = LtiStore(url), LtiStore(url)
        try:
            with ThreadPoolExecutor(2) as pool:
                copied = sorted(pool.map(lambda s: import_legacy(s, path), stores))
            assert copied == [0, 3]
            shared = stores[0]
            assert [(p.client_id, s) for p, s in shared.platforms()] == [("c1", "api")]
            assert [p.score for p in shared.passbacks()] == [{"scoreGiven": 2}]
            assert shared.held() == [hold]
        finally:
            for store in stores:
                store.close()
    assert not path.exists() and (tmp_path / "lti.sqlite3.imported").exists()
