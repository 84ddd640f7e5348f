"""LTI persistence in SQLite (stdlib sqlite3): platforms, login states, used nonces, launch
sessions and the score passback queue. Tables are prefixed ``lti_`` and kept apart from
any other store in the same database. Calls are short single-row statements, serialized by a
lock; the file is in WAL mode so a crash never loses a committed passback.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

SCHEMA = """
CREATE TABLE IF NOT EXISTS lti_platforms (
    issuer TEXT NOT NULL, client_id TEXT NOT NULL, data TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (issuer, client_id));
CREATE TABLE IF NOT EXISTS lti_states (
    state TEXT PRIMARY KEY, nonce TEXT NOT NULL, issuer TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS lti_nonces (
    nonce TEXT PRIMARY KEY, issuer TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS lti_sessions (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS lti_passbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
    lineitem TEXT NOT NULL, score TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
    last_error TEXT, created_at REAL NOT NULL, sent_at REAL);
CREATE INDEX IF NOT EXISTS lti_passbacks_due ON lti_passbacks (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS lti_holds (
    grade_id TEXT PRIMARY KEY, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
    lineitem TEXT NOT NULL, user_id TEXT NOT NULL, due_at REAL NOT NULL,
    status TEXT NOT NULL, released_at REAL);
CREATE INDEX IF NOT EXISTS lti_holds_status ON lti_holds (status, due_at);
"""


class Platform(BaseModel):
    """An LMS registration: the values the LMS shows when rubricate is added to it."""

    issuer: str = Field(min_length=1, examples=["https://canvas.instructure.com"])
    client_id: str = Field(min_length=1)
    auth_login_url: str = Field(min_length=1, description="The platform's OIDC auth endpoint.")
    auth_token_url: str = Field(min_length=1, description="OAuth2 token endpoint (AGS).")
    jwks_url: str = Field(min_length=1, description="The platform's public keyset URL.")
    deployment_ids: list[str] = Field(min_length=1)
    name: str = ""


class Session(BaseModel):
    """What one launch may do: grade one question as one user, or answer one deep link."""

    kind: str
    issuer: str
    client_id: str
    deployment_id: str
    user_id: str | None = None
    lesson_id: str | None = None
    question_id: str | None = None
    lineitem: str | None = None
    deep_link_return_url: str | None = None
    deep_link_data: Any = None  # opaque: echoed back as the platform sent it


@dataclass
class Passback:
    id: int
    issuer: str
    client_id: str
    lineitem: str
    score: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None


@dataclass
class Hold:
    """A launch's grade, kept back from the LMS until its LLM pass settles or ``due_at``."""

    grade_id: str
    issuer: str
    client_id: str
    lineitem: str
    user_id: str
    due_at: float


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LtiStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # platforms
    def put_platform(self, platform: Platform, source: str) -> None:
        self._run(
            "INSERT OR REPLACE INTO lti_platforms VALUES (?, ?, ?, ?)",
            (platform.issuer, platform.client_id, platform.model_dump_json(), source),
        )

    def platforms(self) -> list[tuple[Platform, str]]:
        rows = self._run("SELECT data, source FROM lti_platforms ORDER BY issuer, client_id")
        return [(Platform.model_validate_json(d), s) for d, s in rows]

    def platform(self, issuer: str, client_id: str | None) -> Platform | None:
        if client_id is None:
            rows = self._run("SELECT data FROM lti_platforms WHERE issuer = ?", (issuer,))
            return Platform.model_validate_json(rows[0][0]) if len(rows) == 1 else None
        rows = self._run(
            "SELECT data FROM lti_platforms WHERE issuer = ? AND client_id = ?",
            (issuer, client_id),
        )
        return Platform.model_validate_json(rows[0][0]) if rows else None

    def delete_platform(self, issuer: str, client_id: str) -> bool:
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM lti_platforms WHERE issuer = ? AND client_id = ?", (issuer, client_id)
            )
            return cur.rowcount > 0

    # login state and nonces
    def put_state(self, state: str, nonce: str, issuer: str, ttl: float = 600) -> None:
        now = time.time()
        self._run("DELETE FROM lti_states WHERE expires_at < ?", (now,))
        self._run("INSERT INTO lti_states VALUES (?, ?, ?, ?)", (state, nonce, issuer, now + ttl))

    def take_state(self, state: str) -> tuple[str, str] | None:
        """The (nonce, issuer) of a login state, consumed; None if unknown or expired."""
        with self._lock:
            row = self._db.execute(
                "DELETE FROM lti_states WHERE state = ? RETURNING nonce, issuer, expires_at",
                (state,),
            ).fetchone()
        if row is None or row[2] < time.time():
            return None
        return row[0], row[1]

    def use_nonce(self, nonce: str, issuer: str, ttl: float = 7200) -> bool:
        """Record a nonce; False when it was seen before (a replayed id_token)."""
        now = time.time()
        self._run("DELETE FROM lti_nonces WHERE expires_at < ?", (now,))
        try:
            self._run("INSERT INTO lti_nonces VALUES (?, ?, ?)", (nonce, issuer, now + ttl))
        except sqlite3.IntegrityError:
            return False
        return True

    # sessions
    def put_session(self, token: str, session: Session, ttl: float) -> None:
        now = time.time()
        self._run("DELETE FROM lti_sessions WHERE expires_at < ?", (now,))
        self._run(
            "INSERT INTO lti_sessions VALUES (?, ?, ?, ?)",
            (token_hash(token), session.kind, session.model_dump_json(), now + ttl),
        )

    def session(self, token: str, kind: str, *, consume: bool = False) -> Session | None:
        sql = "SELECT data, expires_at FROM lti_sessions WHERE token_hash = ? AND kind = ?"
        if consume:
            sql = (
                "DELETE FROM lti_sessions WHERE token_hash = ? AND kind = ? "
                "RETURNING data, expires_at"
            )
        rows = self._run(sql, (token_hash(token), kind))
        if not rows or rows[0][1] < time.time():
            return None
        return Session.model_validate_json(rows[0][0])

    # passback queue
    def enqueue(self, issuer: str, client_id: str, lineitem: str, score: dict[str, Any]) -> int:
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO lti_passbacks (issuer, client_id, lineitem, score, next_attempt_at,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (issuer, client_id, lineitem, json.dumps(score), now, now),
            )
            return int(cur.lastrowid or 0)

    # grades held back until refined (or a time-out), and the launch each belongs to
    def hold(self, hold: Hold, status: str) -> None:
        self._run(
            "INSERT OR REPLACE INTO lti_holds (grade_id, issuer, client_id, lineitem, user_id,"
            " due_at, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                hold.grade_id,
                hold.issuer,
                hold.client_id,
                hold.lineitem,
                hold.user_id,
                hold.due_at,
                status,
            ),
        )

    def held(self, limit: int = 100) -> list[Hold]:
        rows = self._run(
            "SELECT grade_id, issuer, client_id, lineitem, user_id, due_at FROM lti_holds"
            " WHERE status = 'held' ORDER BY due_at LIMIT ?",
            (limit,),
        )
        return [Hold(*r) for r in rows]

    def hold_for(self, grade_id: str) -> Hold | None:
        rows = self._run(
            "SELECT grade_id, issuer, client_id, lineitem, user_id, due_at FROM lti_holds"
            " WHERE grade_id = ?",
            (grade_id,),
        )
        return Hold(*rows[0]) if rows else None

    def mark_released(self, grade_id: str) -> None:
        self._run(
            "UPDATE lti_holds SET status = 'released', released_at = ? WHERE grade_id = ?",
            (time.time(), grade_id),
        )

    def due(self, limit: int = 20) -> list[Passback]:
        rows = self._run(
            "SELECT id, issuer, client_id, lineitem, score, status, attempts, next_attempt_at,"
            " last_error FROM lti_passbacks WHERE status = 'pending' AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at LIMIT ?",
            (time.time(), limit),
        )
        return [self._passback(r) for r in rows]

    def passbacks(self, status: str | None = None, limit: int = 100) -> list[Passback]:
        rows = self._run(
            "SELECT id, issuer, client_id, lineitem, score, status, attempts, next_attempt_at,"
            " last_error FROM lti_passbacks WHERE (? IS NULL OR status = ?)"
            " ORDER BY id DESC LIMIT ?",
            (status, status, limit),
        )
        return [self._passback(r) for r in rows]

    @staticmethod
    def _passback(row: tuple[Any, ...]) -> Passback:
        return Passback(row[0], row[1], row[2], row[3], json.loads(row[4]), *row[5:])

    def mark_sent(self, passback_id: int) -> None:
        self._run(
            "UPDATE lti_passbacks SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
            " last_error = NULL WHERE id = ?",
            (time.time(), passback_id),
        )

    def mark_retry(self, passback_id: int, delay: float, error: str) -> None:
        self._run(
            "UPDATE lti_passbacks SET attempts = attempts + 1, next_attempt_at = ?,"
            " last_error = ? WHERE id = ?",
            (time.time() + delay, error[:1000], passback_id),
        )
