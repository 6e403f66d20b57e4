"""The one outbox carries every message the hotline starts, not only campaign pushes.

A row has a ``kind`` (tip / alert / report_update / scam_verdict) and a ``priority``
(higher first): a reporter's notice does not wait behind a county's weekly tips.
Rows outside a campaign (reporter and verdict notices) carry their own recipient, kept
like every contact (``contact_hash`` for lookups, ``contact_enc`` for sending,
``contact_masked`` for screens), the channel that contact is on, an optional SMS number
for a WeChat recipient (``phone_*``) and their own ``text``; their campaign and
subscriber are NULL. ``source`` names what the row tells about (``report:12``).
The code is messaging/outbox.py (enqueue) and bot/outreach/outbox.py (drain).
"""

from __future__ import annotations

import sqlite_utils

# Mirrors messaging.outbox.PRIORITY at the time of this migration (not imported: a
# migration must not change when the code does).
_PRIORITY = {"alert": 30, "report_update": 20, "scam_verdict": 10, "tip": 0}


def _001_outbox_kinds(db: sqlite_utils.Database) -> None:
    outbox = db["outbox"]
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


MIGRATIONS = [("messaging_001_outbox_kinds", _001_outbox_kinds)]
