"""Aliyun SMS reply push (上行消息): POST /sms/aliyun?token=SECRET.

The body is a JSON array of ``{phone_number, content, send_time, dest_code,
sequence_id}``. Aliyun retries after 1, 5 and 10 minutes unless the answer is
``{"code": 0, "msg": "接收成功"}``, so that answer comes only once every message of the
push is stored and answered; each message is deduped on ``sequence_id``. Replies go
out by SMS through the sender (bot/channels/gateway_webhooks.py).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from bot.channels.gateway_webhooks import field, receive_push
from bot.messages import InboundMessage

log = logging.getLogger(__name__)
bp = Blueprint("aliyun_sms", __name__)

PROVIDER = "aliyun"
MALFORMED = {"code": 1, "msg": "报文格式错误"}
FORBIDDEN = {"code": 403, "msg": "forbidden"}


def parse(item: object) -> InboundMessage | None:
    if not isinstance(item, dict):
        return None
    phone = field(item, "phone_number")
    content = field(item, "content")
    sequence_id = field(item, "sequence_id")
    if not phone or not phone.strip() or content is None or not sequence_id:
        return None
    return InboundMessage("sms", phone.strip(), content, message_id=f"{sequence_id}")


@bp.post("/sms/aliyun")
def inbound() -> Response:
    receive_push(
        provider=PROVIDER,
        guard_setting="ALIYUN_SMS_WEBHOOK_SECRET",
        parse=parse,
        forbidden=FORBIDDEN,
        malformed=MALFORMED,
        empty_ok=True,  # Aliyun's batch push may be an empty array
    )
    return jsonify({"code": 0, "msg": "接收成功"})
