"""Twilio inbound SMS webhook: POST /sms/twilio, answered with TwiML.

The provider (``TwilioSender`` in bot/channels/senders.py) checks the signature and
parses; bot/channels/gateway_webhooks.py runs the messages through the dialogue.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request

from bot.channels.gateway_webhooks import handle_inbound
from bot.channels.senders import TwilioSender

log = logging.getLogger(__name__)
bp = Blueprint("twilio_sms", __name__)


def provider() -> TwilioSender:
    # Not make_provider(): Twilio webhooks are served whatever SMS_PROVIDER sends.
    return TwilioSender(current_app.config)


def check_signature() -> None:
    """403 unless the request carries Twilio's signature (status callbacks use it)."""
    if not provider().authenticate(request):
        abort(403)


@bp.post("/sms/twilio")
def inbound() -> Response:
    return handle_inbound(provider())
