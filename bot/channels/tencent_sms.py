"""Tencent Cloud SMS's pushes: replies and delivery receipts (sending is
messaging/providers/tencent.py).

- Replies (上行短信回调): POST /sms/tencent?token=SECRET, ``{extend, mobile,
  nationcode, sign, text, time}`` (a list of them is accepted too). Pushes carry no
  id: each is deduped on a hash of mobile + time + text (which also keeps the number
  out of the dedupe table).
- Delivery receipts (短信下发状态回调): POST /sms/tencent/status?token=SECRET, a list
  of ``{user_receive_time, nationcode, mobile, report_status, errmsg, description,
  sid}``; ``report_status`` SUCCESS or FAIL, ``sid`` the SerialNo.
- Both are answered ``{"result": 0, "errmsg": "OK"}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app

from bot.channels.gateway_push import GatewayPush, field
from bot.channels.gateway_webhooks import handle_inbound, handle_receipts
from bot.channels.sms_provider import DeliveryReceipt, make_provider
from bot.messages import InboundMessage
from messaging.providers.tencent import TencentSender

bp = Blueprint("tencent_sms", __name__)


def dedupe_key(mobile: str, time: str, text: str) -> str:
    return hashlib.sha256(f"{mobile}\x1f{time}\x1f{text}".encode()).hexdigest()


class TencentSms(TencentSender, GatewayPush):
    guard_setting = "TENCENT_SMS_WEBHOOK_SECRET"
    ok_answer = {"result": 0, "errmsg": "OK"}

    def inbound_item(self, item: Any) -> InboundMessage | None:
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

    def receipt_item(self, item: Any) -> DeliveryReceipt | None:
        if not isinstance(item, dict):
            return None
        sid = (field(item, "sid") or "").strip()
        report = (field(item, "report_status") or "").strip().upper()
        if not sid or report not in ("SUCCESS", "FAIL"):
            return None
        if report == "SUCCESS":
            return DeliveryReceipt(sid, "delivered", None, field(item, "user_receive_time"))
        code = (field(item, "errmsg") or "").strip() or "unknown"
        return DeliveryReceipt(sid, "undeliverable", code, field(item, "user_receive_time"))

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        return {"result": status, "errmsg": reason}


def _provider() -> TencentSms:
    return make_provider(current_app.config, "tencent", sending=False)  # type: ignore[return-value]


@bp.post("/sms/tencent")
def inbound() -> Response:
    return handle_inbound(_provider())


@bp.post("/sms/tencent/status")
def status() -> Response:
    return handle_receipts(_provider())
