"""WeChat's customer-service message API (客服消息) as a sender: how the hotline writes
to a follower outside a passive reply (a late answer, a tip, an alert, a report update).

Rules this module enforces:
- An access token is cached (in memory and in the database, shared by every process)
  and refreshed 5 minutes before it expires; errcode 40001/40014/42001 (token invalid
  or expired) drops it and retries once with a fresh one.
- An ``errcode`` other than 0 inside an HTTP 200 body is an error, never a success.
- WeChat only accepts these messages within 48 hours of the follower's last message,
  and only a few per window: both are checked here before calling (the window clock
  and quota live in ``wechat_users``, kept here too) and WeChat's own 45015 / 45047
  are believed.

Contract for outbound code (``CHANNEL_SENDERS["wechat"]``): ``send(openid, text)``
returns ``SendResult``; on failure ``error_code`` is one of
``outside_48h_window``, ``quota_exhausted``, ``unfollowed``, ``not_configured`` (all
``permanent=True``: sending again through WeChat will not help, fall back to SMS or
record the message not deliverable), or ``network_error`` / ``wechat_<errcode>``
(``permanent=False``: may be retried later).

The inbound side (the push, the passive reply, late answers' own retry, photos by
MediaId) is bot/channels/wechat.py and bot/channels/wechat_api.py.
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

import requests
import sqlite_utils
from cryptography.fernet import Fernet, InvalidToken

from messaging.providers.base import CHANNEL_SENDERS, SendResult
from storage.clock import now_iso
from storage.privacy import Vault, load_vault, mask

log = logging.getLogger(__name__)

WINDOW_SECONDS = 48 * 3600
DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_INVALID = {40001, 40014, 42001}
OUTSIDE_WINDOW = 45015
OVER_QUOTA = 45047
UNFOLLOWED = 43004
REFRESH_MARGIN = 300  # seconds before expiry a token is replaced

# Outcomes where another WeChat attempt is pointless: the caller falls back to SMS.
PERMANENT_ERRORS = {"outside_48h_window", "quota_exhausted", "unfollowed", "not_configured"}

# -- the follower's window and the shared token (wechat_users, wechat_tokens) -----------


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
                cached = _memory_tokens.get(key) or load_token(self.db, self.vault, self.appid)
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
            save_token(self.db, self.vault, self.appid, token, expires_at)
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
        self.vault = vault or vault_for(config)
        self.quota = int(config.get("WECHAT_CS_QUOTA") or 5)

    @contextmanager
    def _db(self) -> Iterator[Any]:
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
            status = window_status(db, openid_hash, self.quota)
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
            count_sent(db, openid_hash)
        return SendResult(True, str(body.get("msgid") or "wechat"))

    def _failure(
        self, db: sqlite_utils.Database, openid_hash: str, to: str, exc: WeChatAPIError
    ) -> SendResult:
        log.warning("WeChat send to %s failed: %s", mask(to), exc)
        if exc.errcode == OUTSIDE_WINDOW:
            close_window(db, openid_hash)
            return SendResult(False, None, "outside_48h_window", permanent=True)
        if exc.errcode == OVER_QUOTA:
            return SendResult(False, None, "quota_exhausted", permanent=True)
        if exc.errcode == UNFOLLOWED:
            return SendResult(False, None, "unfollowed", permanent=True)
        return SendResult(False, None, f"wechat_{exc.errcode}")


def vault_for(config: dict[str, Any]) -> Vault:
    from flask import current_app, has_app_context

    if has_app_context() and "hotline_vault" in current_app.extensions:
        return current_app.extensions["hotline_vault"]
    return load_vault(Path(config["HOTLINE_VAR"]) / "keys.json")


def make_wechat_sender(config: dict[str, Any]) -> WeChatSender:
    return WeChatSender(config)


CHANNEL_SENDERS["wechat"] = make_wechat_sender
