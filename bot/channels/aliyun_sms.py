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

from bot.channels.gateway_webhooks import answer_by_sms, check_secret, field, json_body, refuse
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
    check_secret("ALIYUN_SMS_WEBHOOK_SECRET", FORBIDDEN)
    data = json_body(MALFORMED)
    items = data if isinstance(data, list) else [data]
    messages = [parse(item) for item in items]
    valid = [m for m in messages if m is not None]
    if items and not valid:
        refuse(400, MALFORMED)
    if len(valid) < len(items):
        # Retrying would not mend them: answered 0 below, so the good ones are not re-pushed.
        log.warning(
            "Aliyun push: %d of %d messages malformed, skipped", len(items) - len(valid), len(items)
        )
    for message in valid:
        answer_by_sms(message, PROVIDER)
    return jsonify({"code": 0, "msg": "接收成功"})
