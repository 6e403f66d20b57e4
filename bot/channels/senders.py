"""Outbound SMS for messages the hotline starts (tips, alerts, report updates).

Pluggable because Twilio cannot do two-way SMS in mainland China: production there
uses a domestic gateway; development uses the console.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from storage.privacy import mask

log = logging.getLogger(__name__)


@dataclass
class SendResult:
    ok: bool
    provider_id: str | None = None
    error_code: str | None = None
    permanent: bool = False  # True: retrying will not help (e.g. opted out at carrier)


class SmsSender(Protocol):
    name: str

    def send(self, to: str, text: str) -> SendResult: ...


class ConsoleSender:
    """Prints outbound SMS (recipient masked) instead of sending them."""

    name = "console"

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out
        self.sent: list[tuple[str, str]] = []
        self._count = 0

    def send(self, to: str, text: str) -> SendResult:
        self._count += 1
        self.sent.append((to, text))
        print(f"[console SMS -> {mask(to)}] {text}", file=self.out or sys.stdout, flush=True)
        return SendResult(ok=True, provider_id=f"console-{self._count}")


# Twilio errors after which retrying the same recipient is pointless.
PERMANENT_TWILIO_ERRORS = {21211, 21610, 21614, 21408, 21612}


class TwilioSender:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        status_callback: str | None = None,
    ) -> None:
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token)
        self.from_number = from_number
        self.status_callback = status_callback

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


def make_sender(config: dict[str, Any]) -> SmsSender:
    provider = config.get("HOTLINE_SMS_PROVIDER") or "console"
    if provider == "console":
        return ConsoleSender()
    if provider == "twilio":
        missing = [
            k
            for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")
            if not config.get(k)
        ]
        if missing:
            raise RuntimeError(f"HOTLINE_SMS_PROVIDER=twilio needs {', '.join(missing)}")
        return TwilioSender(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            config["TWILIO_FROM_NUMBER"],
            status_callback=config["HOTLINE_PUBLIC_URL"].rstrip("/") + "/sms/twilio/status",
        )
    if provider in ("aliyun", "tencent"):
        # Mainland China: Twilio cannot do two-way SMS there (bot/channels/gateway_senders.py).
        from bot.channels import gateway_senders

        if provider == "aliyun":
            return gateway_senders.make_aliyun_sender(config)
        return gateway_senders.make_tencent_sender(config)
    raise RuntimeError(
        f"unknown HOTLINE_SMS_PROVIDER {provider!r} (console, twilio, aliyun or tencent)"
    )


# Channel name -> factory(config) -> sender, for messages the hotline starts.
# Channels other than SMS register theirs here (WeChat: the customer-service API).
CHANNEL_SENDERS: dict[str, Callable[[dict[str, Any]], SmsSender]] = {"sms": make_sender}


def sender_for(channel: str, config: dict[str, Any]) -> SmsSender | None:
    """The sender for ``channel``, or None when the channel cannot push (web chat)."""
    factory = CHANNEL_SENDERS.get(channel)
    return factory(config) if factory else None
