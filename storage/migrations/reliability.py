"""Crash safety of inbound dedupe: who holds a claim, and whether its message is logged.

``claimed_by`` names the process that claimed a provider message (host:pid:nonce), so a
restarted server can take over the claims of a process that was killed at once instead
of waiting for them to go stale; ``logged`` is set in the same transaction as the
message-log row, so a message handled again after a crash is never stored twice.
"""

from __future__ import annotations

import sqlite_utils


def _claim_owner(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE inbound_seen ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE inbound_seen ADD COLUMN logged INTEGER")


def _flood_buckets(db: sqlite_utils.Database) -> None:
    # storage/buckets.py: one token bucket per (limiter, digested key), shared by every
    # worker process. DOUBLE PRECISION, not REAL: PostgreSQL's REAL is 4 bytes, too
    # coarse for epoch seconds. Plain SQL that runs on SQLite and PostgreSQL alike.
    db.execute(
        "CREATE TABLE flood_buckets ("
        " limiter TEXT NOT NULL,"
        " bucket_key TEXT NOT NULL,"
        " tokens DOUBLE PRECISION NOT NULL,"
        " updated DOUBLE PRECISION NOT NULL,"
        " noticed_at DOUBLE PRECISION,"
        " rate DOUBLE PRECISION NOT NULL,"
        " burst DOUBLE PRECISION NOT NULL,"
        " notice_window DOUBLE PRECISION NOT NULL,"
        " allowed INTEGER NOT NULL,"
        " notified INTEGER NOT NULL,"
        " PRIMARY KEY (limiter, bucket_key))"
    )
    db.execute("CREATE INDEX flood_buckets_updated ON flood_buckets (limiter, updated)")


def _flood_buckets_unindexed(db: sqlite_utils.Database) -> None:
    # The bucket's UPSERT moves its row's `updated` on every message, and with it an
    # entry of this index: about two of the twelve pages an SMS writes to SQLite's WAL
    # (docs/benchmarks.md). Only the purge read it, once a minute per process, over a
    # table bounded at max_keys rows per limiter: a scan there is cheaper.
    db.execute("DROP INDEX IF EXISTS flood_buckets_updated")


MIGRATIONS = [
    ("reliability_001_claim_owner", _claim_owner),
    ("reliability_002_flood_buckets", _flood_buckets),
    ("reliability_003_flood_buckets_unindexed", _flood_buckets_unindexed),
]
