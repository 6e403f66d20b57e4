"""Twilio delivery-status callbacks: POST /sms/twilio/status updates the outbox row
whose MessageSid Twilio reports (sent -> delivered | undelivered | failed).

Signed like the inbound webhook and handled like the gateways' receipts
(bot/channels/gateway_webhooks.py ``handle_receipts``). Error 21610
("the recipient replied STOP to the carrier") opts the subscriber out of every push.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from bot.channels.gateway_webhooks import handle_receipts
from bot.channels.sms_provider import make_provider

bp = Blueprint("twilio_status", __name__)  # CSRF-exempt by name in bot/app.py


@bp.post("/sms/twilio/status")
def twilio_status() -> Response:
    # The same path as the gateways' receipts: authenticate, parse, apply to the outbox.
    return handle_receipts(make_provider(current_app.config, "twilio", sending=False))
