"""Tables of the scamcheck domain: messages villagers sent in (fingerprinted, to count
near-duplicates), who sent each in (keyed hashes only), police/bureau verdicts on a
number, link, message or team code, and who asked about each (to tell them once)."""

from __future__ import annotations

import sqlite_utils


def _001_seen(db: sqlite_utils.Database) -> None:
    # One row per distinct message (near-duplicates share it). ``text`` is the
    # normalised form with every run of digits masked: the scam's words, never a
    # recipient's number or code.
    db.table("scam_messages").create(
        {"id": int, "text": str, "first_seen_at": str, "last_seen_at": str},
        pk="id",
    )
    db.table("scam_messages").create_index(["last_seen_at"])
    # One row per (message, villager, day): counts only, never shown who.
    db.table("scam_sightings").create(
        {
            "id": int,
            "message_id": int,
            "sender_hash": str,  # Vault.hash of the sender (never the number/openid)
            "village": str,
            "channel": str,
            "day": str,  # Beijing date
            "seen_at": str,
        },
        pk="id",
        foreign_keys=[("message_id", "scam_messages", "id")],
    )
    db.table("scam_sightings").create_index(["message_id", "sender_hash", "day"], unique=True)
    db.table("scam_sightings").create_index(["seen_at"])


def _002_verdicts(db: sqlite_utils.Database) -> None:
    # A number, link, message or team code the police (or bureau, for codes) marked.
    # ``key`` is Vault.hash of the canonical value for numbers and links (as report
    # keys are), the message id for messages, the code itself for team codes.
    db.table("scam_verdicts").create(
        {
            "id": int,
            "kind": str,  # phone / url / message / code
            "key": str,
            "label": str,  # masked number, bare host, message preview, code
            "status": str,  # confirmed / cleared
            "by": str,
            "at": str,
        },
        pk="id",
    )
    db.table("scam_verdicts").create_index(["kind", "key"], unique=True)
    # Who asked about what: to send each of them one notice when a verdict comes.
    db.table("scam_asks").create(
        {
            "id": int,
            "kind": str,
            "key": str,
            "sender_hash": str,
            "channel": str,
            "contact_enc": str,  # Vault-encrypted address, deleted once notified or expired
            "asked_at": str,
            "notified_at": str,
            "notice_status": str,  # queued / sent / undeliverable / failed
        },
        pk="id",
    )
    db.table("scam_asks").create_index(["kind", "key", "sender_hash"], unique=True)
    db.table("scam_asks").create_index(["asked_at"])


def _003_feedback(db: sqlite_utils.Database) -> None:
    # "Did this help?" after a verdict: 1 有用 / 2 没用. 没用 rows are what supervisors
    # review (the message as the bot judged it, digits masked).
    db.table("scam_feedback").create(
        {
            "id": int,
            "helpful": int,
            "verdict": str,
            "signals": str,  # JSON list of kinds
            "text": str,  # normalised, digits masked
            "channel": str,
            "at": str,
            "reviewed_at": str,
        },
        pk="id",
    )
    db.table("scam_feedback").create_index(["helpful", "reviewed_at"])


MIGRATIONS = [
    ("scamcheck_001_seen", _001_seen),
    ("scamcheck_002_verdicts", _002_verdicts),
    ("scamcheck_003_feedback", _003_feedback),
]
