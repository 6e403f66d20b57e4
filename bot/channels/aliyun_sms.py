"""Aliyun SMS's pushes: replies and delivery receipts (sending is
messaging/providers/aliyun.py).

- Replies (上行消息, SmsUp): POST /sms/aliyun?token=SECRET, a JSON array of
  ``{phone_number, content, send_time, dest_code, sequence_id}``; deduped on
  ``sequence_id``.
- Delivery receipts (SmsReport): POST /sms/aliyun/report?token=SECRET, a JSON array
  of ``{phone_number, send_time, report_time, success, err_code, err_msg, sms_size,
  biz_id, out_id}``.
- Both pushes are answered ``{"code": 0, "msg": "接收成功"}`` once everything in them
  is stored; Aliyun retries after 1, 5 and 10 minutes otherwise.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from bot.channels.gateway_push import GatewayPush, field
from bot.channels.gateway_webhooks import handle_inbound, handle_receipts
from bot.channels.sms_provider import DeliveryReceipt, make_provider
from bot.messages import InboundMessage
from messaging.providers.aliyun import AliyunSender

bp = Blueprint("aliyun_sms", __name__)


class AliyunSms(AliyunSender, GatewayPush):
    guard_setting = "ALIYUN_SMS_WEBHOOK_SECRET"
    ok_answer = {"code": 0, "msg": "接收成功"}
    empty_push_ok = True

    def inbound_item(self, item: Any) -> InboundMessage | None:
        if not isinstance(item, dict):
            return None
        phone = field(item, "phone_number")
        content = field(item, "content")
        sequence_id = field(item, "sequence_id")
        if not phone or not phone.strip() or content is None or not sequence_id:
            return None
        return InboundMessage("sms", phone.strip(), content, message_id=sequence_id)

    def receipt_item(self, item: Any) -> DeliveryReceipt | None:
        if not isinstance(item, dict):
            return None
        biz_id = (field(item, "biz_id") or "").strip()
        success = item.get("success")
        if isinstance(success, str):  # tolerate "true" / "false"
            success = {"true": True, "false": False}.get(success.strip().lower())
        if not biz_id or not isinstance(success, bool):
            return None
        code = None if success else (field(item, "err_code") or "").strip() or "unknown"
        status = "delivered" if success else "undeliverable"
        # A batch call's numbers share its BizId: the number tells their receipts apart.
        phone = (field(item, "phone_number") or "").strip() or None
        return DeliveryReceipt(biz_id, status, code, field(item, "report_time"), phone)

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        return {"code": status, "msg": reason}


def _provider() -> AliyunSms:
    return make_provider(current_app.config, "aliyun", sending=False)  # type: ignore[return-value]


@bp.post("/sms/aliyun")
def inbound() -> Response:
    return handle_inbound(_provider())


@bp.post("/sms/aliyun/report")
def report() -> Response:
    return handle_receipts(_provider())
