"""Tables of the wechat domain: the 48-hour customer-service window per follower, the
shared access token, and answers that missed the 5-second passive reply."""

from __future__ import annotations

import sqlite_utils


def _001_wechat(db: sqlite_utils.Database) -> None:
    # One row per follower (openid_hash = HMAC of the openid; never the openid in clear).
    # WeChat lets an account message a follower only within 48 hours of the follower's
    # last message, and only a few times per window: both are tracked here.
    db.table("wechat_users").create(
        {
            "openid_hash": str,
            "openid_enc": str,  # encrypted, to send the customer-service messages
            "openid_masked": str,
            "last_inbound_at": float,  # epoch seconds of the follower's last message
            "window_sent": int,  # customer-service messages sent since then
            "updated_at": str,
        },
        pk="openid_hash",
    )
    # Getting a new access token invalidates the old one after 5 minutes: the web
    # server, the scheduler and the CLI share one token through this table.
    db.table("wechat_tokens").create(
        {
            "appid": str,
            "token_enc": str,  # Fernet-encrypted access token
            "expires_at": float,  # epoch seconds
        },
        pk="appid",
    )
    db.table("wechat_pending").create(
        {
            "id": int,
            "msg_key": str,  # the provider message key (MsgId or event hash)
            "openid_hash": str,
            "replies": str,  # JSON list of texts
            "status": str,  # pending / sent / failed
            "error_code": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    db.table("wechat_pending").create_index(["status"])


def _002_pending_retry(db: sqlite_utils.Database) -> None:
    # Late answers that failed were retried (bot.channels.wechat_api.retry_pending, gone): a row
    # is claimed (status 'sending' + claim_token) in one UPDATE before it is sent, so two
    # retry runs never send one answer twice. 'undeliverable' = a permanent WeChat refusal.
    table = db.table("wechat_pending")
    table.add_column("attempts", int, not_null_default=0)
    table.add_column("next_attempt_at", float)  # epoch seconds; NULL = due now
    table.add_column("claim_token", str)
    # Rows that failed before retries existed: a permanent refusal stays final.
    db.execute(
        "UPDATE wechat_pending SET status = 'undeliverable', attempts = 1 WHERE status = 'failed'"
        " AND error_code IN ('outside_48h_window', 'quota_exhausted', 'unfollowed',"
        " 'not_configured')"
    )


MIGRATIONS = [
    ("wechat_001_users_tokens_pending", _001_wechat),
    ("wechat_002_pending_retry", _002_pending_retry),
]
