"""The outbox drain: every message the hotline starts is a row, sent exactly once.

Rows are campaign pushes (one per campaign and subscriber: tips, alerts) or single
notices queued by other domains through ``messaging.outbox.enqueue`` (a reporter told
their report was closed, a villager told the verdict on a number they asked about).
Claims take urgent rows first, then by ``priority`` (messaging.outbox.PRIORITY), then
in order of arrival, so a reporter's notice does not wait behind a county's tips.

Each row goes claim -> send -> mark, each step its own short transaction:

- ``claimed``: taken by a drainer (a batch at a time). Never sent yet, so a crash
  here is harmless: ``recover`` puts the row back to pending.
- ``sending``: committed just before the provider call. A crash between the call and
  the mark leaves the row "in doubt" (at most one row per drainer). With a provider
  that accepts an idempotency key (ours is the row's ``idem_key``), ``recover`` resends
  it and the provider drops the duplicate; with one that does not (Twilio), the row is
  marked ``unknown`` and not resent: a missing tip is better than a doubled alert.
- ``sent`` / ``failed``, then ``delivered`` / ``undelivered`` from status callbacks.

Each row carries its channel and is sent by that channel's sender (``drain`` takes a
channel -> sender mapping; ``senders_from_config`` builds it). A WeChat row that WeChat
refuses for good (outside the 48-hour window, quota used up, WeChat not configured)
switches, in one transaction, to channel ``sms`` when the subscriber gave a number:
the same row, so still one message per (campaign, subscriber), goes through claim ->
send -> mark again, and a crash anywhere leaves it pending or in doubt as above.
With no number (or a number that opted out of SMS) it becomes ``undeliverable``, with
the reason in ``error_code``. WeChat's "unfollowed" is an opt-out, like unfollowing.

Transient errors are retried with exponential backoff; permanent ones fail the row, and
"opted out at the carrier" (Twilio 21610) also opts the subscriber out of everything.
Sends are paced by deadline scheduling: the n-th send is due at start + n / rate.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from messaging.outbox import PUSH_CHANNELS
from messaging.providers import base as providers

# Importing the WeChat provider registers CHANNEL_SENDERS["wechat"] (CLI, scheduler).
from messaging.providers import wechat as wechat_provider
from messaging.providers.base import BatchItem, SendResult, SmsSender, can_batch, sender_for
from outreach import groups, phones, texts
from outreach.quiet_hours import in_quiet_hours, iso, next_allowed, utcnow
from reporting import reports
from storage import owners
from storage.owners import owner_dead
from storage.privacy import Vault, mask

log = logging.getLogger(__name__)

# Provider error codes that mean "this person refused our messages at the carrier":
# stop every push to them (the list is the providers', messaging/providers/base.py).
OPTED_OUT_CODES = providers.OPTED_OUT_CODES
DEFAULT_RATE = 1.0  # messages per second: a Twilio long code sends about 1 segment/s
CLAIM_BATCH = 50
# Through a batch gateway a drainer claims this many calls' worth of rows at a time.
BATCH_CLAIM_CALLS = 5
MAX_ATTEMPTS = 5
BACKOFF_BASE = 2.0  # seconds; attempt n waits base * 2**(n-1)
BACKOFF_MAX = 600.0
LEASE_SECONDS = 300.0  # a claim older than this belongs to a drainer that died
QUEUED = ("pending", "claimed", "sending")
# error_code of a send whose outcome is unknown (timed out after the request went out).
IN_DOUBT = "in_doubt"
# WeChat refusals after which the message goes by SMS (if there is a number) or nowhere.
FALLBACK_CODES = wechat_provider.PERMANENT_ERRORS - {"unfollowed"}

Senders = Mapping[str, SmsSender]


@dataclass
class DrainStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    fell_back: int = 0  # WeChat refused: switched to SMS (sent, or not, later in the drain)
    undeliverable: int = 0  # WeChat refused and no number to fall back to
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return (
            self.sent
            + self.failed
            + self.retried
            + self.skipped
            + self.fell_back
            + self.undeliverable
        )


def senders_from_config(config: dict[str, Any]) -> dict[str, SmsSender]:
    """One sender per push channel, built once per drain (raises RuntimeError when the
    SMS provider is misconfigured; an unconfigured WeChat answers ``not_configured``)."""
    built = {}
    for channel in PUSH_CHANNELS:
        sender = sender_for(channel, config)
        if sender is not None:
            built[channel] = sender
    return built


def as_senders(sender: SmsSender | Senders) -> dict[str, SmsSender]:
    """A mapping as given; a lone sender is the SMS sender (WeChat rows then fall back)."""
    if isinstance(sender, Mapping):
        return dict(sender)
    return {"sms": sender}


def idempotent_channels(sender: SmsSender | Senders) -> set[str]:
    """Channels whose in-doubt rows may be resent (their provider dedupes on the key)."""
    return {ch for ch, s in as_senders(sender).items() if accepts_idempotency_key(s)}


class Pacer:
    """Deadline scheduling to ``rate`` messages per second (0: unpaced).

    Behind schedule by less than ``max_lag`` it sends back to back to catch up, so
    the average rate stays exact; after a longer stall (a slow provider, a retry wait)
    it restarts the schedule instead of bursting past the provider's limit."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_lag: float = 1.0,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep, self.max_lag = clock, sleep, max_lag
        self.deadline: float | None = None

    def wait(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` more units (calls, or numbers in a batch) may go."""
        if not self.interval:
            return
        now = self.clock()
        if self.deadline is None or now - self.deadline > self.max_lag:
            self.deadline = now
        elif self.deadline > now:
            self.sleep(self.deadline - now)
        self.deadline += self.interval * cost


def backoff(attempts: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_MAX) -> float:
    return min(cap, base * 2 ** max(0, attempts - 1))


def claim_sql(db: sqlite_utils.Database, campaign_id: int | None) -> str:
    """The claim: one UPDATE taking due rows by priority. On PostgreSQL the inner SELECT
    locks the rows it picks and skips rows another drainer's claim holds (``FOR UPDATE
    SKIP LOCKED``), so drainers on several machines never wait on or take the same
    row; SQLite serialises writers, so the same statement is already exclusive there."""
    lock = " FOR UPDATE SKIP LOCKED" if getattr(db, "dialect", "sqlite") == "postgresql" else ""
    scope = " AND campaign_id = ?" if campaign_id is not None else ""
    return (
        "UPDATE outbox SET status = 'claimed', claim_token = ?, claimed_at = ?, "  # noqa: S608
        "updated_at = ? WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' "
        f"AND urgent = ? AND next_attempt_at <= ?{scope} ORDER BY priority DESC, id "
        f"LIMIT ?{lock})"
    )


def _claim(
    db: sqlite_utils.Database,
    token: str,
    limit: int,
    now: dt.datetime,
    campaign_id: int | None,
) -> list[dict[str, Any]]:
    """Atomically take up to ``limit`` due rows, urgent first; routine rows wait out
    quiet hours even if they were due before 21:00 and the drain ran late.

    The claim is a lease: ``claim_token`` names the drainer's process
    (storage.owners.PROCESS_ID) and ``claimed_at`` when it took the row. A row whose
    drainer died (kill -9) is taken back at once by ``recover`` (the process is gone),
    or once ``LEASE_SECONDS`` have passed for a drainer on another machine."""
    stamp = iso(now)
    urgencies = (1,) if in_quiet_hours(now) else (1, 0)
    sql = claim_sql(db, campaign_id)
    scope = [campaign_id] if campaign_id is not None else []
    with db.atomic():
        taken = 0
        for urgent in urgencies:
            if taken >= limit:
                break
            cursor = db.execute(sql, [token, stamp, stamp, urgent, stamp, *scope, limit - taken])
            taken += cursor.rowcount
    if not taken:
        return []
    # A row outside a campaign carries its own recipient; a WeChat recipient's SMS
    # number is theirs if given, else the one they gave when they subscribed to tips.
    return list(
        db.query(
            "SELECT o.id, o.idem_key, o.tip_id, o.attempts, o.subscriber_id, o.campaign_id, "
            "o.source, COALESCE(o.channel, 'sms') AS channel, "
            "COALESCE(s.channel, o.contact_channel) AS subscriber_channel, "
            "COALESCE(o.kind, c.kind) AS kind, COALESCE(c.text, o.text) AS text, "
            "CASE WHEN o.subscriber_id IS NULL THEN 'active' ELSE s.status END "
            "AS subscriber_status, COALESCE(s.contact_enc, o.contact_enc) AS contact_enc, "
            "COALESCE(s.contact_masked, o.contact_masked) AS contact_masked, "
            "COALESCE(s.phone_enc, o.phone_enc, f.phone_enc) AS phone_enc, "
            "COALESCE(s.phone_hash, o.phone_hash, f.phone_hash) AS phone_hash "
            "FROM outbox o LEFT JOIN campaigns c ON c.id = o.campaign_id "
            "LEFT JOIN subscribers s ON s.id = o.subscriber_id "
            "LEFT JOIN subscribers f ON f.id = (SELECT MAX(x.id) FROM subscribers x "
            "WHERE o.subscriber_id IS NULL AND o.contact_hash IS NOT NULL "
            "AND x.contact_hash = o.contact_hash AND x.phone_enc IS NOT NULL) "
            "WHERE o.claim_token = ? AND o.status = 'claimed' "
            "ORDER BY o.urgent DESC, o.priority DESC, o.id",
            [token],
        )
    )


def _release(db: sqlite_utils.Database, token: str) -> None:
    """Give back claimed rows this drainer will not send (never sent: safe)."""
    with db.atomic():
        db.execute(
            "UPDATE outbox SET status = 'pending', claim_token = NULL "
            "WHERE claim_token = ? AND status = 'claimed'",
            [token],
        )


def _finish(
    db: sqlite_utils.Database,
    row_id: int,
    values: dict[str, Any],
    row: dict[str, Any] | None = None,
) -> None:
    """Write a row's new state; a final outcome is also recorded where the message
    came from (a report's 回告举报人), in the same transaction."""
    with db.atomic():
        db.table("outbox").update(row_id, values)
        source = (row or {}).get("source") or ""
        status = values.get("status")
        if source.startswith("report:") and status not in (None, "pending"):
            reports.record_notification(db, int(source.partition(":")[2]), status)


def _opt_out(db: sqlite_utils.Database, row: dict[str, Any], reason: str, channel: str) -> None:
    """A carrier or WeChat opt-out stops a subscriber's pushes; a notice outside a
    campaign has no subscription to stop (the provider refuses the number anyway)."""
    if row.get("subscriber_id") is not None:
        groups.mark_opted_out(db, row["subscriber_id"], reason, channel, by=channel)


def recover(
    db: sqlite_utils.Database,
    *,
    resend_in_doubt: bool | Collection[str],
    stale_after: float = LEASE_SECONDS,
    now: dt.datetime | None = None,
) -> tuple[int, int]:
    """Put back rows of drainers that died: (released, in_doubt).

    ``resend_in_doubt``: True / False for every channel, or the channels whose
    provider dedupes on the idempotency key (``idempotent_channels``); in-doubt rows
    of the others are marked ``unknown``. Use ``stale_after=0`` only when no other
    drainer can be running (at start-up of the only one, or after a crash you know of)."""
    now = now or utcnow()
    cutoff = iso(now - dt.timedelta(seconds=stale_after))
    stamp = iso(now)
    if isinstance(resend_in_doubt, bool):
        resend = list(PUSH_CHANNELS) if resend_in_doubt else []
    else:
        resend = sorted(resend_in_doubt)
    dead = _dead_claims(db)
    # A row is abandoned when its lease ran out or its drainer's process is gone.
    # (Plain IN lists, not json_each: the same statements run on PostgreSQL.)
    abandoned = f"(claimed_at <= ? OR claim_token IN ({_marks(dead)}))"
    with db.atomic():
        released = db.execute(
            "UPDATE outbox SET status = 'pending', claim_token = NULL, updated_at = ? "  # noqa: S608
            f"WHERE status = 'claimed' AND {abandoned}",
            [stamp, cutoff, *dead],
        ).rowcount
        in_doubt = 0
        if resend:
            in_doubt = db.execute(
                "UPDATE outbox SET status = 'pending', claim_token = NULL, updated_at = ? "  # noqa: S608
                f"WHERE status = 'sending' AND {abandoned} "
                f"AND COALESCE(channel, 'sms') IN ({_marks(resend)})",
                [stamp, cutoff, *dead, *resend],
            ).rowcount
        in_doubt += db.execute(
            "UPDATE outbox SET status = 'unknown', claim_token = NULL, updated_at = ?, "  # noqa: S608
            f"error_code = 'crash_during_send' WHERE status = 'sending' AND {abandoned}",
            [stamp, cutoff, *dead],
        ).rowcount
    if released or in_doubt:
        log.warning(
            "outbox recovery: %d claimed rows released, %d in-doubt rows %s",
            released,
            in_doubt,
            "queued for an idempotent resend (where the provider dedupes) or marked unknown",
        )
    return released, in_doubt


def _marks(values: Collection[Any]) -> str:
    """Placeholders for an IN list; ``NULL`` for none (IN (NULL) matches nothing)."""
    return ", ".join("?" * len(values)) or "NULL"


def _dead_claims(db: sqlite_utils.Database) -> list[str]:
    """Claim tokens held by drainers whose process no longer runs on this host."""
    tokens = db.execute(
        "SELECT DISTINCT claim_token FROM outbox WHERE status IN ('claimed', 'sending') "
        "AND claim_token IS NOT NULL"
    ).fetchall()
    return [t for (t,) in tokens if "/" in t and owner_dead(t.partition("/")[0])]


def accepts_idempotency_key(sender: SmsSender) -> bool:
    return bool(getattr(sender, "accepts_idempotency_key", False))


def _send(sender: SmsSender, to: str, text: str, key: str) -> SendResult:
    try:
        if accepts_idempotency_key(sender):
            return sender.send(to, text, idempotency_key=key)  # type: ignore[call-arg]
        return sender.send(to, text)
    except Exception as exc:  # a provider hiccup (timeout, 5xx): transient, retry
        if maybe_accepted(exc) and not accepts_idempotency_key(sender):
            # The request went out and no answer came back: the provider may well have
            # sent it. Resending could double it, so it is marked unknown, like a crash.
            log.warning("send to %s in doubt (%s): not resent", mask(to), type(exc).__name__)
            return SendResult(False, None, IN_DOUBT, permanent=True)
        log.warning("send to %s raised %s: will retry", mask(to), type(exc).__name__)
        return SendResult(False, None, type(exc).__name__)


def maybe_accepted(exc: BaseException) -> bool:
    """True when a failed HTTP call may still have reached the provider: the answer timed
    out or the connection dropped after the request was written. A refused or timed-out
    connect never reached it, and is safe to retry."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return False
    if isinstance(exc, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return not isinstance(reason, NewConnectionError)
    return False


def _address(vault: Vault, row: dict[str, Any]) -> tuple[str | None, str | None]:
    """(who to send to on the row's channel, the phone number for the marker or None)."""
    contact = vault.decrypt(row["contact_enc"] or "")
    phone = vault.decrypt(row["phone_enc"]) if row.get("phone_enc") else None
    if row["channel"] == "sms" and row["subscriber_channel"] not in (None, "sms"):
        return phone, phone  # a WeChat follower's fallback: their number
    if row["channel"] == "sms":
        return contact, contact
    return contact, phone


@dataclass
class Ready:
    """A claimed row with its address and final words, about to be sent."""

    row: dict[str, Any]
    to: str
    text: str


def _prepare(
    db: sqlite_utils.Database,
    vault: Vault,
    row: dict[str, Any],
    stamp: str,
    stats: DrainStats,
) -> Ready | str:
    """The row's address and words, or what became of a row that cannot be sent."""
    if row["subscriber_status"] != "active":
        _finish(
            db,
            row["id"],
            {"status": "skipped", "error_code": "opted_out", "updated_at": stamp},
            row,
        )
        stats.skipped += 1
        return "skipped"
    to, phone = _address(vault, row)
    try:
        if to is None:
            raise LookupError("contact cannot be decrypted with the current key")
        # A verdict notice shows the 尾号 marker on SMS only, as it always has.
        marker = phone if row["kind"] != "scam_verdict" or row["channel"] == "sms" else None
        text = texts.message_for(row["kind"], row["tip_id"], row["text"], marker)
    except LookupError as exc:
        log.error("outbox row %s cannot be sent: %s", row["id"], exc)
        _finish(
            db,
            row["id"],
            {"status": "failed", "error_code": "unsendable", "updated_at": stamp},
            row,
        )
        stats.failed += 1
        return "failed"
    return Ready(row, to, text)


def _mark_sending(
    db: sqlite_utils.Database, rows: list[dict[str, Any]], token: str, stamp: str
) -> set[int]:
    """Commit claimed -> sending (one attempt more) for ``rows`` before the provider
    call; returns the ids still ours (a row recovered and taken by another drainer
    meanwhile is not)."""
    ids = [r["id"] for r in rows]
    with db.atomic():
        db.execute(
            "UPDATE outbox SET status = 'sending', claimed_at = ?, "  # noqa: S608
            "attempts = attempts + 1, updated_at = ? WHERE claim_token = ? "
            f"AND status = 'claimed' AND id IN ({_marks(ids)})",
            [stamp, stamp, token, *ids],
        )
        return {
            int(i)
            for (i,) in db.execute(
                "SELECT id FROM outbox WHERE claim_token = ? AND status = 'sending' "  # noqa: S608
                f"AND id IN ({_marks(ids)})",
                [token, *ids],
            ).fetchall()
        }


def _process(
    db: sqlite_utils.Database,
    vault: Vault,
    senders: dict[str, SmsSender],
    row: dict[str, Any],
    token: str,
    now: Callable[[], dt.datetime],
    max_attempts: int,
    backoff_base: float,
    stats: DrainStats,
) -> str:
    """Send one claimed row; return what became of it."""
    ready = _prepare(db, vault, row, iso(now()), stats)
    if isinstance(ready, str):
        return ready
    sender = senders.get(row["channel"])
    attempts = row["attempts"]
    if sender is None:  # nothing can push on this channel here: no call, nothing in doubt
        result = SendResult(False, None, "not_configured", permanent=True)
    else:
        if not _mark_sending(db, [row], token, iso(now())):
            return "lost"  # recovered and taken by another drainer meanwhile
        result = _send(sender, ready.to, ready.text, row["idem_key"])
        attempts += 1
    return _settle(db, row, result, attempts, now, max_attempts, backoff_base, stats)


def _send_batch(
    db: sqlite_utils.Database,
    sender: Any,
    ready: list[Ready],
    token: str,
    now: Callable[[], dt.datetime],
    max_attempts: int,
    backoff_base: float,
    stats: DrainStats,
) -> list[str]:
    """One batch call for ``ready`` (SMS rows of one gateway call): all marked sending in
    one transaction, one call, each number's result settled on its own row, the
    settling in one transaction. A crash anywhere between the two leaves every row of
    the call in doubt: recovered as ``unknown``, never resent (Aliyun and Tencent take
    no idempotency key)."""
    live_ids = _mark_sending(db, [r.row for r in ready], token, iso(now()))
    live = [r for r in ready if r.row["id"] in live_ids]
    outcomes = ["lost"] * (len(ready) - len(live))
    if not live:
        return outcomes
    items = [BatchItem(r.to, r.text) for r in live]
    try:
        results = list(sender.send_batch(items))
        if len(results) != len(items):
            raise RuntimeError(f"{len(results)} results for {len(items)} numbers")
    except Exception as exc:  # a provider that raised: as for one number (see _send)
        log.warning("batch send of %d raised %s", len(items), type(exc).__name__)
        code = IN_DOUBT if maybe_accepted(exc) or isinstance(exc, RuntimeError) else None
        results = [
            SendResult(False, None, code, permanent=True)
            if code
            else SendResult(False, None, type(exc).__name__)
            for _ in items
        ]
    stamp = iso(now())
    sent: list[tuple[Any, ...]] = []
    with db.atomic():
        for r, result in zip(live, results, strict=True):
            if result.ok and not (r.row.get("source") or "").startswith("report:"):
                # The common case, written in one statement below (sqlite-utils'
                # per-row update costs more than the rest of a send).
                sent.append((result.provider_id, stamp, stamp, stamp, r.row["id"]))
                continue
            outcomes.append(
                _settle(
                    db, r.row, result, r.row["attempts"] + 1, now, max_attempts, backoff_base, stats
                )
            )
        db.conn.executemany(
            "UPDATE outbox SET status = 'sent', provider_id = ?, error_code = NULL, "
            "sent_at = ?, status_at = ?, updated_at = ? WHERE id = ?",
            sent,
        )
    stats.sent += len(sent)
    outcomes.extend(["sent"] * len(sent))
    return outcomes


def _settle(
    db: sqlite_utils.Database,
    row: dict[str, Any],
    result: SendResult,
    attempts: int,
    now: Callable[[], dt.datetime],
    max_attempts: int,
    backoff_base: float,
    stats: DrainStats,
) -> str:
    """Record one send's result on its row: sent, retry later, fall back or fail."""
    stamp = iso(now())
    if result.ok:
        _finish(
            db,
            row["id"],
            {
                "status": "sent",
                "provider_id": result.provider_id,
                "error_code": None,
                "sent_at": stamp,
                "status_at": stamp,
                "updated_at": stamp,
            },
            row,
        )
        stats.sent += 1
        return "sent"
    code = str(result.error_code or "error")
    stats.errors[code] = stats.errors.get(code, 0) + 1
    if code == IN_DOUBT:  # see _send: counted with the failures, never resent
        _finish(db, row["id"], {"status": "unknown", "error_code": code, "updated_at": stamp}, row)
        stats.failed += 1
        return "unknown"
    if row["channel"] == "wechat" and result.permanent:
        return _wechat_refused(db, row, code, stamp, stats)
    if result.permanent or code in OPTED_OUT_CODES or attempts >= max_attempts:
        _finish(db, row["id"], {"status": "failed", "error_code": code, "updated_at": stamp}, row)
        if code in OPTED_OUT_CODES:
            _opt_out(db, row, f"carrier:{code}", "carrier")
            log.info("subscriber %s opted out at the carrier (%s)", row["contact_masked"], code)
        stats.failed += 1
        return "failed"
    retry_at = now() + dt.timedelta(seconds=backoff(attempts, backoff_base))
    _finish(
        db,
        row["id"],
        {
            "status": "pending",
            "claim_token": None,
            "error_code": code,
            "next_attempt_at": iso(retry_at),
            "updated_at": stamp,
        },
        row,
    )
    stats.retried += 1
    return "retry"


def _wechat_refused(
    db: sqlite_utils.Database, row: dict[str, Any], code: str, stamp: str, stats: DrainStats
) -> str:
    """WeChat will not take this row: SMS if there is a number, else undeliverable."""
    if code == "unfollowed":
        # Unfollowing is the WeChat opt-out (we missed the event): no SMS either.
        _opt_out(db, row, "wechat:unfollowed", "wechat")
        _finish(db, row["id"], {"status": "skipped", "error_code": code, "updated_at": stamp}, row)
        stats.skipped += 1
        return "skipped"
    if code not in FALLBACK_CODES:  # a permanent error we do not know: keep it visible
        _finish(db, row["id"], {"status": "failed", "error_code": code, "updated_at": stamp}, row)
        stats.failed += 1
        return "failed"
    if row.get("phone_enc") and not phones.phone_opted_out(db, row.get("phone_hash")):
        # One transaction turns this row into an SMS row due now; claim -> send -> mark
        # then run for it as for any SMS row, so it is sent once, crash or not.
        _finish(
            db,
            row["id"],
            {
                "channel": "sms",
                "fallback_reason": code,
                "status": "pending",
                "claim_token": None,
                "attempts": 0,
                "error_code": code,
                "next_attempt_at": stamp,
                "updated_at": stamp,
            },
            row,
        )
        stats.fell_back += 1
        return "fallback"
    reason = "phone_opted_out" if row.get("phone_enc") else "no_phone"
    _finish(
        db,
        row["id"],
        {
            "status": "undeliverable",
            "error_code": code,
            "fallback_reason": reason,
            "updated_at": stamp,
        },
        row,
    )
    stats.undeliverable += 1
    log.info("outbox row %s not deliverable: WeChat %s, %s", row["id"], code, reason)
    return "undeliverable"


def next_due(db: sqlite_utils.Database, campaign_id: int | None = None) -> dt.datetime | None:
    row = db.execute(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' "
        "AND (? IS NULL OR campaign_id = ?)",
        [campaign_id, campaign_id],
    ).fetchone()
    if not row or not row[0]:
        return None
    return dt.datetime.fromisoformat(row[0])


def drain(
    db: sqlite_utils.Database,
    vault: Vault,
    sender: SmsSender | Senders,
    *,
    rate: float = DEFAULT_RATE,
    batch: int = CLAIM_BATCH,
    max_attempts: int = MAX_ATTEMPTS,
    backoff_base: float = BACKOFF_BASE,
    retry_wait: float = 0.0,
    limit: int | None = None,
    campaign_id: int | None = None,
    progress: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], dt.datetime] = utcnow,
    should_stop: Callable[[], bool] | None = None,
) -> DrainStats:
    """Send every due row (of one campaign, or all), paced to ``rate`` calls per second.

    Through an SMS provider that takes batch calls (``limits.batch`` > 1: Aliyun,
    Tencent, the fake gateway) SMS rows go ``limits.batch`` numbers a call, paced by
    calls (``rate``) and by numbers (``limits.numbers_rate``) per second; each number's
    result is recorded on its own row.

    Returns when nothing is due; with ``retry_wait`` > 0 it first waits for retries
    due within that many seconds. ``progress`` is called once per row handled (twice
    for a WeChat row that falls back to SMS). ``sender``: a channel -> sender mapping
    (``senders_from_config``), or one sender for SMS only."""
    senders = as_senders(sender)
    stats = DrainStats()
    started = clock()
    pacer = Pacer(rate, clock, sleep)  # calls per second (one number each, or a batch)
    sms = senders.get("sms")
    batcher: Any = sms if sms is not None and can_batch(sms) else None
    # A gateway counts calls and numbers per second: after a stall (a slow commit) the
    # batch pacers start afresh instead of catching up in a burst it would refuse.
    calls = Pacer(rate, clock, sleep, max_lag=0.0) if batcher else pacer
    numbers = Pacer(batcher.limits.numbers_rate if batcher else 0, clock, sleep, max_lag=0.0)
    claim_size = max(batch, batcher.limits.batch * BATCH_CLAIM_CALLS) if batcher else batch
    resend = idempotent_channels(senders)
    # The claim names its process: a drainer killed mid-push is known dead at once
    # (storage.owners) and its rows are taken over without waiting out the lease.
    token = f"{owners.PROCESS_ID}/{uuid.uuid4().hex}"

    def report(outcome: str) -> None:
        if progress:
            progress(outcome)

    def flush(groups: dict[str, list[Ready]], key: str) -> None:
        ready = groups.pop(key)
        calls.wait()
        numbers.wait(len(ready))
        for outcome in _send_batch(
            db, batcher, ready, token, now, max_attempts, backoff_base, stats
        ):
            report(outcome)

    try:
        while not (should_stop and should_stop()):
            if limit is not None and stats.handled >= limit:
                break
            size = claim_size if limit is None else min(claim_size, limit - stats.handled)
            rows = _claim(db, token, size, now(), campaign_id)
            if not rows:
                # Rows a dead drainer (kill -9) left claimed or in doubt: take them back
                # now (released, or unknown) rather than at the next tick.
                if any(recover(db, resend_in_doubt=resend)):
                    continue
                due = next_due(db, campaign_id) if retry_wait > 0 else None
                if due is None:
                    break
                current = now()
                # A routine row due at night is not claimable before 08:00.
                wait = (max(due, next_allowed(current)) - current).total_seconds()
                if wait <= 0 or wait > retry_wait:
                    break  # (<= 0: due yet not claimable, e.g. quiet hours: do not spin)
                sleep(wait + 0.01)
                continue
            # SMS rows through a batch gateway wait here until a call is full (or the
            # claim is done); Tencent's calls hold one text, so they group by text.
            groups: dict[str, list[Ready]] = {}
            for row in rows:
                if should_stop and should_stop():
                    groups.clear()  # never sent: released below
                    break
                if batcher is not None and row["channel"] == "sms":
                    ready = _prepare(db, vault, row, iso(now()), stats)
                    if isinstance(ready, str):
                        report(ready)
                        continue
                    key = batcher.batch_key(ready.text) if hasattr(batcher, "batch_key") else ""
                    groups.setdefault(key, []).append(ready)
                    if len(groups[key]) >= batcher.limits.batch:
                        flush(groups, key)
                    continue
                pacer.wait()
                report(
                    _process(db, vault, senders, row, token, now, max_attempts, backoff_base, stats)
                )
            for key in list(groups):
                if should_stop and should_stop():
                    break
                flush(groups, key)
            _release(db, token)
    except BaseException:
        # Interrupted (Ctrl-C, a crash in a callback): rows not yet tried go back.
        _release(db, token)
        raise
    stats.elapsed = clock() - started
    return stats


# How final a status is: a late "sent" never overwrites "delivered" (receipts can
# arrive out of order).
_RANK = {"sending": 0, "sent": 1, "delivered": 2, "undelivered": 2, "failed": 2}


def apply_status(
    db: sqlite_utils.Database,
    provider_id: str,
    provider_status: str,
    error_code: str | None,
    recipient_hash: str | None = None,
) -> str:
    """Record a delivery receipt (``DeliveryReceipt.status``: sent / delivered /
    undeliverable / failed); returns "updated", "unchanged", "ignored" or "unknown".

    ``recipient_hash``: the hashed number the receipt names, which picks the row when
    one provider id covers a whole batch call (Aliyun SendBatchSms: one BizId)."""
    status = providers.OUTBOX_STATUS.get(provider_status.strip().lower())
    if status is None:
        return "ignored"
    rows = db.execute(
        "SELECT o.id, o.status, o.subscriber_id, o.source, o.contact_hash, o.phone_hash, "
        "s.contact_hash, s.phone_hash FROM outbox o "
        "LEFT JOIN subscribers s ON s.id = o.subscriber_id WHERE o.provider_id = ?",
        [provider_id],
    ).fetchall()
    if len(rows) > 1:
        rows = [r for r in rows if recipient_hash and recipient_hash in r[4:]]
    if len(rows) != 1:
        return "unknown"
    row = rows[0][:4]
    row_id, current, subscriber_id, source = row
    code = (error_code or "").strip() or None
    if code in OPTED_OUT_CODES and subscriber_id is not None:
        groups.mark_opted_out(db, subscriber_id, f"carrier:{code}", "carrier", by="carrier")
    if _RANK.get(status, 0) <= _RANK.get(current, 0):
        return "unchanged"
    values: dict[str, Any] = {"status": status, "status_at": iso(utcnow())}
    if code:
        values["error_code"] = code
    _finish(db, row_id, values, {"source": source})
    return "updated"


def counts(db: sqlite_utils.Database, campaign_id: int) -> dict[str, int]:
    rows = db.execute(
        "SELECT status, COUNT(*) FROM outbox WHERE campaign_id = ? GROUP BY status",
        [campaign_id],
    ).fetchall()
    return dict(rows)


def notice_counts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Rows outside a campaign (reporter and verdict notices) by kind, counted like
    ``overview``'s campaigns."""
    return list(
        db.query(
            """
            SELECT kind, COUNT(*) AS total,
                   SUM(status IN ('pending', 'claimed', 'sending')) AS queued,
                   SUM(status = 'sent') AS sent,
                   SUM(status = 'delivered') AS delivered,
                   SUM(status IN ('failed', 'undelivered', 'unknown')) AS failed,
                   SUM(status = 'undeliverable') AS undeliverable,
                   SUM(status = 'skipped') AS skipped,
                   SUM(channel = 'wechat' AND status IN ('sent', 'delivered')) AS wechat,
                   SUM(fallback_reason IS NOT NULL AND channel = 'sms') AS via_sms
            FROM outbox WHERE campaign_id IS NULL GROUP BY kind ORDER BY kind
            """
        )
    )


def overview(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    """The latest campaigns with queued / sent / delivered / failed / undeliverable /
    skipped counts; ``wechat``: sent by WeChat, ``via_sms``: WeChat refused, sent by SMS."""
    return list(
        db.query(
            """
            SELECT c.id, c.kind, c.scope_type, c.scope_value, c.tip_id, c.urgent,
                   c.created_by, c.created_at, c.not_before, c.recipients,
                   SUM(o.status IN ('pending', 'claimed', 'sending')) AS queued,
                   SUM(o.status = 'sent') AS sent,
                   SUM(o.status = 'delivered') AS delivered,
                   SUM(o.status IN ('failed', 'undelivered', 'unknown')) AS failed,
                   SUM(o.status = 'undeliverable') AS undeliverable,
                   SUM(o.status = 'skipped') AS skipped,
                   SUM(o.channel = 'wechat' AND o.status IN ('sent', 'delivered')) AS wechat,
                   SUM(o.fallback_reason IS NOT NULL AND o.channel = 'sms') AS via_sms
            FROM campaigns c LEFT JOIN outbox o ON o.campaign_id = c.id
            GROUP BY c.id ORDER BY c.id DESC LIMIT ?
            """,
            [limit],
        )
    )
