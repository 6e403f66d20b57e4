"""Twilio webhooks: inbound SMS (POST /sms/twilio, answered with TwiML) and delivery
status callbacks for what the outbox sent (POST /sms/twilio/status).

The provider (``TwilioSender`` in bot/channels/senders.py) checks the signature and
parses; bot/channels/gateway_webhooks.py runs messages through the dialogue and
receipts into the outbox, as for the domestic gateways. Error 21610 ("the recipient
replied STOP to the carrier") opts the subscriber out of every push.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app

from bot.channels.gateway_webhooks import handle_inbound, handle_receipts
from bot.channels.senders import TwilioSender

log = logging.getLogger(__name__)
bp = Blueprint("twilio_sms", __name__)


def provider() -> TwilioSender:
    # Not make_provider(): Twilio webhooks are served whatever SMS_PROVIDER sends.
    return TwilioSender(current_app.config)


@bp.post("/sms/twilio")
def inbound() -> Response:
    return handle_inbound(provider())


@bp.post("/sms/twilio/status")
def status() -> Response:
    return handle_receipts(provider())
