"""Police and bureau verdicts on what villagers asked about, and telling those who asked.

An officer marks a suspect's number, a link, a message villagers sent in, or a team's
code **confirmed** fraud or **cleared** (audited, accounts/audit.py). Everyone who asked
about it in the last 30 days is told once: their ask is queued here, then
``enqueue_notices`` turns the queued asks into one outbox row per person
(messaging/outbox.py, kind ``scam_verdict``), which the drain sends outside quiet hours
(21:00-08:00 Beijing) through the channel they asked on. Later lookups answer with the
verdict.

Keys are the report keys of reporting/link_keys.py (a keyed hash of the number or the
link's host), so a verdict given from a report page matches what villagers ask about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

import responses
from accounts import audit
from messaging import outbox
from reporting.link_keys import mask_number, stored_key, url_key
from storage.clock import now_iso
from storage.privacy import Vault

KINDS = ("phone", "url", "message", "code")
STATUSES = ("confirmed", "cleared")
NOTICE_DAYS = 30


@dataclass(frozen=True)
class Key:
    kind: str
    key: str  # what is stored and matched
    label: str  # what an officer sees (masked number, host, preview, code)


def phone_key(vault: Vault, digits: str) -> Key:
    return Key("phone", stored_key(vault, "phone", digits), mask_number(digits))


def url_key_of(vault: Vault, link: str) -> Key | None:
    found = url_key(link)
    if found is None:
        return None
    return Key("url", stored_key(vault, "url", found[0]), found[1])


def message_key(message_id: int, preview: str = "") -> Key:
    return Key("message", str(message_id), preview[:40])


def code_key(code: str) -> Key:
    return Key("code", code, code)


def keys_of(
    vault: Vault,
    *,
    phones: Iterable[str] = (),
    links: Iterable[str] = (),
    codes: Iterable[str] = (),
    message_id: int | None = None,
) -> list[Key]:
    """Everything in a judged text that can get a verdict."""
    keys = [phone_key(vault, p) for p in phones]
    keys += [k for k in (url_key_of(vault, u) for u in links) if k]
    keys += [code_key(c) for c in codes if c.startswith("YB-")]
    if message_id is not None:
        keys.append(message_key(message_id))
    return list({(k.kind, k.key): k for k in keys}.values())


def _ago(days: int) -> str:
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    return moment.isoformat(timespec="seconds")


def remember_asks(
    db: sqlite_utils.Database,
    vault: Vault,
    keys: Iterable[Key],
    *,
    sender_hash: str,
    channel: str,
    contact: str,
) -> None:
    """Note that this villager asked about ``keys`` (their address encrypted), so a
    verdict given within 30 days reaches them; asking again refreshes the date."""
    stamp = now_iso()
    contact_enc = vault.encrypt(contact)
    with db.atomic():
        for k in keys:
            db.execute(
                "INSERT INTO scam_asks (kind, key, sender_hash, channel, contact_enc, asked_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key, sender_hash) DO UPDATE SET"
                " asked_at = excluded.asked_at, channel = excluded.channel,"
                " contact_enc = CASE WHEN scam_asks.notified_at IS NULL"
                " THEN excluded.contact_enc ELSE scam_asks.contact_enc END",
                [k.kind, k.key, sender_hash, channel, contact_enc, stamp],
            )


def verdict(db: sqlite_utils.Database, keys: Iterable[Key]) -> dict[str, Any] | None:
    """The verdict on any of ``keys``: a confirmed fraud outranks a clearance."""
    found = []
    for k in keys:
        row = db.execute(
            "SELECT kind, label, status, at FROM scam_verdicts WHERE kind = ? AND key = ?",
            [k.kind, k.key],
        ).fetchone()
        if row:
            found.append(dict(zip(("kind", "label", "status", "at"), row, strict=True)))
    found.sort(key=lambda r: r["status"] != "confirmed")
    return found[0] if found else None


def mark(
    db: sqlite_utils.Database,
    key: Key,
    status: str,
    officer: dict[str, Any] | None,
    *,
    report_id: int | None = None,
    ip: str | None = None,
) -> int:
    """Give ``key`` a verdict (audited) and queue one notice for everyone who asked
    about it in the last 30 days and was not told yet; returns how many were queued."""
    if status not in STATUSES or key.kind not in KINDS:
        raise ValueError(f"bad verdict {key.kind}/{status}")
    stamp = now_iso()
    by = officer["username"] if officer else "cli"
    with db.atomic():
        db.execute(
            'INSERT INTO scam_verdicts (kind, key, label, status, "by", at)'
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET status = excluded.status,"
            ' "by" = excluded."by", at = excluded.at, label = excluded.label',
            [key.kind, key.key, key.label, status, by, stamp],
        )
        queued = db.execute(
            "UPDATE scam_asks SET notice_status = 'queued' WHERE kind = ? AND key = ?"
            " AND asked_at >= ? AND notified_at IS NULL AND notice_status IS NULL",
            [key.kind, key.key, _ago(NOTICE_DAYS)],
        ).rowcount
    audit.record(
        db, officer, f"scam_{status}", report_id, f"{key.kind} {key.label}; {queued} to tell", ip=ip
    )
    return int(queued)


@dataclass(frozen=True)
class Notice:
    ask_ids: tuple[int, ...]
    channel: str
    contact: str | None  # None: the address cannot be decrypted any more
    status: str  # the verdict the notice tells
    label: str
    sender_hash: str = ""


def due_notices(db: sqlite_utils.Database, vault: Vault, limit: int = 200) -> list[Notice]:
    """Queued notices, one per person (the worst verdict among their asks first): a
    villager who asked about a number and a link of the same gang hears once."""
    rows = db.execute(
        "SELECT a.id, a.sender_hash, a.channel, a.contact_enc, v.status, v.label"
        " FROM scam_asks a JOIN scam_verdicts v ON v.kind = a.kind AND v.key = a.key"
        " WHERE a.notice_status = 'queued' ORDER BY v.status = 'cleared', a.id LIMIT ?",
        [limit],
    ).fetchall()
    people: dict[str, list[Any]] = {}
    for row in rows:
        people.setdefault(row[1], []).append(row)
    notices = []
    for asks in people.values():
        first = asks[0]
        notices.append(
            Notice(
                tuple(a[0] for a in asks),
                first[2],
                vault.decrypt(first[3]) if first[3] else None,
                first[4],
                first[5],
                first[1],
            )
        )
    return notices


def notice_text(status: str, label: str) -> str:
    """The notice's words; the outbox drain adds the 尾号 marker when it goes by SMS."""
    return responses.catalogue("scamcheck")[f"notice_{status}"].format(label=label)


