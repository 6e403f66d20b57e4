"""WeChat late answers and photos: the parts of the WeChat API the inbound side needs.

Late answers are rows of the one outbox (kind ``late_answer``): the drain sends them
with the WeChat sender (messaging/providers/wechat.py: customer-service messages, the
48-hour window, the access token), retries passing failures and falls back to SMS on a
permanent one (outreach/outbox.py). ``fetch_media`` downloads a photo a follower
sent by its MediaId (when its PicUrl fails).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from bot.qr.download import DownloadError, fetch_image
from messaging.providers.wechat import (
    DEFAULT_BASE_URL,
    WeChatAPIError,
    WeChatClient,
    WeChatNetworkError,
    vault_for,
)

log = logging.getLogger(__name__)

__all__ = ["fetch_media", "join_replies"]

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
