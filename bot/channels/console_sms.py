"""The console provider's webhook side: POST /sms/console, from this machine only,
JSON ``{"from", "text", "id"}``, the replies in the JSON answer (the route is in
bot/channels/gateway_webhooks.py). Sending is messaging/providers/console.py."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from flask import Request, Response, jsonify

from bot.channels.sms_provider import BadRequest, DeliveryReceipt
from bot.messages import InboundMessage
from messaging.providers.console import ConsoleSender


def json_reject(status: int, reason: str) -> Response:
    response = jsonify({"error": reason})
    response.status_code = status
    return response


class ConsoleSms(ConsoleSender):
    def authenticate(self, request: Request) -> bool:
        # This machine only, JSON only and the console token: a browser page on this
        # machine can post text/plain to localhost without asking, but cannot send a
        # JSON body or a custom header cross-site without a CORS preflight we refuse.
        if request.remote_addr not in ("127.0.0.1", "::1") or not request.is_json:
            return False
        given = request.headers.get("X-Console-Token", "")
        return bool(self.token) and hmac.compare_digest(
            given.encode("utf-8", "replace"), self.token.encode()
        )

    def parse_inbound(self, request: Request) -> list[InboundMessage]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("expected a JSON object with from and text")
        sender, text, msg_id = data.get("from"), data.get("text"), data.get("id")
        if not isinstance(sender, str) or not sender.strip() or not isinstance(text, str):
            raise BadRequest("from and text are required")
        return [InboundMessage("sms", sender.strip(), text, message_id=str(msg_id or "") or None)]

    def parse_receipts(self, request: Request) -> list[DeliveryReceipt]:
        return []  # nothing is really sent: nothing is ever delivered

    def ack(self, replies: Sequence[str] = ()) -> Response:
        return jsonify({"replies": list(replies)})

    def reject(self, status: int, reason: str) -> Response:
        return json_reject(status, reason)
