"""Twilio webhooks: inbound SMS (POST /sms/twilio, answered with TwiML) and delivery
status callbacks for what the outbox sent (POST /sms/twilio/status).

``TwilioSms`` (the sender of messaging/providers/twilio.py, plus its webhook side)
checks the signature (X-Twilio-Signature over the public URL and every field) and
parses; bot/channels/gateway_webhooks.py runs messages through the dialogue and
receipts into the outbox, as for the domestic gateways. Error 21610 ("the recipient
replied STOP to the carrier") opts the subscriber out of every push.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Blueprint, Request, Response, current_app
from twilio.request_validator import RequestValidator

from bot.channels.gateway_webhooks import handle_inbound, handle_receipts
from bot.channels.sms_provider import BadRequest, DeliveryReceipt
from bot.messages import InboundMessage, Media
from messaging.providers.twilio import TwilioSender

log = logging.getLogger(__name__)
bp = Blueprint("twilio_sms", __name__)

# Twilio MessageStatus -> receipt status; anything else is not a receipt.
TWILIO_STATUS = {
    "queued": "sent",
    "accepted": "sent",
    "scheduled": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undeliverable",
    "failed": "failed",
    "canceled": "failed",
}
MAX_MEDIA = 10


_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def _xml_text(text: str) -> str:
    # What ElementTree escapes in element text (xml.etree.ElementTree._escape_cdata).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def twiml(replies: Sequence[str]) -> str:
    """The TwiML answer with one <Message> per reply: the very text twilio's
    ``MessagingResponse`` writes (tests/messaging/test_twilio_sms.py compares them on
    any text), without building an ElementTree per request: 0.17 ms of every answered
    SMS (docs/benchmarks.md). Written here for that reason only; the signature check
    stays twilio's own ``RequestValidator``."""
    if not replies:
        return _XML_DECLARATION + "<Response />"
    body = "".join(f"<Message>{_xml_text(r)}</Message>" if r else "<Message />" for r in replies)
    return f"{_XML_DECLARATION}<Response>{body}</Response>"


class TwilioSms(TwilioSender):
    def public_url(self, request: Request) -> str:
        """The URL Twilio signed: configured base + path + query, never request.url,
        which is wrong behind a proxy or TLS terminator."""
        base = str(self.config.get("HOTLINE_PUBLIC_URL") or "").rstrip("/")
        query = request.query_string.decode("latin-1")
        return base + request.path + (f"?{query}" if query else "")

    def authenticate(self, request: Request) -> bool:
        token = self.config.get("TWILIO_AUTH_TOKEN")
        if not token:
            log.error("TWILIO_AUTH_TOKEN is not set: refusing Twilio webhooks")
            return False
        signature = request.headers.get("X-Twilio-Signature", "")
        # All received fields are signed, including ones added after this was written.
        params = request.form.to_dict(flat=True)
        return bool(signature) and RequestValidator(token).validate(
            self.public_url(request), params, signature
        )

    def parse_inbound(self, request: Request) -> list[InboundMessage]:
        form = request.form
        sender = form.get("From", "").strip()
        message_sid = form.get("MessageSid", "").strip()
        if not sender or not message_sid:
            raise BadRequest("From and MessageSid are required")
        try:
            num_media = min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA)
        except ValueError:
            num_media = 0
        media = [
            Media(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
            for i in range(num_media)
            if form.get(f"MediaUrl{i}")
        ]
        return [InboundMessage("sms", sender, form.get("Body", ""), media, message_sid)]

    def parse_receipts(self, request: Request) -> list[DeliveryReceipt]:
        form = request.form
        sid = form.get("MessageSid", "").strip() or form.get("SmsSid", "").strip()
        status = form.get("MessageStatus", "").strip() or form.get("SmsStatus", "").strip()
        if not sid or not status:
            raise BadRequest("MessageSid and MessageStatus are required")
        mapped = TWILIO_STATUS.get(status.lower())
        if mapped is None:
            return []
        code = form.get("ErrorCode", "").strip() or None
        return [DeliveryReceipt(sid, mapped, code)]

    def ack(self, replies: Sequence[str] = ()) -> Response:
        return Response(twiml(replies), mimetype="application/xml")

    def reject(self, status: int, reason: str) -> Response:
        return Response(reason, status=status, mimetype="text/plain")


def provider() -> TwilioSms:
    # Not make_provider(): Twilio webhooks are served whatever SMS_PROVIDER sends.
    return TwilioSms(current_app.config)


@bp.post("/sms/twilio")
def inbound() -> Response:
    return handle_inbound(provider())


@bp.post("/sms/twilio/status")
def status() -> Response:
    return handle_receipts(provider())
