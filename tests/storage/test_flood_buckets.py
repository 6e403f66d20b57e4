"""The flood limiter's buckets in the database (storage/buckets.py): the same decisions
as the in-memory store, message by message; keys stored digested; idle rows deleted and
the table bounded; one bucket however many connections (worker processes) ask."""

from __future__ import annotations

import random
import threading

import pytest

from storage import buckets
from storage.db import connect
from throttle import MemoryStore, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "hotline.db"
    connect(path).conn.close()
    return path


def db_store(path) -> buckets.DbBucketStore:
    local = threading.local()

    def connection():
        if getattr(local, "db", None) is None:
            local.db = connect(path, migrate_schema=False)
        return local.db

    return buckets.DbBucketStore(buckets.keyed_digest(b"k" * 32), connection)


def test_same_decisions_as_the_memory_store(db_path):
    clock = Clock()
    memory = RateLimiter(20, 3, clock=clock, notice_window=60.0, store=MemoryStore())
    shared = RateLimiter(20, 3, clock=clock, notice_window=60.0, store=db_store(db_path))
    rng = random.Random(17)
    decisions = []
    for _ in range(600):
        clock.t += rng.choice([0.0, 0.1, 0.5, 2.0, 3.0, 7.0, 65.0])
        sender = rng.choice(["a", "b", "c"])
        want, got = memory.check(sender), shared.check(sender)
        decisions.append((want.allowed, want.notify))
        assert (got.allowed, got.notify) == (want.allowed, want.notify)
        assert shared.exhausted(sender) == memory.exhausted(sender)
    # The sequence exercised every branch: allowed, limited with and without a notice.
    assert {(True, False), (False, True), (False, False)} <= set(decisions)


def test_a_flood_gets_the_burst_then_the_rate_and_one_notice(db_path):
    clock = Clock()
    limiter = RateLimiter(20, 10, clock=clock, store=db_store(db_path))
    allowed = notices = 0
    for _ in range(300):  # 300 in one minute
        clock.t += 0.2
        decision = limiter.check("flooder")
        allowed += decision.allowed
        notices += decision.notify
    assert 10 <= allowed <= 30
    assert notices == 1


def test_keys_are_stored_digested_and_limiters_kept_apart(db_path):
    clock = Clock()
    store = db_store(db_path)
    texts = RateLimiter(20, 1, clock=clock, store=store, name="texts")
    logins = RateLimiter(20, 1, clock=clock, store=store, name="logins")
    assert texts.check("+8613800000001").allowed
    assert not texts.check("+8613800000001").allowed
    assert logins.check("+8613800000001").allowed  # its own bucket
    db = connect(db_path, migrate_schema=False)
    rows = db.execute("SELECT limiter, bucket_key FROM flood_buckets").fetchall()
    assert sorted(r[0] for r in rows) == ["logins", "texts"]
    assert all("13800000001" not in r[1] and len(r[1]) == 64 for r in rows)


def test_idle_buckets_are_purged_and_the_table_is_bounded(db_path):
    clock = Clock()
    store = db_store(db_path)
    limiter = RateLimiter(60, 2, clock=clock, store=store, max_senders=50, notice_window=10)
    for i in range(200):
        clock.t += 0.001
        limiter.check(f"s{i}")
    db = connect(db_path, migrate_schema=False)
    assert buckets.purge(db, clock.t, limiter.limit) == 150  # only the cap applies yet
    assert len(limiter) == 50
    clock.t += 2.5  # the 50 kept are full again, past their window (none was noticed)
    assert buckets.purge(db, clock.t) == 50
    limiter.check("busy")
    limiter.check("busy")
    assert limiter.check("busy").notify  # limited: noticed now
    clock.t += 5  # full again after 2 s, but its notice window runs 10 s
    assert buckets.purge(db, clock.t) == 0
    assert len(limiter) == 1
    clock.t += 10
    assert buckets.purge(db, clock.t) == 1
    assert len(limiter) == 0


def test_many_connections_share_one_bucket(db_path):
    """Eight threads, each with its own connection (as eight worker processes would
    be), hammer one sender with the clock standing still: exactly the burst passes."""
    clock = Clock()
    allowed = []
    lock = threading.Lock()

    def hammer() -> None:
        limiter = RateLimiter(20, 10, clock=clock, store=db_store(db_path))
        for _ in range(25):
            decision = limiter.check("one-sender")
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 200 and sum(allowed) == 10


def test_a_take_writes_no_secondary_index(db_path):
    """Each message's UPSERT moves the bucket's `updated`: an index on it cost two of the
    dozen WAL pages an SMS writes (storage/migrations/reliability.py). Only the primary
    key's own index is left, and the bounded purge still works without it."""
    db = connect(db_path, migrate_schema=False)
    indexes = db.execute("PRAGMA index_list(flood_buckets)").fetchall()
    assert [row[3] for row in indexes] == ["pk"], indexes  # origin: the PRIMARY KEY
    store = db_store(db_path)
    limit = RateLimiter(60.0, 2, max_senders=3, store=store).limit
    for key in range(10):
        store.take(limit, f"k{key}", 1_700_000_000.0 + key)
    buckets.purge(db, 1_700_000_010.0, limit)
    assert db.execute("SELECT count(*) FROM flood_buckets").fetchone()[0] <= 3
