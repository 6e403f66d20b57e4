"""Flood-limit buckets in the database, shared by every worker process.

``hotline serve --workers N`` runs N processes; a limiter whose buckets lived in each
process's memory would let a flooder through N times the rate (and a restart would
hand every flooder a full bucket). ``DbBucketStore`` is the ``throttle.BucketStore``
the server's limiters use: one row per (limiter, key) in ``flood_buckets``.

One statement per message: an UPSERT that refills, takes a token and decides on the
slow-down notice in SQL, and returns the decision (``RETURNING``). A single statement is
atomic on SQLite (the write lock) and on PostgreSQL (the row lock the conflict takes),
so no read-then-write race between processes. The limiter's rate, burst and notice
window travel in the row, so the update reads them as ``excluded.*`` instead of
repeating parameters. Only portable SQL: ``INSERT ... ON CONFLICT ... DO UPDATE``,
``CASE`` (no ``MIN``/``MAX``/``GREATEST``), ``RETURNING`` (SQLite >= 3.35).

Keys are digested with the hotline's HMAC key before they are stored: a caller's key
is already a sender hash, a client address or ``"*"``, but an address must not sit in
a table in clear either. Bounded: a bucket that has refilled and whose notice window has
passed is the same as no bucket, so idle rows are deleted (once a minute per process),
and past ``max_keys`` per limiter the least recently updated go first.

Fails open: when the database cannot take the write in time the message is allowed
(and logged): a villager must not go unanswered because the limiter's table is busy.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

PURGE_EVERY_S = 60.0


class _Limit(Protocol):  # throttle.Limit's fields (storage imports nothing of ours)
    # Read-only, as throttle.Limit (a frozen dataclass) has them.
    @property
    def name(self) -> str: ...
    @property
    def rate(self) -> float: ...
    @property
    def burst(self) -> int: ...
    @property
    def notice_window(self) -> float: ...
    @property
    def max_keys(self) -> int: ...


# The bucket refilled to now, from the old row and the new one's rate and burst.
_REFILLED = (
    "(CASE WHEN excluded.updated <= flood_buckets.updated THEN flood_buckets.tokens"
    " WHEN flood_buckets.tokens + (excluded.updated - flood_buckets.updated) * excluded.rate"
    " >= excluded.burst THEN excluded.burst"
    " ELSE flood_buckets.tokens + (excluded.updated - flood_buckets.updated) * excluded.rate END)"
)
_NOTICE_DUE = (
    "(flood_buckets.noticed_at IS NULL"
    " OR excluded.updated - flood_buckets.noticed_at >= excluded.notice_window)"
)
# Built from the constant fragments above only; every value is a parameter.
TAKE_SQL = (
    "INSERT INTO flood_buckets (limiter, bucket_key, tokens, updated, noticed_at, rate, burst,"  # noqa: S608
    " notice_window, allowed, notified) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, 1, 0)"
    " ON CONFLICT (limiter, bucket_key) DO UPDATE SET"
    f" tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END,"
    " updated = excluded.updated, rate = excluded.rate, burst = excluded.burst,"
    " notice_window = excluded.notice_window,"
    f" allowed = CASE WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END,"
    f" notified = CASE WHEN {_REFILLED} >= 1 THEN 0 WHEN {_NOTICE_DUE} THEN 1 ELSE 0 END,"
    f" noticed_at = CASE WHEN {_REFILLED} < 1 AND {_NOTICE_DUE} THEN excluded.updated"
    " ELSE flood_buckets.noticed_at END"
    " RETURNING allowed, notified"
)


def keyed_digest(secret: bytes) -> Callable[[str], str]:
    """HMAC-SHA256 of a bucket key under ``secret`` (the vault's hash key)."""

    def digest(key: str) -> str:
        return hmac.new(secret, b"bucket:" + key.encode(), hashlib.sha256).hexdigest()

    return digest


def _request_db() -> Any:
    from storage.db import get_db

    return get_db()


class DbBucketStore:
    """``throttle.BucketStore`` on the ``flood_buckets`` table.

    ``connection``: returns the database to use on the calling thread (default: the
    request's, ``storage.db.get_db``; limiters are asked outside any open transaction).
    ``digest``: turns a caller's key into the stored one."""

    def __init__(
        self,
        digest: Callable[[str], str],
        connection: Callable[[], Any] = _request_db,
    ) -> None:
        self.digest = digest
        self.connection = connection
        self._purged_at = time.time()
        self._purge_lock = threading.Lock()

    def take(self, limit: _Limit, key: str, now: float) -> tuple[bool, bool]:
        db = self.connection()
        params = [
            limit.name,
            self.digest(key),
            float(limit.burst) - 1.0,
            now,
            limit.rate,
            float(limit.burst),
            limit.notice_window,
        ]
        try:
            if getattr(db, "dialect", "sqlite") == "sqlite" and db.conn.in_transaction:
                # Inside the caller's transaction (the message's log, bot/conversations.py):
                # one SQLite statement that fails undoes only itself, so no savepoint
                # (two more statements a message). PostgreSQL needs one: a failed
                # statement there aborts the whole transaction.
                rows = db.execute(TAKE_SQL, params).fetchall()
            else:
                with db.atomic():
                    # fetchall: the statement must be finished before the commit.
                    rows = db.execute(TAKE_SQL, params).fetchall()
        except (sqlite3.OperationalError, TimeoutError) as exc:
            log.warning("flood limit not checked, message allowed (%s)", type(exc).__name__)
            return True, False
        self._maybe_purge(db, limit, now)
        allowed, notified = rows[0]
        return bool(allowed), bool(notified)

    def tokens(self, limit: _Limit, key: str, now: float) -> float | None:
        row = (
            self.connection()
            .execute(
                "SELECT tokens, updated FROM flood_buckets WHERE limiter = ? AND bucket_key = ?",
                [limit.name, self.digest(key)],
            )
            .fetchone()
        )
        if row is None:
            return None
        tokens, updated = row
        return min(float(limit.burst), tokens + max(0.0, now - updated) * limit.rate)

    def size(self, limit: _Limit) -> int:
        return (
            self.connection()
            .execute("SELECT COUNT(*) FROM flood_buckets WHERE limiter = ?", [limit.name])
            .fetchone()[0]
        )

    def _maybe_purge(self, db: Any, limit: _Limit, now: float) -> None:
        if now - self._purged_at < PURGE_EVERY_S or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._purged_at = now
            purge(db, now, limit)
        except (sqlite3.OperationalError, TimeoutError):
            pass  # the next purge does it
        finally:
            self._purge_lock.release()


def purge(db: Any, now: float, limit: _Limit | None = None) -> int:
    """Delete buckets that are full again and past their notice window (no different
    from no bucket); then, for ``limit``, the least recently updated beyond its
    ``max_keys``. Returns how many rows went."""
    with db.atomic():
        gone = db.execute(
            "DELETE FROM flood_buckets WHERE rate > 0 AND updated + (burst - tokens) / rate < ?"
            " AND (noticed_at IS NULL OR noticed_at + notice_window < ?)",
            [now, now],
        ).rowcount
        if limit is not None:
            cutoff = db.execute(
                "SELECT updated FROM flood_buckets WHERE limiter = ?"
                " ORDER BY updated DESC LIMIT 1 OFFSET ?",
                [limit.name, limit.max_keys - 1],
            ).fetchone()
            if cutoff is not None:
                gone += db.execute(
                    # Older than the newest max_keys (ties at the cut are kept).
                    "DELETE FROM flood_buckets WHERE limiter = ? AND updated < ?",
                    [limit.name, cutoff[0]],
                ).rowcount
    return gone


_app_lock = threading.Lock()


def store_for(app: Any) -> DbBucketStore:
    """The app's one shared bucket store (made on first use), keys digested under the
    vault's hash key."""
    store = app.extensions.get("hotline_bucket_store")
    if store is None:
        with _app_lock:
            store = app.extensions.get("hotline_bucket_store")
            if store is None:
                digest = keyed_digest(app.extensions["hotline_vault"].hash_key)
                store = app.extensions["hotline_bucket_store"] = DbBucketStore(digest)
    return store
