"""Moving a PostgreSQL deployment's LTI state out of the SQLite file it used to be kept in.

Before the LTI store ran on PostgreSQL, a non-SQLite ``database_url`` kept the LTI tables in
``cache_dir/lti.sqlite3``. The first process to start with the shared database copies what
must outlive a restart (platforms, pending passbacks, held grades) into it, once: it claims
the file by renaming it (atomic; another process finds it gone), and leaves it renamed
``lti.sqlite3.imported``. Login states, sessions and nonces are short-lived and stay behind.
"""

from __future__ import annotations

import logging
from pathlib import Path

from app.lti.store import LtiStore

log = logging.getLogger(__name__)
EVERYTHING = 1_000_000


def import_legacy(store: LtiStore, path: Path) -> int:
    """Rows copied from the old file at ``path`` (0 when there is none, or another took it)."""
    claimed = path.with_name(path.name + ".importing")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        return 0
    old = LtiStore(claimed, upgrade=True)  # made by a release before migrations
    try:
        platforms = old.platforms()
        for platform, source in platforms:
            store.put_platform(platform, source)
        passbacks = old.passbacks("pending", limit=EVERYTHING)
        for item in reversed(passbacks):  # oldest first, as they were queued
            store.enqueue(item.issuer, item.client_id, item.lineitem, item.score)
        held = old.held(limit=EVERYTHING)
        for hold in held:
            store.hold(hold, "held")
    finally:
        old.close()
    claimed.rename(path.with_name(path.name + ".imported"))
    copied = len(platforms) + len(passbacks) + len(held)
    log.info("LTI state imported from %s into the shared database: %d rows", path, copied)
    return copied
