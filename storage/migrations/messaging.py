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


MIGRATIONS = [
    ("messaging_001_outbox_kinds", _001_outbox_kinds),
    ("messaging_002_late_answers_from_wechat_pending", _002_late_answers_from_wechat_pending),
]
