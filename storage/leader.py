"""One leader among many processes and machines sharing one database.

Scheduled jobs (tip schedules, the daily purges, the drain tick) must run in one process
however many serve: ``hotline serve --workers N`` on several machines. The leader holds:

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection of its
  own, kept open for as long as it leads. The server frees the lock the moment that
  connection ends, so a leader killed (kill -9, a machine lost) frees it without any
  lease to expire.
- SQLite: an exclusive ``flock`` on ``<database>.leader-<name>.lock`` next to the file.
  The kernel frees it when the holding process dies, whatever killed it. SQLite's
  processes all share one machine, so a file lock reaches every contender.

A process that did not win asks again now and then (``try_acquire``): when the leader
dies, one of the others takes over.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any

from storage.db import is_postgres, location


def _key(name: str) -> int:
    # A stable signed 32-bit key per leadership name; the second key is the schema's
    # hash (hashtext(current_schema()), as storage/pg.py's write lock): advisory locks are
    # per database, and two hotlines in two schemas of one database (a staging copy, the
    # test suite's schema per test) must not share one leader.
    digest = hashlib.sha256(f"hotline-leader:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


class Leader:
    """The leadership called ``name`` over the database at ``where`` (a path or URL)."""

    def __init__(self, where: str | Path, name: str = "scheduler") -> None:
        self.where = str(where)
        self.name = name
        self._conn: Any = None  # PostgreSQL: the connection that holds the lock
        self._fd: int | None = None  # SQLite: the locked file
        self.scheduler: Any = None  # what the leader runs (jobs/runner.lead)

    @property
    def held(self) -> bool:
        if self._conn is not None:
            return not self._conn.closed
        return self._fd is not None

    def shutdown(self, wait: bool = False) -> None:
        """Stop what this leader runs (a worker stopping: ``hotline serve --workers``);
        the lock goes with the process."""
        if self.scheduler is not None and getattr(self.scheduler, "running", False):
            self.scheduler.shutdown(wait=wait)

    def try_acquire(self) -> bool:
        """True when this process leads (now, or already); never waits."""
        if self.held:
            return True
        if is_postgres(self.where):
            return self._try_postgres()
        return self._try_file()

    def _try_postgres(self) -> bool:
        import psycopg

        from storage.pg import _libpq_url

        self._conn = None
        conn = psycopg.connect(_libpq_url(self.where), autocommit=True)
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", [_key(self.name)]
        ).fetchone()
        won = bool(row and row[0])
        if not won:
            conn.close()
            return False
        self._conn = conn
        return True

    def _try_file(self) -> bool:
        path = location(self.where)
        if path == ":memory:":  # a private database: nobody to compete with
            lock_path = None
        else:
            lock_path = Path(f"{path}.leader-{self.name}.lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
        if lock_path is None:
            self._fd = -1
            return True
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the server frees the session's advisory locks with it
            self._conn = None
        if self._fd is not None:
            if self._fd >= 0:
                os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> Leader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
