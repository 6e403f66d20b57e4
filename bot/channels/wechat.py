"""WeChat Official Account (公众号) message push: GET /wechat (server verification) and
POST /wechat (messages and events), in plain mode and in safe mode (encrypt_type=aes).

WeChat waits 5 seconds for the passive reply, then retries (three tries in all). So the
dialogue runs in a worker thread; when it is not done within ``WECHAT_REPLY_WAIT``
seconds the request answers ``success`` (WeChat then shows nothing and stops retrying)
and the worker puts the answer in the one outbox when it is ready (kind ``late_answer``,
urgent): the drain sends it through the customer-service API within the 48-hour window,
by SMS to the number the follower gave when WeChat refuses, and records every attempt.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from flask import Blueprint, Response, abort, current_app, request

import responses
from bot import conversations, subscriptions
from bot.channels import deliver
from bot.channels.wechat_api import join_replies
from bot.channels.wechat_crypto import CryptoError, WeChatCrypto, check_signature
from bot.messages import InboundMessage
from bot.qr import wechat_media
from messaging import outbox
from messaging.providers import wechat as wechat_provider
from storage.db import get_db
from storage.privacy import get_vault

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)

PROVIDER = "wechat"
MAX_BODY = 64 * 1024  # WeChat pushes are a few hundred bytes
# Bounded: a slow model must not turn a burst of messages into a burst of threads.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="wechat-dialogue")


class BadXml(ValueError):
    pass


_DECLARED_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']"""
)


def _xml_text(data: bytes) -> str:
    """The pushed document as text. WeChat sends UTF-8; bytes that are not UTF-8 are
    read in the encoding their declaration names (GBK, GB18030, UTF-16: expat knows
    none of the multi-byte Chinese ones) and refused when that fails. Parsing the text,
    not the bytes, also keeps a declaration of an unknown encoding from reaching expat
    (a LookupError there was a 500)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    candidates = []
    declared = _DECLARED_ENCODING.match(data)
    if declared:
        candidates.append(declared.group(1).decode("ascii"))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        candidates.append("utf-16")
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeError):  # not a text codec, or not these bytes
            continue
    raise BadXml("not UTF-8 or the declared encoding")


def parse_xml(data: bytes | str) -> dict[str, str]:
    """The fields of a WeChat ``<xml>`` message. DTDs (and so entity expansion and
    external entities: XXE, billion laughs) are refused, never expanded. A field given
    twice is refused too: which FromUserName or Content would be the message's?"""
    text = _xml_text(data) if isinstance(data, bytes) else data
    try:
        root = SafeET.fromstring(text, forbid_dtd=True)
    except (DefusedXmlException, ParseError, ValueError, LookupError) as exc:
        raise BadXml(type(exc).__name__) from exc
    if root.tag != "xml":
        raise BadXml("root element is not <xml>")
    fields = {child.tag: (child.text or "").strip() for child in root}
    if len(fields) != len(root):
        raise BadXml("a field is given twice")
    return fields


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str) -> str:
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(content)}</Content></xml>"
    )


@dataclass
class Envelope:
    """How to answer the request being handled: plain or encrypted, to whom."""

    openid: str
    account: str
    crypto: WeChatCrypto | None
    nonce: str

    def reply(self, replies: list[str] | None) -> Response:
        content = join_replies(replies or [])
        if not content:
            return Response("success", mimetype="text/plain")
        xml = text_reply(self.openid, self.account, content)
        if self.crypto:
            xml = self.crypto.encrypt_reply(xml, str(int(time.time())), self.nonce)
        return Response(xml, mimetype="application/xml")


def _crypto() -> WeChatCrypto | None:
    config = current_app.config
    key, appid = config.get("WECHAT_ENCODING_AES_KEY"), config.get("WECHAT_APPID")
    if not key or not appid:
        return None
    try:
        return WeChatCrypto(config["WECHAT_TOKEN"], key, appid)
    except ValueError:
        log.error("WECHAT_ENCODING_AES_KEY is malformed: safe-mode messages refused")
        return None


def _token() -> str:
    token = current_app.config.get("WECHAT_TOKEN")
    if not token:
        log.error("WECHAT_TOKEN is not set: refusing WeChat requests")
        abort(403)
    return token


