"""A server thread keeps its database connection between requests (opening and closing
one per request was half the non-NLU time of an SMS: docs/benchmarks.md), and nothing a
failed request left uncommitted carries over to the next one. Connections commit without
an fsync each (WAL + synchronous NORMAL)."""

from __future__ import annotations

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