def enqueue_notices(db: sqlite_utils.Database, vault: Vault) -> int:
    """Turn the queued asks into outbox rows, one per person; returns how many rows.

    Once per person: a villager who asked about a number and a link of the same gang
    hears once, and so does one whose earlier notice is still waiting in the outbox
    (quiet hours): that row is kept, told the worse verdict if this one is. The asks
    are marked ``enqueued`` and their address deleted in the same transaction; from
    then on the outbox row is the record of the notice."""
    queued = 0
    for notice in due_notices(db, vault):
        with db.atomic():
            if notice.contact is None:
                mark_notified(db, notice, "undeliverable")
                continue
            waiting = db.execute(
                "SELECT id, source FROM outbox WHERE kind = 'scam_verdict' AND contact_hash = ?"
                " AND status = 'pending' ORDER BY id LIMIT 1",
                [notice.sender_hash],
            ).fetchone()
            if waiting is None:
                outbox.enqueue(
                    db,
                    vault,
                    kind="scam_verdict",
                    channel=notice.channel,
                    contact=notice.contact,
                    text=notice_text(notice.status, notice.label),
                    idem_key=f"scam_verdict:{min(notice.ask_ids)}",
                    contact_hash=notice.sender_hash,
                    source=f"scam:{notice.status}",
                )
                queued += 1
            elif notice.status == "confirmed" and waiting[1] != "scam:confirmed":
                # Still pending (not claimed): nothing is sending it, so it may change.
                db.execute(
                    "UPDATE outbox SET text = ?, source = ? WHERE id = ? AND status = 'pending'",
                    [notice_text(notice.status, notice.label), "scam:confirmed", waiting[0]],
                )
            mark_notified(db, notice, "enqueued")
    purge_expired(db)
    return queued


