"""Conversation state, the message log, and inbound dedupe, keyed by the sender's hash."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

import sqlite_utils

from storage.clock import now_iso as now
from storage.privacy import redact_id_numbers

# What we keep of one message; the dialogue reads less than this (see dialogue.MAX_TEXT).
MAX_STORED = 4000
# A claimed message with no answer after this long was dropped by a crash.
STALE_CLAIM_S = 60


def load_state(db: sqlite_utils.Database, sender_hash: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT state FROM conversations WHERE sender_hash = ?", [sender_hash]
    ).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def save_state(
    db: sqlite_utils.Database, sender_hash: str, channel: str, state: dict[str, Any]
) -> None:
    with db.conn:
        db["conversations"].upsert(
            {
                "sender_hash": sender_hash,
                "channel": channel,
                "state": json.dumps(state, ensure_ascii=False),
                "updated_at": now(),
            },
            pk="sender_hash",
        )


def log_message(
    db: sqlite_utils.Database,
    sender_hash: str,
    channel: str,
    direction: str,
    text: str,
    intent: str | None = None,
    confidence: float | None = None,
) -> int:
    """Append to the message log (ID numbers redacted); return the row id."""
    with db.conn:
        return (
            db["messages"]
            .insert(
                {
                    "sender_hash": sender_hash,
                    "channel": channel,
                    "direction": direction,
                    "text": redact_id_numbers(text[:MAX_STORED]),
                    "intent": intent,
                    "confidence": confidence,
                    "created_at": now(),
                }
            )
            .last_pk
        )


def claim_message(db: sqlite_utils.Database, provider: str, message_id: str) -> list[str] | None:
    """Claim a provider message id. None: first time, go ahead. A list: already seen,
    these are the replies it got (empty while the first delivery is still running)."""
    try:
        with db.conn:
            db.execute(
                "INSERT INTO inbound_seen (provider, message_id, replies, received_at)"
                " VALUES (?, ?, NULL, ?)",
                [provider, message_id, now()],
            )
        return None
    except sqlite3.IntegrityError:
        row = db.execute(
            "SELECT replies, received_at FROM inbound_seen WHERE provider = ? AND message_id = ?",
            [provider, message_id],
        ).fetchone()
    if row and row[0]:
        return json.loads(row[0])
    # Claimed but never answered. Still running, or the process died mid-way: a claim
    # that old is taken over, so the provider's retry gets the message handled.
    stale = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=STALE_CLAIM_S)).isoformat(
        timespec="seconds"
    )
    with db.conn:
        taken = db.execute(
            "UPDATE inbound_seen SET received_at = ? WHERE provider = ? AND message_id = ?"
            " AND replies IS NULL AND received_at < ?",
            [now(), provider, message_id, stale],
        ).rowcount
    return None if taken else []


def remember_replies(
    db: sqlite_utils.Database, provider: str, message_id: str, replies: list[str]
) -> None:
    with db.conn:
        db.execute(
            "UPDATE inbound_seen SET replies = ? WHERE provider = ? AND message_id = ?",
            [json.dumps(replies, ensure_ascii=False), provider, message_id],
        )
