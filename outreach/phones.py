"""A WeChat subscriber's optional phone number, for SMS when WeChat will not deliver.

Stored like every contact (storage/migrations/outreach.py, ``outreach_004``): an HMAC
for lookup, an encrypted copy decrypted only at send time, and a masked one to show.
"""

from __future__ import annotations

import re
import unicodedata

import sqlite_utils

from outreach.groups import now_iso, valid_phone
from storage.db import checkpoint
from storage.privacy import Vault, mask

# A phone number as typed: digits with spaces, dashes or brackets, maybe +86.
_SPELLED_NUMBER = re.compile(r"\+?\d[\d \-()]{6,18}\d")


def set_phone(db: sqlite_utils.Database, vault: Vault, subscriber_id: int, phone: str) -> str:
    """Record the number (normalised) on the subscriber; returns it masked."""
    number = valid_phone(phone)
    if number is None:
        raise ValueError("not a mobile number")
    with db.atomic():
        db.table("subscribers").update(
            subscriber_id,
            {
                **vault.protect(number, "phone"),
                "updated_at": now_iso(),
            },
        )
    return mask(number)


def has_phone(db: sqlite_utils.Database, subscriber_id: int) -> bool:
    row = db.execute("SELECT phone_enc FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    return bool(row and row[0])


def phone_opted_out(db: sqlite_utils.Database, phone_hash: str | None) -> bool:
    """True when the number itself said T (by SMS, or at the carrier): no SMS to it,
    not even as a WeChat follower's fallback."""
    if not phone_hash:
        return False
    row = db.execute(
        "SELECT 1 FROM subscribers WHERE contact_hash = ? AND status = 'opted_out'", [phone_hash]
    ).fetchone()
    return row is not None


def redact_in_log(db: sqlite_utils.Database, sender_hash: str, number: str) -> None:
    """The villager typed their number as a message, and the dialogue logged it before
    we knew what it was: mask it in that logged message (messages, bot/conversations)."""
    row = db.execute(
        "SELECT id, text FROM messages WHERE sender_hash = ? AND direction = 'in' "
        "ORDER BY id DESC LIMIT 1",
        [sender_hash],
    ).fetchone()
    if not row or not row[1]:
        return
    logged = unicodedata.normalize("NFKC", row[1])  # full-width digits, as clean() did

    def masked(match: re.Match[str]) -> str:
        return mask(number) if valid_phone(match.group(0)) == number else match.group(0)

    redacted = _SPELLED_NUMBER.sub(masked, logged)
    if redacted != logged:
        with db.atomic():
            db.table("messages").update(row[0], {"text": redacted})
        checkpoint(db)  # the clear text is still in the WAL's earlier frames
