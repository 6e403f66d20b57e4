"""A push row is unique by (campaign, subscriber), a message row by its idem_key; the
outbox's lookups keep their indexes after the indexes a push writes were thinned
(storage/migrations/messaging.py, 003). On both engines."""

from __future__ import annotations

import sqlite3

import pytest

from messaging import outbox as messages
from outreach import campaigns
from storage.db import connect
from tests.helpers.outreach import DAYTIME, VAULT, enroll, numbers

pytestmark = pytest.mark.database


@pytest.fixture
def db(database_url, tmp_path):
    database = connect(database_url or tmp_path / "hotline.db")
    yield database
    database.conn.close()


def _alert(db, key: str = "alert:test") -> campaigns.Planned:
    return campaigns.plan(
        db,
        kind="alert",
        scope_type="county",
        scope_value="平南县",
        created_by="t",
        key=key,
        text="有人冒充公安要转账，别转",
        now=DAYTIME,
    )


def _push_row(db, campaign_id: int, subscriber_id: int, idem_key: str) -> None:
    db.execute(
        "INSERT INTO outbox (campaign_id, subscriber_id, idem_key, status, kind, channel) "
        "VALUES (?, ?, ?, 'pending', 'alert', 'sms')",
        [campaign_id, subscriber_id, idem_key],
    )


def test_a_second_row_for_the_same_campaign_and_subscriber_is_refused(db):
    enroll(db, numbers(3))
    planned = _alert(db)
    sid = db.execute("SELECT MIN(subscriber_id) FROM outbox").fetchone()[0]
    # Another key, the same recipient of the same push: a second message to them.
    with pytest.raises(sqlite3.IntegrityError), db.atomic():
        _push_row(db, planned.campaign_id, sid, f"other:{sid}")
    second = _alert(db, key="alert:second")  # another push may reach them
    assert db.execute("SELECT COUNT(*) FROM outbox WHERE subscriber_id = ?", [sid]).fetchone() == (
        2,
    )
    assert second.recipients == 3


def test_a_row_already_there_makes_the_plan_fail_whole_not_skip_a_recipient(db):
    enroll(db, numbers(4))
    sid = db.execute("SELECT MIN(id) FROM subscribers").fetchone()[0]
    # A row of the campaign about to be planned (id 1: the first), planted: no code
    # path makes one, but were it there, leaving that villager out would be silent.
    if db.dialect == "sqlite":
        db.execute("PRAGMA foreign_keys = OFF")
    with db.atomic():
        _push_row(db, 1, sid, "planted:1")
    if db.dialect == "sqlite":
        db.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError):
        _alert(db)
    assert db.execute("SELECT COUNT(*) FROM campaigns").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (1,)  # the planted one


def test_a_message_key_is_its_own_even_when_a_push_row_has_the_same_text(db):
    enroll(db, numbers(2))
    _alert(db)
    push_key, push_id = db.execute("SELECT idem_key, id FROM outbox ORDER BY id LIMIT 1").fetchone()
    db.execute("UPDATE outbox SET status = 'sent' WHERE id = ?", [push_id])
    first = messages.enqueue(
        db,
        VAULT,
        kind="report_update",
        channel="sms",
        contact="13900000001",
        text="您的举报已收到",
        idem_key=push_key,
    )
    assert first[0] != push_id and first[1] == "pending"
    again = messages.enqueue(
        db,
        VAULT,
        kind="report_update",
        channel="sms",
        contact="13900000001",
        text="您的举报已收到",
        idem_key=push_key,
    )
    assert again == first  # once per key
    assert messages.status_of(db, push_key) == "pending"  # the message's, not the push's
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (3,)


def _plan_text(db, sql: str, params: list) -> str:
    if db.dialect == "postgresql":
        db.execute("SET enable_seqscan = off")  # a tiny table: say which index it would use
        try:
            rows = db.execute("EXPLAIN " + sql, params).fetchall()
        finally:
            db.execute("SET enable_seqscan = on")
        return "\n".join(r[0] for r in rows)
    return "\n".join(str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + sql, params))


@pytest.mark.parametrize(
    ("sql", "params", "index"),
    [
        (  # messaging.outbox.enqueue: is this key queued already?
            "SELECT id, status FROM outbox WHERE idem_key = ? AND campaign_id IS NULL",
            ["report:1"],
            "idx_outbox_idem_key",
        ),
        (  # outreach.outbox.apply_status: the row a delivery receipt names
            "SELECT o.id FROM outbox o LEFT JOIN subscribers s ON s.id = o.subscriber_id "
            "WHERE o.provider_id = ?",
            ["SM1"],
            "idx_outbox_provider_id",
        ),
        (  # reporting.scam_verdicts: a verdict notice already queued for this contact
            "SELECT id, source FROM outbox WHERE kind = 'scam_verdict' AND contact_hash = ?",
            ["h"],
            "idx_outbox_contact_hash_kind_status",
        ),
        (  # outreach.outbox.claim_sql
            "SELECT id FROM outbox WHERE status = 'pending' AND urgent = ? "
            "AND next_attempt_at <= ? ORDER BY priority DESC, id LIMIT 10",
            [1, "2025-03-04T02:00:00+00:00"],
            "idx_outbox_claim_order",
        ),
        (  # a campaign's progress
            "SELECT status, COUNT(*) FROM outbox WHERE campaign_id = ? GROUP BY status",
            [1],
            "idx_outbox_campaign",
        ),
    ],
)
def test_the_outbox_lookups_still_use_an_index(db, sql, params, index):
    assert index in _plan_text(db, sql, params)


def test_a_database_with_rows_upgrades_to_the_new_indexes(database_url, tmp_path, monkeypatch):
    from storage import schema

    target = database_url or tmp_path / "old.db"
    older = [m for m in schema.MIGRATIONS if m[0] != "messaging_003_outbox_push_indexes"]
    monkeypatch.setattr(schema, "MIGRATIONS", older)
    old = connect(target)
    enroll(old, numbers(3))
    planned = _alert(old)
    messages.enqueue(
        old,
        VAULT,
        kind="report_update",
        channel="sms",
        contact="13900000009",
        text="您的举报已收到",
        idem_key="report:9:received",
    )
    old.conn.close()
    monkeypatch.undo()
    db = connect(target)  # applies 003 over the rows there
    try:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (4,)
        with pytest.raises(sqlite3.IntegrityError), db.atomic():
            sid = db.execute("SELECT MIN(subscriber_id) FROM outbox").fetchone()[0]
            _push_row(db, planned.campaign_id, sid, "again")
        first = db.execute("SELECT id FROM outbox WHERE idem_key = 'report:9:received'").fetchone()[
            0
        ]
        again = messages.enqueue(
            db,
            VAULT,
            kind="report_update",
            channel="sms",
            contact="13900000009",
            text="您的举报已收到",
            idem_key="report:9:received",
        )
        assert again[0] == first
    finally:
        db.conn.close()
