"""A server thread keeps its database connection between requests (opening and closing
one per request was half the non-NLU time of an SMS: docs/benchmarks.md), and nothing a
failed request left uncommitted carries over to the next one. Connections commit without
an fsync each (WAL + synchronous NORMAL)."""

from __future__ import annotations

import pytest

from storage.db import get_db


def test_requests_on_one_thread_reuse_the_connection(degraded_app):
    with degraded_app.app_context():
        first = get_db()
    with degraded_app.app_context():
        second = get_db()
    assert second is first
    assert second.execute("SELECT 1").fetchone() == (1,)  # handed back open


def test_a_nested_app_context_gets_its_own_connection(degraded_app):
    with degraded_app.app_context():
        outer = get_db()
        with degraded_app.app_context():
            inner = get_db()
        assert inner is not outer
        assert outer.execute("SELECT 1").fetchone() == (1,)


def test_uncommitted_writes_are_rolled_back_at_teardown(degraded_app):
    with degraded_app.app_context():
        db = get_db()
        if db.dialect == "postgresql":  # autocommit: a transaction is only ever explicit
            db.conn.execute("BEGIN")
        db.conn.execute(  # plain sqlite3: opens a transaction (sqlite_utils would commit)
            "INSERT INTO messages (sender_hash, channel, direction, text, created_at) "
            "VALUES ('h', 'sms', 'in', 'half-written', '2025-01-01')"
        )
        assert db.conn.in_transaction
    with degraded_app.app_context():
        again = get_db()
        assert not again.conn.in_transaction
        count = again.execute("SELECT count(*) FROM messages WHERE text = 'half-written'")
        assert count.fetchone()[0] == 0


def test_webhooks_still_answer_and_store_with_a_kept_connection(degraded_app, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613812345678")
    for _ in range(3):
        assert phone.send("你好")
    with degraded_app.app_context():
        count = get_db().execute("SELECT count(*) FROM messages WHERE direction = 'in'")
        assert count.fetchone()[0] == 3


def test_connections_use_wal_without_an_fsync_per_commit(tmp_path):
    from storage.db import connect

    db = connect(tmp_path / "h.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    db.conn.close()


def test_the_next_request_takes_the_connection_the_last_one_handed_back(degraded_app):
    """Most recently used first, whichever thread asks: SQLite drops a connection's page
    cache when another connection wrote since, so server threads taking turns on
    connections of their own read every page again (docs/benchmarks.md)."""
    import threading

    seen = []

    def request() -> None:
        with degraded_app.app_context():
            seen.append(get_db())

    for _ in range(4):  # one after another, each on a new thread
        worker = threading.Thread(target=request)
        worker.start()
        worker.join()
    assert all(db is seen[0] for db in seen)


def test_connections_beyond_the_idle_bound_are_closed(degraded_app, monkeypatch):
    from storage import db as storage_db

    monkeypatch.setattr(storage_db, "MAX_IDLE_CONNECTIONS", 2)
    contexts = [degraded_app.app_context() for _ in range(3)]
    opened = []
    for ctx in contexts:  # three at once (nested contexts), handed back in turn
        ctx.push()
        opened.append(get_db())
    for ctx in reversed(contexts):
        ctx.pop()
    kept = storage_db.idle_connections(degraded_app).connections
    assert len(kept) == 2 and all(db in opened for db in kept)
    (closed,) = [db for db in opened if db not in kept]
    with pytest.raises(Exception):  # noqa: B017 - sqlite3 and psycopg raise their own
        closed.execute("SELECT 1").fetchone()


def test_a_forked_worker_never_takes_its_parents_connections(degraded_app, monkeypatch):
    """hotline serve forks its workers from the process that built the app: a
    connection the parent left idle is the parent's (SQLite locks, PostgreSQL session)."""
    from storage import db as storage_db

    with degraded_app.app_context():
        parents = get_db()
    monkeypatch.setattr(storage_db.os, "getpid", lambda: -1)  # as in a forked child
    with degraded_app.app_context():
        childs = get_db()
    assert childs is not parents
    assert parents in storage_db._INHERITED  # kept, not closed by the child
    assert parents.execute("SELECT 1").fetchone() == (1,)
    with degraded_app.app_context():
        assert get_db() is childs  # the child's own are reused as before
