"""The inbound side of every SMS provider, and the one place that picks it.

The sending side lives in messaging/providers/ (one module per provider, picked by
``SMS_PROVIDER``). Each provider's class here extends its sender with what its
webhooks need: proving a request came from the provider (``authenticate``), turning
the request into ``InboundMessage``s and ``DeliveryReceipt``s, and answering the way
that provider expects (``ack`` / ``reject``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from flask import Request, Response

from bot.messages import InboundMessage
from messaging.providers.base import (
    OPTED_OUT_CODES,
    DeliveryReceipt,
    SendResult,
    SmsLimits,
    build,
    load_class,
    provider_name,
    rate,
)

__all__ = [
    "OPTED_OUT_CODES",
    "BadRequest",
    "DeliveryReceipt",
    "PROVIDERS",
    "SendResult",
    "SmsLimits",
    "SmsProvider",
    "make_provider",
    "provider_name",
    "rate",
]


class BadRequest(Exception):
    """A webhook body the provider would never send: answered with ``reject``."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@runtime_checkable
class SmsProvider(Protocol):
    name: str
    limits: SmsLimits
    # True: replies go back in the webhook's HTTP answer (Twilio TwiML); False: they
    # are sent as new SMS (the gateways read nothing from the answer).
    replies_in_answer: bool

    def send(self, to: str, text: str) -> SendResult: ...

    def send_template(
        self, to: str, template_id: str, params: Mapping[str, str] | Sequence[str]
    ) -> SendResult: ...

    def authenticate(self, request: Request) -> bool:
        """True when the webhook request proves it came from the provider."""
        ...

    def parse_inbound(self, request: Request) -> list[InboundMessage]:
        """The messages in an inbound webhook; raises ``BadRequest``."""
        ...

    def parse_receipts(self, request: Request) -> list[DeliveryReceipt]:
        """The receipts in a delivery-status callback; raises ``BadRequest``."""
        ...

    def ack(self, replies: Sequence[str] = ()) -> Response:
        """The answer that tells the provider the webhook was taken."""
        ...

    def reject(self, status: int, reason: str) -> Response:
        """A refusal in the provider's own answer shape."""
        ...


# name -> "module:Class" of the provider's webhook side; imported on use.
PROVIDERS: dict[str, str] = {
    "console": "bot.channels.console_sms:ConsoleSms",
    "twilio": "bot.channels.twilio_sms:TwilioSms",
    "aliyun": "bot.channels.aliyun_sms:AliyunSms",
    "tencent": "bot.channels.tencent_sms:TencentSms",
}


def provider_class(name: str) -> type:
    return load_class(PROVIDERS, name)


def make_provider(
    config: Mapping[str, Any], name: str | None = None, *, sending: bool = True
) -> SmsProvider:
    """The provider ``name`` (default: the configured one) with its webhook side.

    ``sending``: check the settings sending needs (RuntimeError naming the missing
    ones). A webhook only parsing a push does not need the credentials to send."""
    name = name or provider_name(config)
    return build(provider_class(name), name, config, sending)
