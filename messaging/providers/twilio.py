"""Twilio as an SMS provider (development and international use: no two-way SMS in
mainland China), sending through the twilio library. Its webhooks (signature check,
inbound SMS, status callbacks) are bot/channels/twilio_sms.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from messaging.providers.base import SendResult, SmsLimits
from storage.privacy import mask

log = logging.getLogger(__name__)

# Twilio errors after which retrying the same recipient is pointless.
PERMANENT_TWILIO_ERRORS = {21211, 21610, 21614, 21408, 21612}


class TwilioSender:
    """Sends through Twilio's Messages API; receipts come to ``status_callback``."""

    name = "twilio"
    replies_in_answer = True
    send_settings = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.from_number = config.get("TWILIO_FROM_NUMBER")
        base = str(config.get("HOTLINE_PUBLIC_URL") or "").rstrip("/")
        self.status_callback = base + "/sms/twilio/status" if base else None
        self.limits = self.default_limits(config)
        self._client: Any = None

    @classmethod
    def default_limits(cls, config: Mapping[str, Any]) -> SmsLimits:
        return SmsLimits(rate=1.0)  # a long code sends about 1 segment/s

    @property
    def client(self) -> Any:
        if self._client is None:  # built on first send: webhooks need no account SID
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            # The library waits forever by default: a hung connection would stall the
            # outbox. A timeout after the request went out is "in doubt" (never resent).
            timeout = float(self.config.get("SMS_GATEWAY_TIMEOUT") or 5)
            self._client = Client(
                self.config["TWILIO_ACCOUNT_SID"],
                self.config["TWILIO_AUTH_TOKEN"],
                http_client=TwilioHttpClient(timeout=timeout),
            )
        return self._client

    def send(self, to: str, text: str) -> SendResult:
        from twilio.base.exceptions import TwilioRestException

        kwargs: dict[str, Any] = {"to": to, "from_": self.from_number, "body": text}
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            # exc.msg may quote the number in clear (error 21211): log the code only.
            log.warning("Twilio send to %s failed: error %s", mask(to), exc.code)
            return SendResult(
                False, None, str(exc.code), permanent=exc.code in PERMANENT_TWILIO_ERRORS
            )
        return SendResult(True, message.sid)

    def send_template(
        self, to: str, template_id: str, params: Mapping[str, str] | Sequence[str]
    ) -> SendResult:
        # Twilio SMS has no approved-template requirement; its Content API is not used.
        return SendResult(False, None, "template_unsupported", permanent=True)
