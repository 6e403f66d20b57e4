"""Queries on the wechat tables (storage/migrations/wechat.py) for late answers; the
follower's 48-hour window and the shared access token are messaging/providers/wechat.py."""

from __future__ import annotations

import json

import sqlite_utils

from storage.clock import now_iso
from storage.privacy import Vault


def openid_for(db: sqlite_utils.Database, vault: Vault, openid_hash: str) -> str | None:
    """The follower's openid in clear (to send to), from its encrypted copy."""
    row = db.execute(
        "SELECT openid_enc FROM wechat_users WHERE openid_hash = ?", [openid_hash]
    ).fetchone()
    return vault.decrypt(row[0]) if row and row[0] else None


# -- late answers (wechat_pending) -------------------------------------------------------
# pending -> sending (claimed: claim_token set in the same UPDATE) -> sent / failed /
# undeliverable. 'failed' rows are due again at next_attempt_at while attempts < limit.
# A 'sending' row left by a dead process is in doubt and is never sent again.


def add_pending(
    db: sqlite_utils.Database, msg_key: str, openid_hash: str, replies: list[str], claim_token: str
) -> int:
    """Record a late answer already claimed by the worker about to send it."""
    with db.atomic():
        return (
            db["wechat_pending"]
            .insert(
                {
                    "msg_key": msg_key,
                    "openid_hash": openid_hash,
                    "replies": json.dumps(replies, ensure_ascii=False),
                    "status": "sending",
                    "error_code": None,
                    "attempts": 0,
                    "next_attempt_at": None,
                    "claim_token": claim_token,
                    "created_at": now_iso(),
                    "updated_at": now_iso(),
                }
            )
            .last_pk
        )


def claim_pending(
    db: sqlite_utils.Database, claim_token: str, max_attempts: int, at: float, limit: int
) -> list[dict]:
    """Take due pending/failed rows for one retry run. One UPDATE statement, so a row
    goes to exactly one run, however many run at once."""
    with db.atomic():
        db.execute(
            "UPDATE wechat_pending SET status = 'sending', claim_token = ?, updated_at = ?"
            " WHERE id IN (SELECT id FROM wechat_pending WHERE status IN ('pending', 'failed')"
            " AND attempts < ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            " ORDER BY id LIMIT ?)",
            [claim_token, now_iso(), max_attempts, at, limit],
        )
    return list(
        db.query(
            "SELECT id, openid_hash, replies, attempts FROM wechat_pending"
            " WHERE claim_token = ? AND status = 'sending' ORDER BY id",
            [claim_token],
        )
    )


def release_pending(db: sqlite_utils.Database, claim_token: str) -> None:
    """Give back claimed rows that were never sent (a run that stopped early)."""
    with db.atomic():
        db.execute(
            "UPDATE wechat_pending SET status = 'pending', claim_token = NULL, updated_at = ?"
            " WHERE claim_token = ? AND status = 'sending'",
            [now_iso(), claim_token],
        )


def finish_pending(
    db: sqlite_utils.Database,
    pending_id: int,
    claim_token: str,
    status: str,
    error_code: str | None = None,
    next_attempt_at: float | None = None,
) -> None:
    """Record one send attempt of a claimed row: sent, failed (retry at
    ``next_attempt_at``) or undeliverable."""
    with db.atomic():
        db.execute(
            "UPDATE wechat_pending SET status = ?, error_code = ?, next_attempt_at = ?,"
            " attempts = attempts + 1, claim_token = NULL, updated_at = ?"
            " WHERE id = ? AND claim_token = ?",
            [status, error_code, next_attempt_at, now_iso(), pending_id, claim_token],
        )
