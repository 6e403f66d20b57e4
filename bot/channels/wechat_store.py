"""Queries on the wechat tables (storage/migrations/wechat.py): the follower's 48-hour
customer-service window and the shared access token. Late answers are outbox rows
(kind ``late_answer``, messaging/outbox.py), sent by the one drain."""

from __future__ import annotations

import time

import sqlite_utils
from cryptography.fernet import Fernet, InvalidToken

from storage.clock import now_iso
from storage.privacy import Vault

WINDOW_SECONDS = 48 * 3600


def record_inbound(
    db: sqlite_utils.Database, vault: Vault, openid: str, at: float | None = None
) -> None:
    """The follower just wrote to us: a new 48-hour window opens, its quota resets."""
    with db.atomic():
        db.table("wechat_users").upsert(
            {
                **vault.protect(openid, "openid"),
                "last_inbound_at": time.time() if at is None else at,
                "window_sent": 0,
                "updated_at": now_iso(),
            },
            pk="openid_hash",
        )


def window_status(
    db: sqlite_utils.Database, openid_hash: str, quota: int, at: float | None = None
) -> str:
    """ "open", "outside_48h_window" or "quota_exhausted" for a customer-service message."""
    row = db.execute(
        "SELECT last_inbound_at, window_sent FROM wechat_users WHERE openid_hash = ?",
        [openid_hash],
    ).fetchone()
    at = time.time() if at is None else at
    if not row or row[0] is None or at - row[0] >= WINDOW_SECONDS:
        return "outside_48h_window"
    if (row[1] or 0) >= quota:
        return "quota_exhausted"
    return "open"


def count_sent(db: sqlite_utils.Database, openid_hash: str) -> None:
    with db.atomic():
        db.execute(
            "UPDATE wechat_users SET window_sent = COALESCE(window_sent, 0) + 1, updated_at = ?"
            " WHERE openid_hash = ?",
            [now_iso(), openid_hash],
        )


def close_window(db: sqlite_utils.Database, openid_hash: str) -> None:
    """WeChat said 45015 (window over): believe it over our own clock."""
    with db.atomic():
        db.execute(
            "UPDATE wechat_users SET last_inbound_at = 0, updated_at = ? WHERE openid_hash = ?",
            [now_iso(), openid_hash],
        )


def load_token(db: sqlite_utils.Database, vault: Vault, appid: str) -> tuple[str, float] | None:
    row = db.execute(
        "SELECT token_enc, expires_at FROM wechat_tokens WHERE appid = ?", [appid]
    ).fetchone()
    if not row:
        return None
    try:
        return Fernet(vault.fernet_key).decrypt(row[0].encode()).decode(), float(row[1])
    except (InvalidToken, ValueError):
        return None


def save_token(
    db: sqlite_utils.Database, vault: Vault, appid: str, token: str, expires_at: float
) -> None:
    encrypted = Fernet(vault.fernet_key).encrypt(token.encode()).decode()
    with db.atomic():
        db.table("wechat_tokens").upsert(
            {"appid": appid, "token_enc": encrypted, "expires_at": expires_at}, pk="appid"
        )


def openid_for(db: sqlite_utils.Database, vault: Vault, openid_hash: str) -> str | None:
    """The follower's openid in clear (to send to), from its encrypted copy."""
    row = db.execute(
        "SELECT openid_enc FROM wechat_users WHERE openid_hash = ?", [openid_hash]
    ).fetchone()
    return vault.decrypt(row[0]) if row and row[0] else None