@bp.get("/wechat")
def verify() -> Response:
    """Server verification when the URL is saved in the WeChat console: echo echostr."""
    token = _token()
    args = request.args
    timestamp, nonce, echostr = (
        args.get("timestamp", ""),
        args.get("nonce", ""),
        args.get("echostr", ""),
    )
    if args.get("msg_signature"):
        # Safe-mode verification: echostr is encrypted and signed with msg_signature.
        crypto = _crypto()
        if crypto is None or not crypto.check(args["msg_signature"], timestamp, nonce, echostr):
            abort(403)
        try:
            return Response(crypto.decrypt(echostr), mimetype="text/plain")
        except CryptoError:
            abort(400, "echostr does not decrypt")
    if not check_signature(token, args.get("signature", ""), timestamp, nonce):
        abort(403)
    return Response(echostr, mimetype="text/plain")


# An openid: 28 characters of base64url in practice; nothing else is a follower (no
# spaces, direction marks or zero-width characters that would look like another id).
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# How far a push's timestamp may be from our clock (WeChat's retries come within 15 s).
MAX_CLOCK_SKEW = 300


def _allow_plain() -> bool:
    return str(current_app.config.get("WECHAT_ALLOW_PLAIN") or "").lower() in ("1", "true", "yes")


def _fresh(timestamp: str) -> bool:
    try:
        return abs(time.time() - int(timestamp)) <= MAX_CLOCK_SKEW
    except ValueError:
        return False


def _read_message() -> tuple[dict[str, str], WeChatCrypto | None]:
    """Verify and decode the pushed message: 403 on a bad signature, 400 on bad XML."""
    token = _token()
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if (request.content_length or 0) > MAX_BODY:
        abort(413)
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        abort(413)
    if not _fresh(timestamp):
        # The signature covers token, timestamp and nonce only: an old signed URL must
        # not be replayable with a body of someone's choosing.
        abort(403)
    if args.get("encrypt_type", "raw").lower() != "aes":
        if _crypto() is not None and not _allow_plain():
            # Safe mode is configured: a plain message is a downgrade, not WeChat.
            log.error(
                "plain WeChat push refused: safe mode is configured "
                "(set WECHAT_ALLOW_PLAIN=true only while the console is in 明文模式)"
            )
            abort(403)
        if not check_signature(token, args.get("signature", ""), timestamp, nonce):
            abort(403)
        try:
            return parse_xml(body), None
        except BadXml:
            abort(400, "malformed XML")
    crypto = _crypto()
    if crypto is None:
        log.error("safe-mode WeChat message but WECHAT_APPID / WECHAT_ENCODING_AES_KEY unset")
        abort(403)
    try:
        encrypted = parse_xml(body).get("Encrypt", "")
    except BadXml:
        abort(400, "malformed XML")
    if not encrypted:
        abort(400, "no Encrypt element")
    if not crypto.check(args.get("msg_signature", ""), timestamp, nonce, encrypted):
        abort(403)
    try:
        return parse_xml(crypto.decrypt(encrypted)), crypto
    except (CryptoError, BadXml):
        abort(400, "encrypted message does not decrypt to a WeChat message")


@bp.post("/wechat")
def inbound() -> Response:
    fields, crypto = _read_message()
    openid, account = fields.get("FromUserName", ""), fields.get("ToUserName", "")
    msg_type = fields.get("MsgType", "").lower()
    if not _OPENID.fullmatch(openid) or not msg_type:
        abort(400, "FromUserName (an openid) and MsgType are required")
    envelope = Envelope(openid, account, crypto, request.args.get("nonce", "")[:64])
    db, vault = get_db(), get_vault()
    # Events carry no MsgId: WeChat's retries of one event share FromUserName + CreateTime.
    # The openid is hashed here too: inbound_seen must not hold it in clear.
    created = fields.get("CreateTime", "")[:20]
    key = fields.get("MsgId", "")[:64] or f"ev:{vault.hash(openid)[:32]}:{created}"

    if msg_type == "event":
        event = fields.get("Event", "").lower()
        if event == "unsubscribe":
            if conversations.claim_message(db, PROVIDER, key) is None:
                # Unfollowing is an opt-out: no tip or alert goes to this openid again.
                subscriptions.unsubscribe(db, vault, openid, "wechat")
                conversations.remember_replies(db, PROVIDER, key, [])
            return envelope.reply(None)
        if event == "subscribe":
            wechat_provider.record_inbound(db, vault, openid)
            return envelope.reply(
                _fixed(key, openid, [_text("wechat.welcome"), responses.text("menu")])
            )
        if event == "click" and fields.get("EventKey"):
            # Custom-menu buttons are configured with the menu digits as keys.
            wechat_provider.record_inbound(db, vault, openid)
            message = InboundMessage("wechat", openid, fields["EventKey"][:20], [], key)
            return envelope.reply(answer_within_deadline(message))
        return envelope.reply(None)

    wechat_provider.record_inbound(db, vault, openid)
    if msg_type == "text":
        message = InboundMessage("wechat", openid, fields.get("Content", ""), [], key)
    elif msg_type == "image" and (fields.get("PicUrl") or fields.get("MediaId")):
        # PicUrl is on WeChat's media host (mmbiz.qpic.cn); bot.qr checks the allowlist.
        # PicUrl can expire: bot.qr falls back to the MediaId (temporary-media API).
        media = [wechat_media(fields.get("PicUrl", ""), fields.get("MediaId", ""))]
        message = InboundMessage("wechat", openid, "", media, key)
    elif msg_type == "voice" and fields.get("Recognition"):
        message = InboundMessage("wechat", openid, fields["Recognition"], [], key)
    elif msg_type == "link" and _link_text(fields):
        # A shared article or page (a fake 医保 notice): judged like a pasted message.
        message = InboundMessage("wechat", openid, _link_text(fields), [], key)
    elif msg_type == "voice":
        return envelope.reply(
            _fixed(key, openid, [_text("wechat.voice_unrecognised")], received="[voice]")
        )
    else:
        # Kept in the log as what it was (video, location, file...): nothing is lost.
        received = f"[{msg_type[:20]}]"
        return envelope.reply(_fixed(key, openid, [_text("wechat.unsupported")], received))
    return envelope.reply(answer_within_deadline(message))


