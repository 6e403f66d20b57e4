"""Outbound messages the hotline starts (tips, alerts, report updates), per channel,
and the two SMS providers without an SDK of their own here: console and Twilio.

SMS is pluggable because Twilio cannot do two-way SMS in mainland China: production
there uses a domestic gateway (bot/channels/aliyun_sms.py, tencent_sms.py); the
provider is picked in one place, bot/channels/sms_provider.py (``SMS_PROVIDER``).
"""

from __future__ import annotations

import hmac
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TextIO

from flask import Request, Response, jsonify

from bot.channels.sms_provider import (
    BadRequest,
    DeliveryReceipt,
    SendResult,
    SmsLimits,
    SmsProvider,
    make_provider,
)
from bot.messages import InboundMessage, Media
from storage.privacy import mask

log = logging.getLogger(__name__)

__all__ = [
    "CHANNEL_SENDERS",
    "ConsoleSender",
    "SendResult",
    "SmsSender",
    "TwilioSender",
    "make_sender",
    "sender_for",
]


class SmsSender(Protocol):
    """What outbound code needs of any channel's sender (SMS providers, WeChat)."""

    name: str

    def send(self, to: str, text: str) -> SendResult: ...


def _json_reject(status: int, reason: str) -> Response:
    response = jsonify({"error": reason})
    response.status_code = status
    return response


class ConsoleSender:
    """Development provider: prints outbound SMS (recipient masked) instead of sending
    them. Its webhook (POST /sms/console, JSON ``{"from", "text", "id"}``) answers
    from this machine only, with the replies in the JSON answer."""

    name = "console"
    replies_in_answer = True
    send_settings: tuple[str, ...] = ()

    def __init__(self, config: Mapping[str, Any] | None = None, out: TextIO | None = None) -> None:
        self.out = out
        self.sent: list[tuple[str, str]] = []
        self._count = 0
        self.limits = self.default_limits(config or {})
        self.token = str((config or {}).get("SMS_CONSOLE_TOKEN") or "")

    @classmethod
    def default_limits(cls, config: Mapping[str, Any]) -> SmsLimits:
        return SmsLimits(rate=1.0)  # paced like a Twilio long code, so dev runs look real

    def send(self, to: str, text: str) -> SendResult:
        self._count += 1
        self.sent.append((to, text))
        print(f"[console SMS -> {mask(to)}] {text}", file=self.out or sys.stdout, flush=True)
        return SendResult(ok=True, provider_id=f"console-{self._count}")

    def send_template(
        self, to: str, template_id: str, params: Mapping[str, str] | Sequence[str]
    ) -> SendResult:
        values = dict(params) if isinstance(params, Mapping) else list(params)
        return self.send(to, f"[template {template_id}] {values}")

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
        return _json_reject(status, reason)


# Twilio errors after which retrying the same recipient is pointless.
PERMANENT_TWILIO_ERRORS = {21211, 21610, 21614, 21408, 21612}
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


class TwilioSender:
    """Twilio: development and international use (no two-way SMS in mainland China).
    Inbound webhooks are signed (X-Twilio-Signature over the public URL and every
    field); replies go back as TwiML."""

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

    def public_url(self, request: Request) -> str:
        """The URL Twilio signed: configured base + path + query, never request.url,
        which is wrong behind a proxy or TLS terminator."""
        base = str(self.config.get("HOTLINE_PUBLIC_URL") or "").rstrip("/")
        query = request.query_string.decode("latin-1")
        return base + request.path + (f"?{query}" if query else "")

    def authenticate(self, request: Request) -> bool:
        from twilio.request_validator import RequestValidator

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
        from twilio.twiml.messaging_response import MessagingResponse

        response = MessagingResponse()
        for reply in replies:
            response.message(reply)
        return Response(str(response), mimetype="application/xml")

    def reject(self, status: int, reason: str) -> Response:
        return Response(reason, status=status, mimetype="text/plain")


def make_sender(config: Mapping[str, Any]) -> SmsProvider:
    """The configured SMS provider, ready to send (bot/channels/sms_provider.py)."""
    return make_provider(config)


# Channel name -> factory(config) -> sender, for messages the hotline starts.
# Channels other than SMS register theirs here (WeChat: the customer-service API).
CHANNEL_SENDERS: dict[str, Callable[[dict[str, Any]], SmsSender]] = {"sms": make_sender}


def sender_for(channel: str, config: dict[str, Any]) -> SmsSender | None:
    """The sender for ``channel``, or None when the channel cannot push (web chat)."""
    factory = CHANNEL_SENDERS.get(channel)
    return factory(config) if factory else None
