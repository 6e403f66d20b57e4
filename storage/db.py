"""The one place that opens the database.

SQLite in WAL mode with a busy timeout: the web server, the scheduler and the CLI
may all touch the file at the same time, so every connection is opened the same way.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from storage.schema import migrate

BUSY_TIMEOUT_MS = 5000


def connect(path: str | Path, *, migrate_schema: bool = True) -> sqlite_utils.Database:
    """Open (and if needed create and migrate) the hotline database at ``path``."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False: a connection is only used by one request at a time
    # (flask.g), but the scheduler hands connections across threads.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    if str(path) != ":memory:":
        db.enable_wal()
    if migrate_schema:
        migrate(db)
    return db


def get_db() -> sqlite_utils.Database:
    """The request's database connection, opened on first use and closed at teardown."""
    from flask import current_app, g

    if "db" not in g:
        g.db = connect(current_app.config["HOTLINE_DB"], migrate_schema=False)
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    from flask import g

    db = g.pop("db", None)
    if db is not None:
        db.conn.close()
