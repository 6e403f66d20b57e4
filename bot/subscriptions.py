"""A villager's choice to receive anti-fraud tips, or to stop them.

Opt-out words are a carrier rule, not a matter of understanding: T, TD, R, 退订,
取消订阅, STOP, UNSUBSCRIBE in any case always unsubscribe, model or no model.
"""

from __future__ import annotations

import sqlite_utils

from storage.clock import now_iso as now
from storage.privacy import Vault

OPT_OUT_WORDS = frozenset({"t", "td", "r", "退订", "取消订阅", "stop", "unsubscribe"})
OPT_IN_WORDS = frozenset({"订阅", "start"})


def command_intent(text: str) -> str | None:
    """'unsubscribe' / 'subscribe' when the whole message is an opt-out / opt-in word."""
    word = text.strip().casefold()
    if word in OPT_OUT_WORDS:
        return "unsubscribe"
    if word in OPT_IN_WORDS:
        return "subscribe"
    return None


def subscribe(
    db: sqlite_utils.Database,
    vault: Vault,
    contact: str,
    channel: str,
    *,
    by: str = "self",
    village: str | None = None,
) -> bool:
    """Record consent to receive tips; False when already subscribed."""
    contact_hash = vault.hash(contact)
    row = db.execute(
        "SELECT id, status FROM subscribers WHERE contact_hash = ?", [contact_hash]
    ).fetchone()
    if row and row[1] == "active":
        return False
    record = {
        **vault.protect(contact),
        "channel": channel,
        "status": "active",
        "consent_at": now(),
        "consent_channel": channel,
        "consent_by": by,
        "opted_out_at": None,
        "updated_at": now(),
    }
    if village:
        record["village"] = village
    with db.atomic():
        if row:
            db.table("subscribers").update(row[0], record)
        else:
            db.table("subscribers").insert(record)
    return True


def unsubscribe(db: sqlite_utils.Database, vault: Vault, contact: str, channel: str) -> bool:
    """Stop every push to ``contact`` at once; False when it was already stopped.

    A number with no subscription is recorded as opted out too, so a later bulk
    enrollment by a cadre cannot sign it up again without the villager's word.
    """
    contact_hash = vault.hash(contact)
    with db.atomic():
        row = db.execute(
            "SELECT id, status FROM subscribers WHERE contact_hash = ?", [contact_hash]
        ).fetchone()
        if row and row[1] == "opted_out":
            return False
        if row:
            db.table("subscribers").update(
                row[0], {"status": "opted_out", "opted_out_at": now(), "updated_at": now()}
            )
        else:
            db.table("subscribers").insert(
                {
                    **vault.protect(contact),
                    "channel": channel,
                    "status": "opted_out",
                    "opted_out_at": now(),
                    "updated_at": now(),
                }
            )
    return True
