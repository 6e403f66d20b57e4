"""The inbound side the mainland-China SMS gateways share: their pushes (replies,
delivery receipts).

Neither gateway signs its pushes: the push URL carries a shared secret
(``?token=...``, compared in constant time), optionally narrowed to the gateway's
addresses (``SMS_GATEWAY_ALLOWED_IPS``, bot/channels/source_ip.py). Neither reads
replies from the HTTP answer: they go out as new SMS. Sending is
messaging/providers/gateway.py.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Request, Response, jsonify

from bot.channels import source_ip
from bot.channels.sms_provider import BadRequest, DeliveryReceipt
from bot.messages import InboundMessage

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # a push holds at most a few hundred short messages


def field(item: Mapping[str, Any], name: str) -> str | None:
    """A text or number field as a string; None when absent or of another type."""
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


class GatewayPush:
    """Mixed into a gateway's sender (AliyunSms, TencentSms): pushes authenticated by
    URL secret (+ allowlist), JSON answers."""

    name: str  # the provider's, from the sender it is mixed into
    guard_setting = ""
    config: Mapping[str, Any]
    ok_answer: dict[str, Any] = {}
    # Aliyun's batch push may legitimately be an empty array.
    empty_push_ok = False

    def authenticate(self, request: Request) -> bool:
        expected = self.config.get(self.guard_setting)
        if not expected:
            log.error("%s is not set: refusing %s", self.guard_setting, request.path)
            return False
        given = request.args.get("token", "")
        if not hmac.compare_digest(given.encode(), str(expected).encode()):
            log.warning("%s push with a missing or wrong token refused", request.path)
            return False
        return source_ip.allowed(request, self.config, "SMS_GATEWAY_ALLOWED_IPS")

    def _items(self, request: Request) -> list[Any]:
        """The pushed JSON (whatever Content-Type the gateway sent) as a list."""
        if (request.content_length or 0) > MAX_BODY:
            raise BadRequest("body too large", 413)
        data = request.get_json(force=True, silent=True)
        if data is None:
            raise BadRequest("body is not JSON")
        return data if isinstance(data, list) else [data]

    def _parse(self, request: Request, parse_item: Callable[[Any], Any], what: str) -> list[Any]:
        """Every usable element; 400 when none is. A malformed element among good ones
        is logged and skipped: a retry of the push would not mend it."""
        items = self._items(request)
        valid = [x for x in map(parse_item, items) if x is not None]
        if not valid and (items or not self.empty_push_ok):
            raise BadRequest(f"no usable {what}")
        if len(valid) < len(items):
            log.warning(
                "%s %s push: %d of %d malformed, skipped",
                self.name,
                what,
                len(items) - len(valid),
                len(items),
            )
        return valid

    def inbound_item(self, item: Any) -> InboundMessage | None:
        raise NotImplementedError

    def receipt_item(self, item: Any) -> DeliveryReceipt | None:
        raise NotImplementedError

    def parse_inbound(self, request: Request) -> list[InboundMessage]:
        return self._parse(request, self.inbound_item, "message")

    def parse_receipts(self, request: Request) -> list[DeliveryReceipt]:
        return self._parse(request, self.receipt_item, "receipt")

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        raise NotImplementedError

    def ack(self, replies: Sequence[str] = ()) -> Response:
        return jsonify(self.ok_answer)

    def reject(self, status: int, reason: str) -> Response:
        response = jsonify(self.error_body(status, reason))
        response.status_code = status
        return response
