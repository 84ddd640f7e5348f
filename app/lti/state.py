"""The LTI objects of one app: store, tool key, HTTP client, JWKS cache, passback worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import TypeAdapter

from app.batches import database_url
from app.lti.ags import PassbackWorker, TokenClient
from app.lti.keys import ToolKey
from app.lti.launch import JwksCache
from app.lti.legacy import import_legacy
from app.lti.models import Platform
from app.lti.store import LtiStore
from app.settings import Settings
from graders.store.database import sqlite_url


@dataclass
class LtiState:
    settings: Settings
    store: LtiStore
    key: ToolKey
    http: httpx.AsyncClient
    jwks: JwksCache
    tokens: TokenClient
    worker: PassbackWorker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def load_platforms_file(path: Path) -> list[Platform]:
    """A JSON list of platform objects (the fields of ``Platform``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return TypeAdapter(list[Platform]).validate_python(data)


def db_url(settings: Settings) -> str:
    """``RUBRICATE_LTI_DB_PATH`` (a SQLite file); else ``RUBRICATE_DATABASE_URL``, our ``lti_``
    tables beside the batch and grade tables, shared by every process on PostgreSQL; else
    ``cache_dir/rubricate.db``, the batch store's default."""
    if settings.lti_db_path is not None:
        return sqlite_url(settings.lti_db_path)
    return database_url(settings)


def tool_key(settings: Settings, store: LtiStore) -> ToolKey:
    """``RUBRICATE_LTI_KEY_PATH`` if set. On a shared database the key is kept there, so
    every process signs with the same one (a key file already in ``cache_dir`` is offered
    first, so an existing deployment keeps its key); else ``cache_dir/lti-key.pem``."""
    path = settings.lti_key_path or settings.cache_dir / "lti-key.pem"
    if settings.lti_key_path is not None or not store.shared:
        return ToolKey.load_or_create(path)
    offered = path.read_bytes() if path.exists() else ToolKey.new_pem()
    return ToolKey.from_pem(store.key_pem("tool", offered), "the lti_keys table")


def build(settings: Settings) -> LtiState:
    store = LtiStore(db_url(settings), upgrade=settings.db_upgrade)
    if store.shared:
        import_legacy(store, settings.cache_dir / "lti.sqlite3")
    if settings.lti_platforms_file is not None:
        for platform in load_platforms_file(settings.lti_platforms_file):
            store.put_platform(platform, source="file")
    key = tool_key(settings, store)
    http = httpx.AsyncClient(follow_redirects=False)
    tokens = TokenClient(http, key)
    worker = PassbackWorker(
        store,
        tokens,
        http,
        retry_base_s=settings.lti_retry_base_s,
        retry_max_s=settings.lti_retry_max_s,
        interval_s=settings.lti_worker_interval_s,
    )
    return LtiState(settings, store, key, http, JwksCache(http), tokens, worker)


def ensure(app: FastAPI) -> LtiState:
    """The app's LTI state, built on first use (the lifespan builds it at start-up)."""
    state: LtiState | None = getattr(app.state, "lti", None)
    if state is None:
        state = build(app.state.settings)
        app.state.lti = state
    return state


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = ensure(app)
    state.tasks.append(asyncio.create_task(state.worker.run()))
    try:
        yield
    finally:
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await state.http.aclose()
        state.store.close()
        app.state.lti = None
