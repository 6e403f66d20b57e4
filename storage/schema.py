"""Schema migrations for the whole hotline, applied in order and recorded once each.

Each domain keeps its tables in ``storage/migrations/<domain>.py`` as a list of
``(name, function)`` pairs. A migration is never edited after it has landed: add a new
one instead, so databases already in the field upgrade the same way as new ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlite_utils

from storage.migrations import (
    core,
    incidents,
    messaging,
    outreach,
    registry,
    reliability,
    reporting,
    review,
    scamcheck,
    wechat,
)

Migration = tuple[str, Callable[[sqlite_utils.Database], None]]

MIGRATIONS: list[Migration] = [
    *core.MIGRATIONS,
    *reporting.MIGRATIONS,
    *outreach.MIGRATIONS,
    *wechat.MIGRATIONS,
    *registry.MIGRATIONS,
    *incidents.MIGRATIONS,
    *reliability.MIGRATIONS,
    *review.MIGRATIONS,
    *scamcheck.MIGRATIONS,
    *messaging.MIGRATIONS,
]


def migrate(db: Any) -> list[str]:
    """Apply every migration not yet recorded; return the names applied. ``db``: a
    sqlite-utils Database or a storage.pg.PgDatabase (the same API)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    if getattr(db, "dialect", "sqlite") == "postgresql":
        from storage import pg

        with db.atomic():
            pg.install_compat(db)
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, apply in MIGRATIONS:
        if name in done:
            continue
        with db.atomic():
            # Checked again under the write lock: another process (a second worker, a
            # second machine on PostgreSQL) may have applied it since the read above.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                continue
            apply(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                [name, dt.datetime.now(dt.timezone.utc).isoformat()],
            )
        applied.append(name)
    return applied
