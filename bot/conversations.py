"""Conversation state, the message log, and inbound dedupe, keyed by the sender's hash."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
import uuid
from typing import Any

import sqlite_utils

from storage.clock import now_iso as now
from storage.privacy import redact_id_numbers

# What we keep of one message; the dialogue reads less than this (see dialogue.MAX_TEXT).
MAX_STORED = 4000
# A claimed message with no answer after this long was dropped by a crash.
STALE_CLAIM_S = 60
# Who claims inbound messages: this process. The nonce tells a reused pid apart.
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
        # it afterwards (a typed phone number, bot/outreach/phones.redact_in_log) must
        # mask the words carried in the state too (``recent``), never save them in clear.
        self._logged: tuple[int, str] | None = None

    def receive(self, text: str, provider: str | None, message_id: str | None) -> bool:
        """Log the message once (False: logged already, handled again after a crash)
        and read the state. Raises InboundNotStored when the log cannot be written."""
        try:
            with self.db.atomic():
                logged = log_inbound(
                    self.db, self.sender_hash, self.channel, text, provider, message_id
                )
                if logged:
                    row_id = self.db.execute("SELECT last_insert_rowid()").fetchone()[0]
                    self._logged = (row_id, redact_id_numbers(text[:MAX_STORED]))
                row = self.db.execute(
                    "SELECT state FROM conversations WHERE sender_hash = ?", [self.sender_hash]
                ).fetchone()
        except (sqlite3.OperationalError, TimeoutError) as exc:
            raise InboundNotStored(str(exc)) from exc
        self._saved = row[0] if row else None
        self.state = json.loads(row[0]) if row and row[0] else {}
        return logged

    def finish(
        self,
        replies: list[str],
        intent: str | None,
        confidence: float | None,
        state: dict[str, Any],
    ) -> None:
        """The replies into the log and the state saved (only when it changed): one write."""
        self._follow_redaction(state)
        encoded = json.dumps(state, ensure_ascii=False)
        if not replies and encoded == (self._saved or "{}"):
            return
        at = now()
        with self.db.atomic():
            if replies:
                self.db.conn.executemany(
                    "INSERT INTO messages (sender_hash, channel, direction, text, intent,"
                    " confidence, created_at) VALUES (?, ?, 'out', ?, ?, ?, ?)",
                    [
                        (
                            self.sender_hash,
                            self.channel,
                            redact_id_numbers(r[:MAX_STORED]),
                            intent,
                            confidence,
                            at,
                        )
                        for r in replies
                    ],
                )
            if encoded != (self._saved or "{}"):
                self.db.execute(
                    "INSERT INTO conversations (sender_hash, channel, state, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(sender_hash) DO UPDATE SET"
                    " channel = excluded.channel, state = excluded.state,"
                    " updated_at = excluded.updated_at",
                    [self.sender_hash, self.channel, encoded, at],
                )

    def _follow_redaction(self, state: dict[str, Any]) -> None:
        """The inbound message was masked in the log since receive(): the words this
        turn added to ``recent`` get the masked text too."""
        if self._logged is None or not state.get("recent"):
            return
        row_id, as_logged = self._logged
        row = self.db.execute("SELECT text FROM messages WHERE id = ?", [row_id]).fetchone()
        if row is None or row[0] == as_logged:
            return
        before = json.loads(self._saved).get("recent", []) if self._saved else []
        for entry in state["recent"]:
            if entry not in before and entry.get("text"):
                entry["text"] = (row[0] or "").strip()[:500]


def load_state(db: sqlite_utils.Database, sender_hash: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT state FROM conversations WHERE sender_hash = ?", [sender_hash]
    ).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def save_state(
    db: sqlite_utils.Database, sender_hash: str, channel: str, state: dict[str, Any]
) -> None:
    with db.atomic():
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
    with db.atomic():
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


def log_inbound(
    db: sqlite_utils.Database,
    sender_hash: str,
    channel: str,
    text: str,
    provider: str | None = None,
    message_id: str | None = None,
) -> bool:
    """Log a received message once. A provider message handled again after a crash
    (its claim taken over) is already in the log: False, nothing added. The log row and
    the claim's ``logged`` mark commit together, so a kill -9 leaves both or neither."""
    with db.atomic():
        if provider and message_id:
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
        db.execute(
            "INSERT INTO messages (sender_hash, channel, direction, text, created_at)"
            " VALUES (?, ?, 'in', ?, ?)",
            [sender_hash, channel, redact_id_numbers(text[:MAX_STORED]), now()],
        )
    return True


def _owner_dead(claimed_by: str | None) -> bool:
    """True when the claim's process was on this host and no longer runs (killed)."""
    if not claimed_by or claimed_by == PROCESS_ID:
        return False
    host, _, rest = claimed_by.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal: alive
        return False
    return False


def claim_message(db: sqlite_utils.Database, provider: str, message_id: str) -> list[str] | None:
    """Claim a provider message id. None: first time, go ahead. A list: already seen,
    these are the replies it got (empty while the first delivery is still running)."""
    try:
        with db.atomic():
            db.execute(
                "INSERT INTO inbound_seen (provider, message_id, replies, received_at,"
                " claimed_by) VALUES (?, ?, NULL, ?, ?)",
                [provider, message_id, now(), PROCESS_ID],
            )
        return None
    except sqlite3.IntegrityError:
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
    if row and _owner_dead(row[2]):
        stale = "9999"  # any received_at is older than this
    with db.atomic():
        taken = db.execute(
            "UPDATE inbound_seen SET received_at = ?, claimed_by = ? WHERE provider = ?"
            " AND message_id = ? AND replies IS NULL AND received_at < ?"
            " AND claimed_by IS ?",
            [now(), PROCESS_ID, provider, message_id, stale, row[2] if row else None],
        ).rowcount
    return None if taken else []


def remember_replies(
    db: sqlite_utils.Database, provider: str, message_id: str, replies: list[str]
) -> None:
    with db.atomic():
        db.execute(
            "UPDATE inbound_seen SET replies = ? WHERE provider = ? AND message_id = ?",
            [json.dumps(replies, ensure_ascii=False), provider, message_id],
        )
