"""Twilio inbound SMS webhook: POST /sms/twilio, answered with TwiML."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels import deliver
from bot.messages import InboundMessage, Media

log = logging.getLogger(__name__)
bp = Blueprint("twilio_sms", __name__)

MAX_MEDIA = 10


def public_url() -> str:
    """The URL Twilio signed: configured base + path + query, never request.url, which
    is wrong behind a proxy or TLS terminator."""
    base = current_app.config["HOTLINE_PUBLIC_URL"].rstrip("/")
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


def check_signature() -> None:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        log.error("TWILIO_AUTH_TOKEN is not set: refusing Twilio webhooks")
        abort(403)
    signature = request.headers.get("X-Twilio-Signature", "")
    # All received fields are signed, including ones added after this was written.
    params = request.form.to_dict(flat=True)
    if not signature or not RequestValidator(token).validate(public_url(), params, signature):
        abort(403)


def twiml(replies: list[str]) -> Response:
    response = MessagingResponse()
    for reply in replies:
        response.message(reply)
    return Response(str(response), mimetype="application/xml")


@bp.post("/sms/twilio")
def inbound() -> Response:
    check_signature()
    form = request.form
    sender = form.get("From", "").strip()
    message_sid = form.get("MessageSid", "").strip()
    if not sender or not message_sid:
        abort(400, "From and MessageSid are required")
    try:
        num_media = min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        num_media = 0
    media = [
        Media(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
        for i in range(num_media)
        if form.get(f"MediaUrl{i}")
    ]
    message = InboundMessage("sms", sender, form.get("Body", ""), media, message_sid)
    return twiml(deliver(message, provider="twilio"))
