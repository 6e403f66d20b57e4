"""The WeChat customer-service message API (客服消息): how the hotline writes to a
follower outside a passive reply (a late answer, a tip, an alert, a report update).

Rules this module enforces:
- An access token is cached (in memory and in the database, shared by every process)
  and refreshed 5 minutes before it expires; errcode 40001/40014/42001 (token invalid
  or expired) drops it and retries once with a fresh one.
- An ``errcode`` other than 0 inside an HTTP 200 body is an error, never a success.
- WeChat only accepts these messages within 48 hours of the follower's last message,
  and only a few per window: both are checked here before calling (the window clock
  and quota live in ``wechat_users``) and WeChat's own 45015 / 45047 are believed.

Contract for outbound code (``CHANNEL_SENDERS["wechat"]``): ``send(openid, text)``
returns ``SendResult``; on failure ``error_code`` is one of
``outside_48h_window``, ``quota_exhausted``, ``unfollowed``, ``not_configured`` (all
``permanent=True``: sending again through WeChat will not help, fall back to SMS or
record the message not deliverable), or ``network_error`` / ``wechat_<errcode>``
(``permanent=False``: may be retried later).

Late answers are rows of the one outbox (kind ``late_answer``): the drain sends them
with this sender, retries passing failures and falls back to SMS on a permanent one
(bot/outreach/outbox.py). ``fetch_media`` downloads a photo a follower sent by its
MediaId (when its PicUrl fails).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import sqlite_utils

from bot.channels import wechat_store
from bot.channels.senders import CHANNEL_SENDERS, SendResult
from bot.qr.download import DownloadError, fetch_image
from storage.privacy import Vault, load_vault, mask

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_INVALID = {40001, 40014, 42001}
OUTSIDE_WINDOW = 45015
OVER_QUOTA = 45047
UNFOLLOWED = 43004
REFRESH_MARGIN = 300  # seconds before expiry a token is replaced

# Outcomes where another WeChat attempt is pointless: the caller falls back to SMS.
PERMANENT_ERRORS = {"outside_48h_window", "quota_exhausted", "unfollowed", "not_configured"}
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


class WeChatAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat API errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatNetworkError(Exception):
    """The API could not be reached (message carries no URL: the secret stays out of logs)."""


_memory_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_token_lock = threading.Lock()


class WeChatClient:
    def __init__(
        self,
        appid: str,
        secret: str,
        db: sqlite_utils.Database,
        vault: Vault,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.db = db
        self.vault = vault
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    # -- access token -------------------------------------------------------------
    def access_token(self, *, force: bool = False) -> str:
        key = (self.base_url, self.appid)
        with _token_lock:
            now = time.time()
            if not force:
                cached = _memory_tokens.get(key) or wechat_store.load_token(
                    self.db, self.vault, self.appid
                )
                if cached and cached[1] - REFRESH_MARGIN > now:
                    _memory_tokens[key] = cached
                    return cached[0]
            # stable_token keeps the secret out of the URL (and out of proxy logs), and
            # does not invalidate the token other processes hold unless forced.
            body = self._post_json(
                "/cgi-bin/stable_token",
                {
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                    "force_refresh": force,
                },
            )
            token = body.get("access_token")
            if not token:
                raise WeChatAPIError(-1, "no access_token in answer")
            expires_at = now + int(body.get("expires_in") or 7200)
            _memory_tokens[key] = (token, expires_at)
            wechat_store.save_token(self.db, self.vault, self.appid, token, expires_at)
            return token

    def _drop_token(self) -> None:
        _memory_tokens.pop((self.base_url, self.appid), None)

    # -- calls --------------------------------------------------------------------
    def _post_json(
        self, path: str, payload: dict[str, Any], params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            response = self.session.post(
                self.base_url + path,
                params=params,
                data=json.dumps(payload, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise WeChatNetworkError(type(exc).__name__) from None
        if response.status_code != 200:
            raise WeChatNetworkError(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise WeChatNetworkError("answer is not JSON") from None
        if not isinstance(body, dict):
            raise WeChatNetworkError("answer is not a JSON object")
        # An HTTP 200 can carry an error: only errcode 0 (or none) is a success.
        errcode = body.get("errcode", 0)
        if errcode not in (0, None, "0"):
            try:
                code = int(errcode)
            except (TypeError, ValueError):
                code = -1
            raise WeChatAPIError(code, str(body.get("errmsg", "")))
        return body

    def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST an API call with the access token; one retry on an invalid token."""
        try:
            return self._post_json(path, payload, {"access_token": self.access_token()})
        except WeChatAPIError as exc:
            if exc.errcode not in TOKEN_INVALID:
                raise
            log.warning("WeChat access token rejected (%s): refreshing once", exc.errcode)
            self._drop_token()
            token = self.access_token(force=True)
            return self._post_json(path, payload, {"access_token": token})

    def send_text(self, openid: str, text: str) -> dict[str, Any]:
        return self.call(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": text}},
        )


