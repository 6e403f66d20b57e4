"""Tables of the conversation core: inbound dedupe, conversation state, message log,
and the subscription choice a villager makes by texting 订阅 / 退订."""

from __future__ import annotations

import sqlite_utils


def _001_conversations(db: sqlite_utils.Database) -> None:
    # sender_hash is HMAC(sender); the raw number or openid is never stored here.
    db.table("conversations").create(
        {
            "sender_hash": str,
            "channel": str,
            "state": str,  # JSON: pending form, last menu, follow-up page...
            "updated_at": str,
        },
        pk="sender_hash",
    )
    db.table("messages").create(
        {
            "id": int,
            "sender_hash": str,
            "channel": str,
            "direction": str,  # "in" or "out"
            "text": str,  # ID numbers are redacted before storing
            "intent": str,
            "confidence": float,
            "created_at": str,
        },
        pk="id",
    )
    db.table("messages").create_index(["sender_hash", "id"])
    # Providers retry (Twilio on errors, WeChat three times in 15 s): the first
    # answer is stored and replayed so a retry never produces a second reply.
    db.table("inbound_seen").create(
        {
            "provider": str,
            "message_id": str,
            "replies": str,  # JSON list of the replies given
            "received_at": str,
        },
        pk=("provider", "message_id"),
    )


def _002_subscribers(db: sqlite_utils.Database) -> None:
    db.table("subscribers").create(
        {
            "id": int,
            "contact_hash": str,  # HMAC of the phone number or openid
            "contact_enc": str,  # encrypted copy, only for sending
            "contact_masked": str,  # 138****1234, for dashboards
            "channel": str,  # sms / wechat / web
            "status": str,  # active / opted_out
            "village": str,
            "group_id": int,
            "consent_at": str,
            "consent_channel": str,
            "consent_by": str,  # "self" or who enrolled them
            "opted_out_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    db.table("subscribers").create_index(["contact_hash"], unique=True)


MIGRATIONS = [
    ("core_001_conversations", _001_conversations),
    ("core_002_subscribers", _002_subscribers),
]
