"""Putting a message in the outbox: one row per message, sent later by the drain.

The drain (outreach/outbox.py) sends each row exactly once (claim -> sending ->
sent / unknown after a crash), retries passing failures with backoff, and switches a
WeChat row that WeChat refuses (48-hour window) to SMS when a number is known. So a
domain that wants someone told only writes a row here, in its own short transaction,
and never calls a provider inside a web request: a failed send stays in the outbox and
is retried by the next drain.

``wake`` asks the process's scheduler, if one runs here, to drain at once (urgent kinds
should not wait for the minute tick); without one the next tick sends the row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import sqlite_utils

from storage.privacy import Vault, mask

log = logging.getLogger(__name__)

KINDS = ("tip", "alert", "report_update", "scam_verdict", "late_answer", "reply")
# Higher goes first among rows due at once: the answer to an SMS the villager just sent
# through a gateway whose webhook answer cannot carry it (Aliyun, Tencent), an urgent
# alert, then an answer a villager is waiting for (a photo read after the webhook
# returned), a reporter's notice, a verdict notice, then the weekly tips (urgent rows
# are claimed first anyway).
PRIORITY = {
    "reply": 40,
    "alert": 30,
    "late_answer": 25,
    "report_update": 20,
    "scam_verdict": 10,
    "tip": 0,
}
PUSH_CHANNELS = ("sms", "wechat")
# error_code of a row whose recipient's channel cannot be pushed to (web chat).
NO_PUSH_CHANNEL = "no_push_channel"

_waker: Callable[[], None] | None = None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """The one spelling of times in the outbox: UTC, microseconds, sortable as text."""
    if moment.tzinfo is None:
        raise ValueError("outbox times need an aware datetime (naive times are ambiguous)")
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def enqueue(
    db: sqlite_utils.Database,
    vault: Vault,
    *,
    kind: str,
    channel: str,
    contact: str,
    text: str,
    idem_key: str,
    urgent: bool = False,
    contact_hash: str | None = None,
    phone: str | None = None,
    source: str | None = None,
    not_before: dt.datetime | None = None,
) -> tuple[int, str]:
    """Queue one message to ``contact`` on ``channel``; returns (row id, status).

    ``idem_key`` makes it once: a second call with the same key returns the first row.
    ``text`` is the body; the drain adds what depends on the channel it finally goes by
    (the 尾号 marker on a verdict notice sent by SMS). A channel nothing can push to
    (web chat) is recorded at once as ``undeliverable``, so every notice has a record.
    ``urgent`` rows are sent in quiet hours too. Call it inside the caller's transaction
    to land with the caller's own writes; ``wake`` after the commit."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    stamp = iso(utcnow())
    pushable = channel in PUSH_CHANNELS
    row = {
        "idem_key": idem_key,
        "kind": kind,
        "priority": PRIORITY[kind],
        "urgent": int(urgent),
        "channel": channel,
        "contact_channel": channel,
        "text": text,
        "source": source,
        "status": "pending" if pushable else "undeliverable",
        "error_code": None if pushable else NO_PUSH_CHANNEL,
        "attempts": 0,
        "next_attempt_at": iso(not_before) if not_before else stamp,
        "updated_at": stamp,
        "contact_hash": contact_hash or vault.hash(contact),
        "contact_masked": mask(contact),
        # An address we cannot push to is not kept: nothing will ever use it.
        "contact_enc": vault.encrypt(contact) if pushable else None,
    }
    if phone and pushable:
        row.update(phone_hash=vault.hash(phone), phone_enc=vault.encrypt(phone))
    with db.atomic():
        db.table("outbox").insert(row, ignore=True)
        # campaign_id IS NULL: the rows whose idem_key is unique (a push row's is unique
        # with its campaign and subscriber), and the partial index that holds them.
        found = db.execute(
            "SELECT id, status FROM outbox WHERE idem_key = ? AND campaign_id IS NULL",
            [idem_key],
        ).fetchone()
    log.info("outbox: %s to %s queued (%s)", kind, row["contact_masked"], found[1])
    return int(found[0]), str(found[1])


def set_waker(waker: Callable[[], None] | None) -> None:
    """The scheduler of this process registers how to drain now (None: it stopped)."""
    global _waker
    _waker = waker


def wake() -> bool:
    """Ask for a drain now, outside the caller's request and transaction; False when no
    scheduler runs in this process (the next tick of the one that runs sends it)."""
    if _waker is None:
        return False
    try:
        _waker()
    except Exception:  # the row is safe in the outbox: the next tick sends it
        log.exception("could not wake the outbox drain")
        return False
    return True


def status_of(db: sqlite_utils.Database, idem_key: str) -> str | None:
    row = db.execute(
        "SELECT status FROM outbox WHERE idem_key = ? AND campaign_id IS NULL", [idem_key]
    ).fetchone()
    return str(row[0]) if row else None
