"""Conversation state, the message log, and inbound dedupe, keyed by the sender's hash."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import sqlite_utils

from storage import owners
from storage.clock import now_iso as now
from storage.privacy import redact_id_numbers
from storage.tables import new_id

# What we keep of one message; the dialogue reads less than this (see dialogue.MAX_TEXT).
MAX_STORED = 4000
# A claimed message with no answer after this long was dropped by a crash.
STALE_CLAIM_S = 60
# Who claims inbound messages: this process. The nonce tells a reused pid apart.
log = logging.getLogger(__name__)


class InboundNotStored(Exception):
    """The inbound message could not be written (the database stayed locked): the
    villager must be told it was not received, never that it was."""


class Store:
    """One sender's conversation for one inbound message: the message logged and the
    state read in one step, the replies and the new state written in one more."""

    def __init__(self, db: sqlite_utils.Database, sender_hash: str, channel: str) -> None:
        self.db = db
        self.sender_hash = sender_hash
        self.channel = channel
        self.state: dict[str, Any] = {}
        self._saved: str | None = None
        # The inbound row logged by receive(), and its text as logged: a step that masks
        # it afterwards (a typed phone number, outreach/phones.redact_in_log) must
        # mask the words carried in the state too (``recent``), never save them in clear.
        self._logged: tuple[int, str] | None = None
        # The provider's (name, message id) this turn claimed: its replies are remembered.
        self._claim: tuple[str, str] | None = None
        # The connection's count of changed rows once the log committed: unchanged at
        # finish() means nothing on it wrote since, so the logged row was not masked.
        self._changes_at_log: int | None = None

    def receive(
        self,
        text: str,
        provider: str | None,
        message_id: str | None,
        within: Callable[[], None] | None = None,
    ) -> list[str] | None:
        """Claim the provider's message id, log the message and read the state: one
        transaction. None: go ahead and answer. A list: a provider's retry of a message
        already answered (these replies) or still being answered (empty). Raises
        InboundNotStored when the log cannot be written. ``within`` runs inside the
        transaction once the message is logged (the flood limiter's write)."""
        claim = (provider, message_id) if provider and message_id else None
        try:
            with self.db.atomic():
                fresh = claim is None or claim_new(self.db, *claim, logged=True)
                if fresh:
                    self._log(text)
                    self._read()
                    if within is not None:
                        within()
            if not fresh:  # a provider's retry: rare, so the careful steps one by one
                assert claim is not None
                seen = seen_or_take_over(self.db, *claim)
                if seen is not None:
                    return seen
                with self.db.atomic():  # taken over from a crash: logged unless it was
                    if _mark_logged(self.db, *claim):
                        self._log(text)
                    self._read()
                    if within is not None:
                        within()
        except (sqlite3.OperationalError, TimeoutError) as exc:
            raise InboundNotStored(str(exc)) from exc
        self._claim = claim
        self._changes_at_log = _total_changes(self.db)
        return None

    def _log(self, text: str) -> None:
        stored = redact_id_numbers(text[:MAX_STORED])
        # RETURNING, not lastrowid: PostgreSQL would need more round trips to ask.
        # fetchall: the statement is finished before the transaction commits.
        ((row_id,),) = self.db.execute(
            "INSERT INTO messages (sender_hash, channel, direction, text, created_at)"
            " VALUES (?, ?, 'in', ?, ?) RETURNING id",
            [self.sender_hash, self.channel, stored, now()],
        ).fetchall()
        self._logged = (row_id, stored)

    def _read(self) -> None:
        row = self.db.execute(
            "SELECT state FROM conversations WHERE sender_hash = ?", [self.sender_hash]
        ).fetchone()
        self._saved = row[0] if row else None
        self.state = json.loads(row[0]) if row and row[0] else {}

    def finish(
        self,
        replies: list[str],
        intent: str | None,
        confidence: float | None,
        state: dict[str, Any],
        deferred: Sequence[Callable[[], None]] = (),
    ) -> None:
        """The replies into the log, the state saved (only when it changed), the replies
        remembered against the provider's id, and the turn's deferred writes (the review
        queue): one transaction."""
        self._follow_redaction(state)
        encoded = json.dumps(state, ensure_ascii=False)
        changed = encoded != (self._saved or "{}")
        if not replies and not changed and self._claim is None and not deferred:
            return
        at = now()
        with self.db.atomic():
            if replies:
                # One statement for all the replies (usually one): on PostgreSQL an
                # executemany is a pipeline of its own, dearer than the one row it sends.
                params: list[Any] = []
                for r in replies:
                    stored = redact_id_numbers(r[:MAX_STORED])
                    params += [self.sender_hash, self.channel, stored, intent, confidence, at]
                self.db.execute(_insert_replies_sql(len(replies)), params)
            if changed:
                self.db.execute(
                    "INSERT INTO conversations (sender_hash, channel, state, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(sender_hash) DO UPDATE SET"
                    " channel = excluded.channel, state = excluded.state,"
                    " updated_at = excluded.updated_at",
                    [self.sender_hash, self.channel, encoded, at],
                )
            if self._claim is not None:
                remember_replies(self.db, *self._claim, replies)
            for write in deferred:
                try:
                    with self.db.atomic():  # a savepoint: a failed write undoes only itself
                        write()
                except Exception:  # noqa: BLE001 - the villager's answer goes on regardless
                    log.exception("a deferred write failed")

    def _follow_redaction(self, state: dict[str, Any]) -> None:
        """The inbound message was masked in the log since receive(): the words this
        turn added to ``recent`` get the masked text too."""
        if self._logged is None or not state.get("recent"):
            return
        # Masking the log is a write on this turn's connection: with none since the log
        # (most turns), there is nothing to read back.
        if self._changes_at_log is not None and self._changes_at_log == _total_changes(self.db):
            return
        row_id, as_logged = self._logged
        row = self.db.execute("SELECT text FROM messages WHERE id = ?", [row_id]).fetchone()
        if row is None or row[0] == as_logged:
            return
        before = json.loads(self._saved).get("recent", []) if self._saved else []
        for entry in state["recent"]:
            if entry not in before and entry.get("text"):
                entry["text"] = (row[0] or "").strip()[:500]


@functools.lru_cache(maxsize=16)
def _insert_replies_sql(count: int) -> str:
    """The INSERT of ``count`` outbound log rows (one text per count: a cached statement)."""
    rows = ", ".join(["(?, ?, 'out', ?, ?, ?, ?)"] * count)
    columns = "sender_hash, channel, direction, text, intent, confidence, created_at"
    return f"INSERT INTO messages ({columns}) VALUES {rows}"  # noqa: S608 - placeholders only


def _total_changes(db: sqlite_utils.Database) -> int | None:
    # SQLite's rows inserted, updated or deleted by this connection (PostgreSQL: its
    # statements that may have written, storage/pg.py); None when unknown.
    return getattr(db.conn, "total_changes", None)


def load_state(db: sqlite_utils.Database, sender_hash: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT state FROM conversations WHERE sender_hash = ?", [sender_hash]
    ).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def save_state(
    db: sqlite_utils.Database, sender_hash: str, channel: str, state: dict[str, Any]
) -> None:
    with db.atomic():
        db.table("conversations").upsert(
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
    with db.atomic():
        return new_id(
            db.table("messages").insert(
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
        )


def _mark_logged(db: sqlite_utils.Database, provider: str, message_id: str) -> bool:
    """Mark a claimed message logged; False when it was logged already (the crash came
    after). Called in the transaction that writes the log row: both or neither."""
    row = db.execute(
        "SELECT logged FROM inbound_seen WHERE provider = ? AND message_id = ?",
        [provider, message_id],
    ).fetchone()
    if row and row[0]:
        return False
    db.execute(
        "UPDATE inbound_seen SET logged = 1 WHERE provider = ? AND message_id = ?",
        [provider, message_id],
    )
    return True


def claim_new(db: sqlite_utils.Database, provider: str, message_id: str, logged: bool) -> bool:
    """Claim a provider message id never seen before; False when it was seen. With
    ``logged`` the claim says the log row is written in the same transaction (a kill -9
    leaves both or neither)."""
    return bool(
        db.execute(
            "INSERT INTO inbound_seen (provider, message_id, replies, received_at,"
            " claimed_by, logged) VALUES (?, ?, NULL, ?, ?, ?)"
            " ON CONFLICT (provider, message_id) DO NOTHING",
            [provider, message_id, now(), owners.PROCESS_ID, 1 if logged else None],
        ).rowcount
    )


def claim_message(db: sqlite_utils.Database, provider: str, message_id: str) -> list[str] | None:
    """Claim a provider message id. None: first time, go ahead. A list: already seen,
    these are the replies it got (empty while the first delivery is still running)."""
    if claim_new(db, provider, message_id, logged=False):
        return None
    return seen_or_take_over(db, provider, message_id)


def seen_or_take_over(
    db: sqlite_utils.Database, provider: str, message_id: str
) -> list[str] | None:
    """An id seen before: its replies, or [] while its first delivery runs; None when
    that delivery died (a stale claim, or its process gone) and this one takes over."""
    row = db.execute(
        "SELECT replies, received_at, claimed_by FROM inbound_seen"
        " WHERE provider = ? AND message_id = ?",
        [provider, message_id],
    ).fetchone()
    if row and row[0]:
        return json.loads(row[0])
    # Claimed but never answered. Still running, or the process died mid-way: a claim
    # that old, or one whose process is gone (kill -9, then restart), is taken over so
    # the provider's retry gets the message handled.
    stale = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=STALE_CLAIM_S)).isoformat(
        timespec="seconds"
    )
    if row and owners.owner_dead(row[2]):
        stale = "9999"  # any received_at is older than this
    with db.atomic():
        taken = db.execute(
            "UPDATE inbound_seen SET received_at = ?, claimed_by = ? WHERE provider = ?"
            " AND message_id = ? AND replies IS NULL AND received_at < ?"
            " AND claimed_by IS ?",
            [now(), owners.PROCESS_ID, provider, message_id, stale, row[2] if row else None],
        ).rowcount
    return None if taken else []


def remember_replies(
    db: sqlite_utils.Database, provider: str, message_id: str, replies: list[str]
) -> None:
    # One statement: a transaction of its own alone, or part of the caller's (finish).
    db.execute(
        "UPDATE inbound_seen SET replies = ? WHERE provider = ? AND message_id = ?",
        [json.dumps(replies, ensure_ascii=False), provider, message_id],
    )
