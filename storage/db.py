"""The one place that opens the database.

``connect(location)``: a file path or ``sqlite:///path`` opens SQLite through
sqlite-utils (the embedded default); a ``postgresql://`` URL opens PostgreSQL through
psycopg 3 behind the same API (storage/pg.py says why an adapter). ``db.dialect`` is
"sqlite" or "postgresql" and ``db.location`` what ``connect`` was given, so a worker
thread can open its own connection to the same database.

SQLite in WAL mode with a busy timeout: the web server, the scheduler and the CLI
may all touch the file at the same time, so every connection is opened the same way.

Transactions: ``with db.atomic():`` around every group of writes that must land
together. Not ``with db.conn:``: sqlite-utils commits each ``db.execute`` write at once
when no transaction is open, so ``with db.conn:`` groups nothing (a kill -9 between
two writes kept the first: a message marked logged that never was).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from storage.schema import migrate

BUSY_TIMEOUT_MS = 5000
# How long a writer of this process waits for the in-process write lock.
WRITE_LOCK_WAIT_S = 3.0


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# Polling step for the lock file of another process (flock has no timeout).
FILE_LOCK_POLL_S = 0.0005


def _write_lock(path: str) -> threading.RLock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.RLock())


class _FileLock:
    """The write lock across processes (the workers of ``hotline serve --workers``): an
    exclusive ``flock`` on ``<database>.writelock``, taken by the one thread of this
    process that holds the in-process lock. Without it, writers of different processes
    meet in SQLite's busy handler, which sleeps in steps of up to 100 ms (p99 in seconds
    at 10 senders, docs/benchmarks.md); a freed flock is seen within half a millisecond.
    One descriptor per file per process, reopened after a fork (a descriptor shared with
    the parent would share its lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.depth = 0  # nested holders of this thread (guarded by the in-process lock)

    def acquire(self, deadline: float) -> bool:
        self.depth += 1
        if self.depth > 1:
            return True
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.depth -= 1
                    return False
                time.sleep(FILE_LOCK_POLL_S)

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


_FILE_LOCKS: dict[str, _FileLock] = {}


def _file_lock(path: str) -> _FileLock:
    with _WRITE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path, _FileLock(path + ".writelock"))


def _after_fork() -> None:
    for lock in _FILE_LOCKS.values():
        if lock.fd is not None:
            os.close(lock.fd)
    _FILE_LOCKS.clear()


os.register_at_fork(after_in_child=_after_fork)


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose transactions take the write lock at the start.

    sqlite-utils opens a deferred ``BEGIN``: a transaction that reads and then writes
    must upgrade its lock, and in WAL mode an upgrade that meets another writer fails at
    once with "database is locked" (the busy timeout cannot help: waiting could
    deadlock). ``BEGIN IMMEDIATE`` waits for the lock instead.

    Writers of this process first queue on a Python lock (one per database file): a
    waiting thread wakes the moment the writer before it commits, where SQLite's busy
    handler would sleep in growing steps of up to 100 ms (seconds of p99 at 10 senders,
    docs/benchmarks.md). Other processes (the CLI) still meet the busy timeout."""

    dialect = "sqlite"
    location = ""
    write_lock: threading.RLock | None = None
    write_file: str | None = None  # the database file, for the cross-process lock

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        # A lone write outside a transaction: sqlite-utils commits it at once; it queues
        # on the write lock like any transaction.
        if not self.conn.in_transaction and sql.lstrip()[:7].upper().startswith(_WRITES):
            with self.atomic():
                return super().execute(sql, parameters)
        return super().execute(sql, parameters)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.write_lock is None:
            self.write_lock = threading.RLock()
        if not self.conn.in_transaction:
            # Bounded: a writer stuck behind a long lock gives up (TimeoutError) rather
            # than hold a request thread past what a provider waits (WeChat: 5 s).
            deadline = time.monotonic() + WRITE_LOCK_WAIT_S
            if not self.write_lock.acquire(timeout=WRITE_LOCK_WAIT_S):
                raise TimeoutError("database write lock not free")
            try:
                # Looked up at each use, not kept: after a fork the child gets a new one.
                file_lock = _file_lock(self.write_file) if self.write_file else None
                if file_lock is not None and not file_lock.acquire(deadline):
                    raise TimeoutError("database write lock of another process not free")
                try:
                    yield from self._atomic()
                finally:
                    if file_lock is not None:
                        file_lock.release()
            finally:
                self.write_lock.release()
            return
        yield from self._atomic()

    def _atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:  # nested: a savepoint inside the open transaction
            # One name for every level: savepoints nest as these blocks do, and ROLLBACK
            # TO / RELEASE act on the innermost of that name. A fixed text is also a
            # statement sqlite3 has prepared already (a fresh name was parsed each time).
            self.conn.execute("SAVEPOINT hotline_sp")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK TO SAVEPOINT hotline_sp")
                    self.conn.execute("RELEASE SAVEPOINT hotline_sp")
                raise
            self.conn.execute("RELEASE SAVEPOINT hotline_sp")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise


def location(url_or_path: str | Path) -> str:
    """What ``connect`` takes, from a HOTLINE_DATABASE_URL or a file path: a PostgreSQL
    URL as it is, ``sqlite:///path`` as the path."""
    text = str(url_or_path)
    if text.startswith("sqlite:///"):
        return text[len("sqlite:///") :] or ":memory:"
    if text.startswith("sqlite://"):
        return ":memory:"
    return text