def mark_notified(db: sqlite_utils.Database, notice: Notice, outcome: str) -> None:
    """Record the send; the address is deleted (it was kept only for this notice)."""
    stamp = now_iso()
    with db.atomic():
        for ask_id in notice.ask_ids:
            db.table("scam_asks").update(
                ask_id, {"notified_at": stamp, "notice_status": outcome, "contact_enc": None}
            )


def purge_expired(db: sqlite_utils.Database) -> int:
    """Addresses of asks older than 30 days are deleted: no verdict can reach them now."""
    with db.atomic():
        return int(
            db.execute(
                "UPDATE scam_asks SET contact_enc = NULL WHERE asked_at < ? AND contact_enc"
                " IS NOT NULL AND notice_status IS NULL",
                [_ago(NOTICE_DAYS)],
            ).rowcount
        )


def report_keys(db: sqlite_utils.Database, report_id: int) -> list[dict[str, Any]]:
    """The numbers and links of a report an officer can give a verdict on, with the
    verdict they have and how many villagers asked about each (counts only)."""
    rows = db.execute(
        "SELECT l.id, l.kind, l.display, v.status,"
        " (SELECT count(*) FROM scam_asks a WHERE a.kind = l.kind AND a.key = l.key)"
        " FROM report_links l LEFT JOIN scam_verdicts v ON v.kind = l.kind AND v.key = l.key"
        " WHERE l.report_id = ? AND l.kind IN ('phone', 'url') ORDER BY l.kind, l.display",
        [report_id],
    ).fetchall()
    return [
        {"link_id": r[0], "kind": r[1], "display": r[2], "status": r[3], "asked": r[4]}
        for r in rows
    ]


def key_of_link(db: sqlite_utils.Database, report_id: int, link_id: int) -> Key | None:
    """The verdict key of one of ``report_id``'s links (None if it is not the report's)."""
    row = db.execute(
        "SELECT kind, key, display FROM report_links WHERE id = ? AND report_id = ?"
        " AND kind IN ('phone', 'url')",
        [link_id, report_id],
    ).fetchone()
    return Key(row[0], row[1], row[2]) if row else None


def incident_keys(db: sqlite_utils.Database, report_ids: list[int]) -> list[dict[str, Any]]:
    """The numbers and links of an incident's reports, one row each (with one of its
    reports to post the verdict to), their verdict and how many villagers asked."""
    rows = db.execute(
        # max(v.status): one verdict per key; a bare column would be SQLite-only SQL.
        "SELECT min(l.id), min(l.report_id), l.kind, min(l.display), max(v.status),"
        " (SELECT count(*) FROM scam_asks a WHERE a.kind = l.kind AND a.key = l.key)"
        " FROM report_links l LEFT JOIN scam_verdicts v ON v.kind = l.kind AND v.key = l.key"
        " WHERE l.report_id IN (SELECT value FROM json_each(?)) AND l.kind IN ('phone', 'url')"
        " GROUP BY l.kind, l.key ORDER BY l.kind, min(l.display)",
        ["[" + ",".join(str(int(i)) for i in report_ids) + "]"],
    ).fetchall()
    return [
        {"link_id": r[0], "report_id": r[1], "kind": r[2], "display": r[3], "status": r[4],
         "asked": r[5]}
        for r in rows
    ]  # fmt: skip