class WeChatSender:
    """``CHANNEL_SENDERS["wechat"]``: customer-service messages, inside the window only."""

    name = "wechat"

    def __init__(self, config: dict[str, Any], vault: Vault | None = None) -> None:
        self.config = config
        self.vault = vault or _vault_for(config)
        self.quota = int(config.get("WECHAT_CS_QUOTA") or 5)

    @contextmanager
    def _db(self) -> Iterator[sqlite_utils.Database]:
        from storage.db import connect

        db = connect(self.config["HOTLINE_DB"], migrate_schema=False)
        try:
            yield db
        finally:
            db.conn.close()

    def send(self, to: str, text: str) -> SendResult:
        appid, secret = self.config.get("WECHAT_APPID"), self.config.get("WECHAT_APPSECRET")
        if not appid or not secret:
            return SendResult(False, None, "not_configured", permanent=True)
        openid_hash = self.vault.hash(to)
        with self._db() as db:
            status = wechat_store.window_status(db, openid_hash, self.quota)
            if status != "open":
                log.info("WeChat message to %s not sent: %s", mask(to), status)
                return SendResult(False, None, status, permanent=True)
            client = WeChatClient(
                appid,
                secret,
                db,
                self.vault,
                base_url=self.config.get("WECHAT_API_BASE") or DEFAULT_BASE_URL,
                timeout=float(self.config.get("WECHAT_API_TIMEOUT") or 5),
            )
            try:
                body = client.send_text(to, text)
            except WeChatAPIError as exc:
                return self._failure(db, openid_hash, to, exc)
            except WeChatNetworkError as exc:
                log.warning("WeChat API unreachable sending to %s: %s", mask(to), exc)
                return SendResult(False, None, "network_error")
            wechat_store.count_sent(db, openid_hash)
        return SendResult(True, str(body.get("msgid") or "wechat"))

    def _failure(
        self, db: sqlite_utils.Database, openid_hash: str, to: str, exc: WeChatAPIError
    ) -> SendResult:
        log.warning("WeChat send to %s failed: %s", mask(to), exc)
        if exc.errcode == OUTSIDE_WINDOW:
            wechat_store.close_window(db, openid_hash)
            return SendResult(False, None, "outside_48h_window", permanent=True)
        if exc.errcode == OVER_QUOTA:
            return SendResult(False, None, "quota_exhausted", permanent=True)
        if exc.errcode == UNFOLLOWED:
            return SendResult(False, None, "unfollowed", permanent=True)
        return SendResult(False, None, f"wechat_{exc.errcode}")


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
            _vault_for(config),
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


def _vault_for(config: dict[str, Any]) -> Vault:
    from flask import current_app, has_app_context

    if has_app_context() and "hotline_vault" in current_app.extensions:
        return current_app.extensions["hotline_vault"]
    return load_vault(Path(config["HOTLINE_VAR"]) / "keys.json")


def make_wechat_sender(config: dict[str, Any]) -> WeChatSender:
    return WeChatSender(config)


CHANNEL_SENDERS["wechat"] = make_wechat_sender
