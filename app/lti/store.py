"""LTI persistence over SQLAlchemy Core: platforms, login states, used nonces, launch
sessions, grades held back and the score passback queue (tables in graders/store/tables.py).

SQLite by default (the tables beside the batch store's; a crash never loses a committed
passback: WAL with ``synchronous=FULL``); on PostgreSQL every API process shares the same
state, so a launch may log in on one process and land on another. What must happen once
is atomic in the database: a nonce is used by inserting it (the primary key refuses the
second), a login state or a single-use session is consumed by ``DELETE ... RETURNING``,
and a due passback or held grade is claimed by a conditional ``UPDATE``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, Table, delete, event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app.lti.models import Hold, Passback, Platform, Session
from graders.store import tables as t
from graders.store.database import open_engine, sqlite_url

__all__ = ["LtiStore", "token_hash"]

S = TypeVar("S", bound=Session)  # one kind of launch session
CLAIM_LEASE_S = 120.0  # a passback claimed by a process that died is retried after this


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _full_sync(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA synchronous=FULL")


def _upsert(conn: Connection, table: Table, values: Mapping[str, Any]) -> None:
    """Insert, or replace the row with the same primary key."""
    keys = [c.name for c in table.primary_key]
    changed = {k: v for k, v in values.items() if k not in keys}
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        stmt = (sqlite if name == "sqlite" else postgresql).insert(table).values(**values)
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changed))
        return
    where = [table.c[k] == values[k] for k in keys]
    if not conn.execute(update(table).where(*where).values(**changed)).rowcount:
        conn.execute(insert(table).values(**values))


# the columns a Hold and a Passback are read from, in their fields' order
HOLD_COLUMNS = [t.lti_holds.c[f.name] for f in fields(Hold)]
PASSBACK_COLUMNS = [t.lti_passbacks.c[f.name] for f in fields(Passback)]


def _passback(row: Row[Any]) -> Passback:
    r = tuple(row)
    return Passback(r[0], r[1], r[2], r[3], json.loads(r[4]), *r[5:])


class LtiStore:
    """``target``: a SQLite file (a ``Path``) or a SQLAlchemy database URL; ``upgrade``: see
    :func:`graders.store.database.open_engine`."""

    def __init__(self, target: Path | str, *, upgrade: bool = False) -> None:
        self.url = sqlite_url(target) if isinstance(target, Path) else target
        self.engine = open_engine(self.url, upgrade=upgrade)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _full_sync)
            self.engine.dispose()  # reconnect with the pragma

    @property
    def shared(self) -> bool:
        """Whether other processes, on other machines too, may share this database."""
        return self.engine.dialect.name != "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    def key_pem(self, name: str, offered: bytes) -> bytes:
        """The PEM stored as ``name``; ``offered`` becomes it if none is yet (first wins)."""
        values = {"name": name, "pem": offered.decode(), "created_at": time.time()}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t.lti_keys).values(**values))
        except IntegrityError:
            pass  # another process stored one first
        with self.engine.connect() as conn:
            return str(
                conn.execute(select(t.lti_keys.c.pem).where(t.lti_keys.c.name == name)).scalar_one()
            ).encode()

    # platforms
    def put_platform(self, platform: Platform, source: str) -> None:
        values = {
            "issuer": platform.issuer,
            "client_id": platform.client_id,
            "data": platform.model_dump_json(),
            "source": source,
        }
        with self.engine.begin() as conn:
            _upsert(conn, t.lti_platforms, values)

    def platforms(self) -> list[tuple[Platform, str]]:
        p = t.lti_platforms.c
        query = select(p.data, p.source).order_by(p.issuer, p.client_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(Platform.model_validate_json(d), s) for d, s in rows]

    def platform(self, issuer: str, client_id: str | None) -> Platform | None:
        p = t.lti_platforms.c
        query = select(p.data).where(p.issuer == issuer)
        if client_id is not None:
            query = query.where(p.client_id == client_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(2)).all()
        # With no client_id the issuer must name one registration only.
        return Platform.model_validate_json(rows[0][0]) if len(rows) == 1 else None

    def delete_platform(self, issuer: str, client_id: str) -> bool:
        p = t.lti_platforms.c
        with self.engine.begin() as conn:
            query = delete(t.lti_platforms).where(p.issuer == issuer, p.client_id == client_id)
            return conn.execute(query).rowcount > 0

    # login state and nonces
    def put_state(self, state: str, nonce: str, issuer: str, ttl: float = 600) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(delete(t.lti_states).where(t.lti_states.c.expires_at < now))
            values = {"state": state, "nonce": nonce, "issuer": issuer, "expires_at": now + ttl}
            conn.execute(insert(t.lti_states).values(**values))

    def take_state(self, state: str) -> tuple[str, str] | None:
        """The (nonce, issuer) of a login state, consumed; None if unknown or expired."""
        s = t.lti_states.c
        query = (
            delete(t.lti_states).where(s.state == state).returning(s.nonce, s.issuer, s.expires_at)
        )
        with self.engine.begin() as conn:
            row = conn.execute(query).first()
        if row is None or row[2] < time.time():
            return None
        return row[0], row[1]

    def use_nonce(self, nonce: str, issuer: str, ttl: float = 7200) -> bool:
        """Record a nonce; False when it was seen before (a replayed id_token)."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(delete(t.lti_nonces).where(t.lti_nonces.c.expires_at < now))
        try:
            with self.engine.begin() as conn:
                values = {"nonce": nonce, "issuer": issuer, "expires_at": now + ttl}
                conn.execute(insert(t.lti_nonces).values(**values))
        except IntegrityError:
            return False
        return True

    # sessions
    def put_session(self, token: str, session: Session, ttl: float) -> None:
        now = time.time()
        values = {
            "token_hash": token_hash(token),
            "kind": session.KIND,
            "data": session.model_dump_json(),
            "expires_at": now + ttl,
        }
        with self.engine.begin() as conn:
            conn.execute(delete(t.lti_sessions).where(t.lti_sessions.c.expires_at < now))
            conn.execute(insert(t.lti_sessions).values(**values))

    def session(self, token: str, kind: type[S], *, consume: bool = False) -> S | None:
        """The live session of this kind the token names; ``consume``: it is used up."""
        c = t.lti_sessions.c
        where = (c.token_hash == token_hash(token), c.kind == kind.KIND)
        query = (
            delete(t.lti_sessions).where(*where).returning(c.data, c.expires_at)
            if consume
            else select(c.data, c.expires_at).where(*where)
        )
        with self.engine.begin() as conn:
            row = conn.execute(query).first()
        if row is None or row[1] < time.time():
            return None
        return kind.model_validate_json(row[0])

    # passback queue
    def enqueue(self, issuer: str, client_id: str, lineitem: str, score: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            return self._enqueue(conn, issuer, client_id, lineitem, score)

    @staticmethod
    def _enqueue(
        conn: Connection, issuer: str, client_id: str, lineitem: str, score: dict[str, Any]
    ) -> int:
        now = time.time()
        values = {
            "issuer": issuer,
            "client_id": client_id,
            "lineitem": lineitem,
            "score": json.dumps(score),
            "next_attempt_at": now,
            "created_at": now,
        }
        query = insert(t.lti_passbacks).values(**values).returning(t.lti_passbacks.c.id)
        return int(conn.execute(query).scalar_one())

    # grades held back until refined (or a time-out), and the launch each belongs to
    def hold(self, hold: Hold, status: str) -> None:
        values = {**vars(hold), "status": status, "released_at": None}
        with self.engine.begin() as conn:
            _upsert(conn, t.lti_holds, values)

    def held(self, limit: int = 100) -> list[Hold]:
        h = t.lti_holds.c
        query = select(*HOLD_COLUMNS).where(h.status == "held").order_by(h.due_at).limit(limit)
        with self.engine.connect() as conn:
            return [Hold(*r) for r in conn.execute(query)]

    def hold_for(self, grade_id: str) -> Hold | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*HOLD_COLUMNS).where(t.lti_holds.c.grade_id == grade_id)
            ).first()
        return Hold(*row) if row else None

    def mark_released(self, grade_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._release(grade_id))

    @staticmethod
    def _release(grade_id: str) -> Any:
        values = {"status": "released", "released_at": time.time()}
        return update(t.lti_holds).where(t.lti_holds.c.grade_id == grade_id).values(**values)

    def release_hold(self, hold: Hold, score: dict[str, Any]) -> int | None:
        """Queue a held grade's passback, once: None when another process released it."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                self._release(hold.grade_id).where(t.lti_holds.c.status == "held")
            )
            if claimed.rowcount != 1:
                return None
            return self._enqueue(conn, hold.issuer, hold.client_id, hold.lineitem, score)

    def due(self, limit: int = 20) -> list[Passback]:
        """Pending passbacks now due, each claimed for this process for ``CLAIM_LEASE_S``."""
        now, p = time.time(), t.lti_passbacks.c
        is_due = (p.status == "pending", p.next_attempt_at <= now)
        query = select(*PASSBACK_COLUMNS).where(*is_due).order_by(p.next_attempt_at)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        claimed = []
        for row in rows:
            claim = update(t.lti_passbacks).where(p.id == row[0], *is_due)
            with self.engine.begin() as conn:
                if conn.execute(claim.values(next_attempt_at=now + CLAIM_LEASE_S)).rowcount:
                    claimed.append(_passback(row))
        return claimed

    def passbacks(self, status: str | None = None, limit: int = 100) -> list[Passback]:
        query = select(*PASSBACK_COLUMNS).order_by(t.lti_passbacks.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(t.lti_passbacks.c.status == status)
        with self.engine.connect() as conn:
            return [_passback(r) for r in conn.execute(query)]

    def mark_sent(self, passback_id: int) -> None:
        values = {
            "status": "sent",
            "attempts": t.lti_passbacks.c.attempts + 1,
            "sent_at": time.time(),
            "last_error": None,
        }
        with self.engine.begin() as conn:
            conn.execute(
                update(t.lti_passbacks).where(t.lti_passbacks.c.id == passback_id).values(values)
            )

    def mark_retry(self, passback_id: int, delay: float, error: str) -> None:
        values = {
            "attempts": t.lti_passbacks.c.attempts + 1,
            "next_attempt_at": time.time() + delay,
            "last_error": error[:1000],
        }
        with self.engine.begin() as conn:
            conn.execute(
                update(t.lti_passbacks).where(t.lti_passbacks.c.id == passback_id).values(values)
            )