def _link_text(fields: dict[str, str]) -> str:
    return "\n".join(v for v in (fields.get(k, "") for k in ("Title", "Description", "Url")) if v)


def _text(key: str) -> str:
    node: Any = responses.catalogue("wechat")  # nested dicts down to the text
    for part in key.split("."):
        node = node[part]
    return node.strip()


def _fixed(key: str, openid: str, replies: list[str], received: str | None = None) -> list[str]:
    """A reply that needs no dialogue, deduped and logged like one (``received``: what
    came in, logged first)."""
    db, vault = get_db(), get_vault()
    seen = conversations.claim_message(db, PROVIDER, key)
    if seen is not None:
        return seen
    sender_hash = vault.hash(openid)
    if received:
        conversations.log_message(db, sender_hash, "wechat", "in", received)
    for reply in replies:
        conversations.log_message(db, sender_hash, "wechat", "out", reply)
    conversations.remember_replies(db, PROVIDER, key, replies)
    return replies


class _Job:
    """Hand-over between the request (which may stop waiting) and the worker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.replies: list[str] = []
        self.abandoned = False

    def finish(self, replies: list[str]) -> bool:
        """False when the request already answered ``success``: the worker sends."""
        with self.lock:
            if self.abandoned:
                return False
            self.replies = replies
            self.done.set()
            return True

    def wait(self, timeout: float) -> bool:
        if self.done.wait(timeout):
            return True
        with self.lock:
            if self.done.is_set():
                return True
            self.abandoned = True
            return False


def answer_within_deadline(message: InboundMessage) -> list[str] | None:
    """The dialogue's replies if ready within WECHAT_REPLY_WAIT seconds, else None (the
    worker queues them in the outbox: ``send_late``)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    wait = float(app.config.get("WECHAT_REPLY_WAIT") or 4)
    job = _Job()

    def work() -> None:
        with app.app_context():
            try:
                replies = deliver(message, provider=PROVIDER)
            except Exception:
                log.exception("WeChat message failed")
                replies = [responses.text("system_busy")]
            if not job.finish(replies):
                send_late(message, replies)

    _executor.submit(work)
    return job.replies if job.wait(wait) else None


def send_late(message: InboundMessage, replies: list[str]) -> None:
    """Queue an answer that missed the passive reply (inside an app context): one outbox
    row, once per WeChat message however often WeChat pushes it, sent by the drain."""
    if not replies:
        return
    db, vault = get_db(), get_vault()
    key = message.message_id or secrets.token_hex(8)
    with db.atomic():
        outbox.enqueue(
            db,
            vault,
            kind="late_answer",
            channel=PROVIDER,
            contact=message.sender,
            text=join_replies(replies),
            idem_key=f"late:{PROVIDER}:{key}",
            urgent=True,  # they are waiting for it, at night too
            source=PROVIDER,
        )
        # A retry that arrives now must not get the answer a second time, passively.
        conversations.remember_replies(db, PROVIDER, key, [])
    outbox.wake()
