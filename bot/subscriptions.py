"""A villager's choice to receive anti-fraud tips, or to stop them.

Opt-out words are a carrier rule, not a matter of understanding: T, TD, R, 退订,
取消订阅, STOP, UNSUBSCRIBE in any case always unsubscribe, model or no model.
"""

from __future__ import annotations

import re

import sqlite_utils

from storage.clock import now_iso as now
from storage.privacy import Vault

OPT_OUT_WORDS = frozenset({"t", "td", "r", "退订", "取消订阅", "stop", "unsubscribe"})
OPT_IN_WORDS = frozenset({"订阅", "start"})


# Words that point the other way from a parse of subscribe / unsubscribe. A message
# holding both ("不是退订 我是想开通", "之前取消了 再帮我订上") is where a linear model
# flips a subscription, so such a parse is asked about first ("回1确认"), never done.
_AGAINST = {
    # read as subscribe, but it says stop: 退订 (also its homophones, by sound), 取消,
    # a negated 想收/要收/订 (Mandarin 不/别/没, Cantonese 冇/唔), 停
    "subscribe": re.compile(
        r"退订|取消|停|[不别没冇唔莫](?:想|要|用|再)*(?:给我|给俺|给)?[收发订]"
    ),
    # read as unsubscribe, but it asks to start or resume ("不想收了" is no such ask,
    # hence the negation look-behind)
    "unsubscribe": re.compile(
        r"不是退|(?<![不别没冇唔莫])(?:开通|订上|重新订|再订|恢复|继续收|还想收|想收|要收)"
    ),
}
_AGAINST_SOUNDS = {"subscribe": re.compile(r"tuiding|quxiao")}


def contrary(intent: str, text: str, sounds: str = "") -> bool:
    """True when ``text`` (and its pinyin ``sounds``, if given) also says the opposite
    of ``intent`` (subscribe / unsubscribe)."""
    words = _AGAINST.get(intent)
    if words is None:
        return False
    by_sound = _AGAINST_SOUNDS.get(intent)
    return bool(words.search(text) or (by_sound and by_sound.search(sounds)))


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
            db["subscribers"].update(row[0], record)
        else:
            db["subscribers"].insert(record)
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
            db["subscribers"].update(
                row[0], {"status": "opted_out", "opted_out_at": now(), "updated_at": now()}
            )
        else:
            db["subscribers"].insert(
                {
                    **vault.protect(contact),
                    "channel": channel,
                    "status": "opted_out",
                    "opted_out_at": now(),
                    "updated_at": now(),
                }
            )
    return True
