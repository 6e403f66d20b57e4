"""The one outbox carries every message the hotline starts, not only campaign pushes.

A row has a ``kind`` (tip / alert / report_update / scam_verdict / late_answer) and a
``priority`` (higher first): a reporter's notice does not wait behind a county's tips.
Rows outside a campaign (reporter and verdict notices) carry their own recipient, kept
like every contact (``contact_hash`` for lookups, ``contact_enc`` for sending,
``contact_masked`` for screens), the channel that contact is on, an optional SMS number
for a WeChat recipient (``phone_*``) and their own ``text``; their campaign and
subscriber are NULL. ``source`` names what the row tells about (``report:12``).
The code is messaging/outbox.py (enqueue) and outreach/outbox.py (drain).
"""

from __future__ import annotations

import datetime as dt
import json

import sqlite_utils

# Mirrors messaging.outbox.PRIORITY at the time of this migration (not imported: a
# migration must not change when the code does).
_PRIORITY = {"alert": 30, "report_update": 20, "scam_verdict": 10, "tip": 0}


def _001_outbox_kinds(db: sqlite_utils.Database) -> None:
    outbox = db.table("outbox")
    for column in (
        "kind",
        "contact_hash",
        "contact_enc",
        "contact_masked",
        "contact_channel",
        "phone_hash",
        "phone_enc",
        "text",
        "source",
    ):
        outbox.add_column(column, str)
    outbox.add_column("priority", int, not_null_default=0)
    db.execute(
        "UPDATE outbox SET kind = (SELECT c.kind FROM campaigns c WHERE c.id = outbox.campaign_id)"
    )
    for kind, priority in _PRIORITY.items():
        db.execute("UPDATE outbox SET priority = ? WHERE kind = ?", [priority, kind])
    # Claims take pending rows urgent first, then by priority, then in order of arrival.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_outbox_claim_order "
        "ON outbox (status, urgent, priority DESC, id)"
    )
    outbox.create_index(["contact_hash", "kind", "status"])
    outbox.create_index(["source"])


def _002_late_answers_from_wechat_pending(db: sqlite_utils.Database) -> None:
    # Late WeChat answers had a queue and retry job of their own (wechat_pending); they
    # are outbox rows of kind late_answer now, drained like every message. Answers still
    # to send move over, due now; one a dead process was sending ('sending') may have
    # gone out, so it becomes 'unknown', never resent. Then the old table goes: the
    # outbox is the one record of every attempt.
    if "wechat_pending" not in db.table_names():
        return
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    rows = db.execute(
        "SELECT p.id, p.msg_key, p.openid_hash, p.replies, p.status, p.attempts,"
        " p.error_code, u.openid_enc, u.openid_masked FROM wechat_pending p"
        " JOIN wechat_users u ON u.openid_hash = p.openid_hash"
        " WHERE p.status IN ('pending', 'failed', 'sending') AND u.openid_enc IS NOT NULL"
    ).fetchall()
    for row_id, key, openid_hash, replies, status, attempts, error, enc, masked in rows:
        db.table("outbox").insert(
            {
                "idem_key": f"late:wechat:{key or row_id}",
                "kind": "late_answer",
                "priority": 25,  # messaging.outbox.PRIORITY["late_answer"] at this time
                "urgent": 1,
                "channel": "wechat",
                "contact_channel": "wechat",
                "text": "\n\n".join(json.loads(replies or "[]")),
                "source": "wechat",
                "status": "unknown" if status == "sending" else "pending",
                "error_code": "crash_during_send" if status == "sending" else error,
                "attempts": attempts or 0,
                "next_attempt_at": stamp,
                "updated_at": stamp,
                "contact_hash": openid_hash,
                "contact_enc": enc,
                "contact_masked": masked,
            },
            ignore=True,
        )
    db.table("wechat_pending").drop()


def _003_outbox_push_indexes(db: sqlite_utils.Database) -> None:
    """A push writes one outbox row per recipient, a million for a province, and every
    index and foreign key on the outbox is written or checked once per row. Profiled on
    PostgreSQL (docs/benchmarks.md, "The million-recipient push"), the eight indexes,
    the ``ON CONFLICT`` arbiter and the campaign foreign key were most of a 1,000,000-row
    push's 20 s; the table scan that found the recipients was 0.4 s. So:

    - ``(status, urgent, id)`` goes: ``idx_outbox_claim_order`` (status, urgent,
      priority DESC, id) serves every query it served, the claim among them.
    - ``source`` goes: nothing looks rows up by it.
    - ``provider_id`` (set once sent) and ``contact_hash`` (rows outside a campaign)
      are NULL on every push row: partial indexes, ``WHERE ... IS NOT NULL``; every
      lookup compares them with ``=``, which both engines know implies it.
    - Uniqueness of a push row is ``(campaign_id, subscriber_id)``: its idem_key is
      ``<campaign key>:<subscriber id>`` and the campaign key is unique, so the two are
      the same constraint, and a push appends to this index in id order where the
      text key landed all over a cold index. ``idem_key`` stays unique for the rows
      outside a campaign, whose keys the callers choose (messaging.outbox.enqueue).
    - PostgreSQL only: the foreign key to ``campaigns`` goes (a trigger call per row,
      3.2 s a million). The one writer of ``campaign_id`` is ``campaigns.plan``, with
      the id of the campaign it inserted in the same transaction, and campaigns are
      never deleted. SQLite checks its foreign key in the insert itself, at no
      measurable cost, and dropping it there would copy the table; it stays."""
    for name in (
        "idx_outbox_status_urgent_id",
        "idx_outbox_source",
        "idx_outbox_provider_id",
        "idx_outbox_contact_hash_kind_status",
        "idx_outbox_idem_key",
    ):
        db.execute(f"DROP INDEX IF EXISTS {name}")
    db.execute(
        "CREATE INDEX idx_outbox_provider_id ON outbox (provider_id) WHERE provider_id IS NOT NULL"
    )
    db.execute(
        "CREATE INDEX idx_outbox_contact_hash_kind_status ON outbox (contact_hash, kind, status)"
        " WHERE contact_hash IS NOT NULL"
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_outbox_idem_key ON outbox (idem_key) WHERE campaign_id IS NULL"
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_outbox_campaign_subscriber ON outbox (campaign_id, subscriber_id)"
        " WHERE campaign_id IS NOT NULL"
    )
    if getattr(db, "dialect", "sqlite") == "postgresql":
        db.execute("ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_campaign_id_fkey")


MIGRATIONS = [
    ("messaging_001_outbox_kinds", _001_outbox_kinds),
    ("messaging_002_late_answers_from_wechat_pending", _002_late_answers_from_wechat_pending),
    ("messaging_003_outbox_push_indexes", _003_outbox_push_indexes),
]
