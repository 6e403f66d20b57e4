"""Twilio delivery-status callbacks: POST /sms/twilio/status updates the outbox row
whose MessageSid Twilio reports (sent -> delivered | undelivered | failed).

Signed like the inbound webhook, checked by the same ``check_signature``. Error 21610
("the recipient replied STOP to the carrier") opts the subscriber out of every push.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request

from bot.channels.twilio_sms import check_signature
from bot.outreach import outbox
from storage.db import get_db

log = logging.getLogger(__name__)
bp = Blueprint("twilio_status", __name__)  # CSRF-exempt by name in bot/app.py


@bp.post("/sms/twilio/status")
def twilio_status() -> Response:
    check_signature()
    sid = request.form.get("MessageSid", "").strip() or request.form.get("SmsSid", "").strip()
    status = (
        request.form.get("MessageStatus", "").strip() or request.form.get("SmsStatus", "").strip()
    )
    if not sid or not status:
        abort(400, "MessageSid and MessageStatus are required")
    outcome = outbox.apply_status(get_db(), sid, status, request.form.get("ErrorCode"))
    if outcome == "unknown":
        # Not one of ours (a reply sent as TwiML, or another app on the account).
        log.info("status callback for an unknown MessageSid ignored")
    return Response("", status=204)
