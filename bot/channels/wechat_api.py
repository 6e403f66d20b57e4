"""WeChat late answers and photos: the parts of the WeChat API the inbound side needs.

Late answers (``wechat_pending``) that failed for a passing reason are resent by
``retry_pending`` (the scheduler runs it every minute); ``fetch_media`` downloads a
photo a follower sent by its MediaId (when its PicUrl fails). The sender itself
(customer-service messages, the 48-hour window, the access token) is
messaging/providers/wechat.py.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlite_utils

from bot.channels import wechat_store
from bot.qr.download import DownloadError, fetch_image
from messaging.providers.base import SendResult
from messaging.providers.wechat import (
    DEFAULT_BASE_URL,
    PERMANENT_ERRORS,
    WeChatAPIError,
    WeChatClient,
    WeChatNetworkError,
    WeChatSender,
    vault_for,
)
from storage.privacy import Vault

log = logging.getLogger(__name__)

__all__ = ["PERMANENT_ERRORS", "WeChatSender", "fetch_media", "join_replies", "retry_pending"]

# Late answers: attempts in all (the first one included), and the wait before attempt
# n+1: base * 2**(n-1) seconds, at most the cap (60 s, 2, 4, 8 min: done in 15 minutes,
# while the answer still matters and the 48-hour window is surely open).
RETRY_MAX_ATTEMPTS = 5
RETRY_BACKOFF_BASE = 60.0
RETRY_BACKOFF_MAX = 3600.0
RETRY_BATCH = 50
# Passive text replies are cut by WeChat at 2048 bytes.
MAX_REPLY_BYTES = 2000


def join_replies(replies: list[str]) -> str:
    """One WeChat text holds the answer: join the replies, within WeChat's limit."""
    text = ""
    for reply in replies:
        candidate = f"{text}\n\n{reply}" if text else reply
        if len(candidate.encode()) > MAX_REPLY_BYTES:
            break
        text = candidate
    return text


# -- late answers ------------------------------------------------------------------------


def retry_backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return min(RETRY_BACKOFF_MAX, RETRY_BACKOFF_BASE * 2 ** max(0, attempts - 1))


def settle_pending(
    db: sqlite_utils.Database,
    pending_id: int,
    claim_token: str,
    attempts: int,
    result: SendResult,
    at: float | None = None,
) -> str:
    """Record the outcome of a claimed late answer's attempt number ``attempts``;
    returns the row's new status."""
    if result.ok:
        status, retry_at = "sent", None
    elif result.permanent:
        # WeChat will not take it (window over, quota used, unfollowed): for good.
        status, retry_at = "undeliverable", None
    else:
        status = "failed"
        retry_at = (time.time() if at is None else at) + retry_backoff(attempts)
    wechat_store.finish_pending(
        db, pending_id, claim_token, status, None if result.ok else result.error_code, retry_at
    )
    return status


@dataclass
class RetryStats:
    sent: int = 0
    failed: int = 0
    undeliverable: int = 0


def retry_pending(
    db: sqlite_utils.Database,
    vault: Vault,
    sender: Any,
    *,
    max_attempts: int = RETRY_MAX_ATTEMPTS,
    at: float | None = None,
    limit: int = RETRY_BATCH,
) -> RetryStats:
    """Resend the late answers that are due: pending or failed, fewer than
    ``max_attempts`` attempts. ``sender`` is the WeChat sender (``send(openid, text)``)."""
    at = time.time() if at is None else at
    token = secrets.token_hex(16)
    stats = RetryStats()
    rows = wechat_store.claim_pending(db, token, max_attempts, at, limit)
    try:
        for row in rows:
            openid = wechat_store.openid_for(db, vault, row["openid_hash"])
            if openid is None:
                result = SendResult(False, None, "unknown_follower", permanent=True)
            else:
                text = join_replies(json.loads(row["replies"]))
                result = sender.send(openid, text)
            status = settle_pending(db, row["id"], token, row["attempts"] + 1, result, at)
            setattr(stats, status, getattr(stats, status) + 1)
            if not result.ok:
                log.info("late WeChat answer %s: %s (%s)", row["id"], status, result.error_code)
    finally:
        # An error mid-run: rows not yet tried go back (never sent, so safe to retry).
        wechat_store.release_pending(db, token)
    return stats


# -- photos by MediaId -------------------------------------------------------------------


def fetch_media(media_id: str, config: dict[str, Any], *, max_bytes: int, timeout: float) -> bytes:
    """The image a follower sent, from the temporary-media API (media/get), with the
    checks of bot.qr.download (size cap, image content type, timeout). DownloadError
    otherwise; WeChat's errcode answer is JSON, so it fails the image check."""
    appid, secret = config.get("WECHAT_APPID"), config.get("WECHAT_APPSECRET")
    if not appid or not secret:
        raise DownloadError("http_error", "WeChat API not configured")
    from storage.db import connect

    db = connect(config["HOTLINE_DB"], migrate_schema=False)
    try:
        client = WeChatClient(
            appid,
            secret,
            db,
            vault_for(config),
            base_url=config.get("WECHAT_API_BASE") or DEFAULT_BASE_URL,
            timeout=float(config.get("WECHAT_API_TIMEOUT") or 5),
        )
        try:
            token = client.access_token()
        except (WeChatAPIError, WeChatNetworkError) as exc:
            raise DownloadError("http_error", f"no access token ({type(exc).__name__})") from None
    finally:
        db.conn.close()
    parts = urlsplit(client.base_url)
    # Only the configured API host (with its port, for a test server) may be asked.
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
    query = urlencode({"access_token": token, "media_id": media_id})
    fetched = fetch_image(
        f"{client.base_url}/cgi-bin/media/get?{query}",
        allowlist=[host],
        max_bytes=max_bytes,
        timeout=timeout,
        session=client.session,
    )
    return fetched.data
