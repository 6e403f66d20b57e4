"""Tencent Cloud SMS reply push (上行短信回调): POST /sms/tencent?token=SECRET.

The body is ``{extend, mobile, nationcode, sign, text, time}`` (a list of them is
accepted too); the answer is ``{"result": 0, "errmsg": "OK"}``. Pushes carry no id, so
each message is deduped on a hash of mobile + time + text (the hash also keeps the
number out of the dedupe table). Replies go out by SMS through the sender
(bot/channels/gateway_webhooks.py).
"""

from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, Response, jsonify

from bot.channels.gateway_webhooks import field, receive_push
from bot.messages import InboundMessage

log = logging.getLogger(__name__)
bp = Blueprint("tencent_sms", __name__)

PROVIDER = "tencent"
MALFORMED = {"result": 1, "errmsg": "malformed body"}
FORBIDDEN = {"result": 403, "errmsg": "forbidden"}


def dedupe_key(mobile: str, time: str, text: str) -> str:
    return hashlib.sha256(f"{mobile}\x1f{time}\x1f{text}".encode()).hexdigest()


def parse(item: object) -> InboundMessage | None:
    if not isinstance(item, dict):
        return None
    mobile = (field(item, "mobile") or "").strip()
    text = field(item, "text")
    time = field(item, "time")
    if not mobile or text is None or not time:
        return None
    nationcode = (field(item, "nationcode") or "").strip().lstrip("+")
    sender = f"+{nationcode}{mobile}" if nationcode and not mobile.startswith("+") else mobile
    return InboundMessage("sms", sender, text, message_id=dedupe_key(mobile, time, text))


@bp.post("/sms/tencent")
def inbound() -> Response:
    receive_push(
        provider=PROVIDER,
        guard_setting="TENCENT_SMS_WEBHOOK_SECRET",
        parse=parse,
        forbidden=FORBIDDEN,
        malformed=MALFORMED,
    )
    return jsonify({"result": 0, "errmsg": "OK"})