def sqlalchemy_url(where: str | Path) -> str:
    """The same database as a SQLAlchemy URL (the APScheduler job store): SQLAlchemy 1.4
    drives PostgreSQL through psycopg2, SQLite through the standard module."""
    import re

    text = location(where)
    if is_postgres(text):
        return re.sub(r"^postgres(ql)?(\+[a-z0-9]+)?://", "postgresql+psycopg2://", text)
    return f"sqlite:///{text}"


def location_of(db: Any) -> str:
    """Where ``db`` was opened (for another thread to open its own connection)."""
    if getattr(db, "location", ""):
        return db.location
    return db.execute("PRAGMA database_list").fetchone()[2]


def is_postgres(location: str | Path) -> bool:
    from storage import pg

    return pg.is_postgres_url(str(location))


def connect(path: str | Path, *, migrate_schema: bool = True) -> Any:
    """Open (and if needed create and migrate) the hotline database at ``path``: a file
    path, ``sqlite:///path`` or a ``postgresql://`` URL."""
    if is_postgres(path):
        from storage import pg

        pgdb = pg.connect(str(path))
        if migrate_schema:
            migrate(pgdb)
        return pgdb
    path = Path(location(path))
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created private like the keys; SQLite gives its -wal and -shm the same mode.
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    # check_same_thread=False: a connection is only used by one request at a time
    # (flask.g), but the scheduler hands connections across threads.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted and overwritten content is zeroed, not left in free pages: a masked number
    # or a purged report must not survive in the file (some SQLite builds default off).
    conn.execute("PRAGMA secure_delete = ON")
    db = Database(conn)
    db.location = str(path)
    db.write_lock = _write_lock(str(path.resolve()) if str(path) != ":memory:" else str(id(db)))
    if str(path) != ":memory:":
        db.write_file = str(path.resolve())
    if str(path) != ":memory:":
        db.enable_wal()
        # WAL + NORMAL: no fsync per commit (an SMS makes about seven), only at checkpoints.
        # A killed process loses nothing committed and the file never corrupts; a power cut
        # may lose the last commits. Measured: twice the answers per second and a quarter
        # of the p99 at 10 senders (docs/benchmarks.md, "Where the time goes").
        conn.execute("PRAGMA synchronous = NORMAL")
    if migrate_schema:
        migrate(db)
    return db


def checkpoint(db: sqlite_utils.Database) -> bool:
    """Copy the WAL into the database and truncate it: after personal data is masked
    or purged, the old pages (clear text) must not stay in the -wal file until SQLite's
    next automatic checkpoint. False when it could not complete (readers still on old
    pages, or called inside a transaction): the next checkpoint finishes the job.
    PostgreSQL: nothing to do here (its WAL is recycled by the server)."""
    if getattr(db, "dialect", "sqlite") != "sqlite":
        return True
    if db.conn.in_transaction:
        return False
    try:
        busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError:
        return False
    return not busy


# Idle connections an app keeps between requests (more are closed when handed back).
MAX_IDLE_CONNECTIONS = 16


class _Idle:
    """An app's idle connections, the most recently used handed out first.

    Kept between requests: opening a connection costs PRAGMAs, and closing the last one
    checkpoints the WAL with an fsync (together about half the non-NLU time of an
    answered SMS once, docs/benchmarks.md). Most recent first, not one per server thread:
    SQLite drops a connection's whole page cache when another connection has written
    since its last transaction, so eight threads taking turns on eight connections read
    every page again on every request (26 preads per SMS against 2 through one
    connection, docs/benchmarks.md); a connection used by the request before is warm.
    The same for PostgreSQL: fewer server sessions, statements prepared on the one used."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.connections: list[Any] = []

    def take(self) -> Any | None:
        with self.lock:
            if self.pid != os.getpid():  # a forked worker: the parent's are not ours
                _INHERITED.extend(self.connections)  # kept, never closed from here
                self.connections, self.pid = [], os.getpid()
            return self.connections.pop() if self.connections else None

    def give(self, db: Any) -> bool:
        """Keep ``db`` for the next request; False (not kept) when enough are idle."""
        with self.lock:
            if self.pid != os.getpid() or len(self.connections) >= MAX_IDLE_CONNECTIONS:
                return False
            self.connections.append(db)
            return True


# Connections a forked worker found in its parent's idle list: referenced so that the
# child never closes (and so checkpoints or unlocks) what belongs to its parent.
_INHERITED: list[Any] = []


def idle_connections(app: Any) -> _Idle:
    """``app``'s idle connections (made on first use)."""
    idle = app.extensions.get("hotline_db_idle")
    if idle is None:
        with _WRITE_LOCKS_GUARD:
            idle = app.extensions.setdefault("hotline_db_idle", _Idle())
    return idle


def get_db() -> sqlite_utils.Database:
    """The request's database connection: an idle one if the app has one (the most
    recently used), else a new one; handed back (not closed) at teardown."""
    from flask import current_app, g

    db = g.get("db")
    if db is None:
        idle = idle_connections(current_app)
        db = idle.take()
        while db is not None and getattr(db.conn, "closed", False):
            db = idle.take()  # PostgreSQL restarted under a kept connection: the next
        if db is None:
            db = connect(current_app.config["HOTLINE_DB"], migrate_schema=False)
        g.db = db
    return db


def close_db(_exc: BaseException | None = None) -> None:
    from flask import current_app, g

    db = g.pop("db", None)
    if db is None:
        return
    if db.conn.in_transaction:  # what closing did: nothing half-written survives
        db.conn.rollback()
    if not idle_connections(current_app).give(db):
        db.conn.close()
