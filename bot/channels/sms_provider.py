"""One interface for every SMS provider, and the one place that picks the provider.

Twilio cannot do two-way SMS in mainland China, so the provider is pluggable:
``SMS_PROVIDER`` = ``console`` (development: prints), ``twilio`` (development and
international), ``aliyun`` or ``tencent`` (mainland China). Everything else in the bot
(dialogue, outbox, report notifications, webhooks) talks to an ``SmsProvider`` and does
not know which one it is.

A provider sends (free text, or an approved template with parameters), turns its
inbound webhook into ``InboundMessage``s and its delivery callbacks into
``DeliveryReceipt``s, answers each webhook the way that provider expects (``ack`` /
``reject``), and states its limits (rate, segment sizes), so pacing and length checks
need no per-provider code elsewhere.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from flask import Request, Response

from bot.messages import InboundMessage
from responses.sms import GSM7_PART, GSM7_SINGLE, UCS2_PART, UCS2_SINGLE, segments

log = logging.getLogger(__name__)

# Provider error codes that mean "this person refused our messages": stop every push to
# them. Twilio 21610 (replied STOP); Tencent's send-time blacklist (the number replied
# 退订 to our signature); MBBLACK, the carriers' receipt code for a number on the
# blacklist after replying 退订 or complaining (both gateways pass it through).
OPTED_OUT_CODES = frozenset({"21610", "FailedOperation.PhoneNumberInBlacklist", "MBBLACK"})


@dataclass
class SendResult:
    ok: bool
    provider_id: str | None = None
    error_code: str | None = None
    permanent: bool = False  # True: retrying will not help (e.g. opted out at carrier)

    @property
    def outcome(self) -> str:
        """``sent``, or what the caller should do: ``retry``, ``give_up`` or
        ``opted_out`` (give up, and stop every push to this person)."""
        if self.ok:
            return "sent"
        if (self.error_code or "") in OPTED_OUT_CODES:
            return "opted_out"
        return "give_up" if self.permanent else "retry"


@dataclass(frozen=True)
class DeliveryReceipt:
    """A provider's word on one sent message. ``status``: ``delivered``, ``failed``
    (never left the provider), ``undeliverable`` (the carrier could not deliver) or,
    from providers that report progress (Twilio), ``sent``."""

    provider_id: str
    status: str
    error_code: str | None = None
    time: str | None = None  # as the provider wrote it


# Receipt status -> the outbox's status vocabulary (bot/outreach/outbox.py apply_status).
OUTBOX_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "undeliverable": "undelivered",
}


@dataclass(frozen=True)
class SmsLimits:
    """What one provider allows. ``gsm7`` None: the provider bills every text per
    character as UCS-2 (the domestic gateways), else (single, per part) for GSM-7 text.
    ``prefix``: what the provider adds to every text (the gateways' 【signature】),
    counted in its length."""

    rate: float  # messages per second the account sends by default
    ucs2: tuple[int, int] = (UCS2_SINGLE, UCS2_PART)
    gsm7: tuple[int, int] | None = (GSM7_SINGLE, GSM7_PART)
    prefix: str = ""

    def segments(self, text: str) -> int:
        """How many SMS ``text`` costs through this provider (responses.sms.segments)."""
        return segments(self.prefix + text, gsm7=self.gsm7 is not None)


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


# name -> "module:Class"; imported on use, so a deployment needs only its provider's SDK.
PROVIDERS: dict[str, str] = {
    "console": "bot.channels.senders:ConsoleSender",
    "twilio": "bot.channels.senders:TwilioSender",
    "aliyun": "bot.channels.aliyun_sms:AliyunSms",
    "tencent": "bot.channels.tencent_sms:TencentSms",
}


def provider_name(config: Mapping[str, Any]) -> str:
    """``SMS_PROVIDER``; the deprecated ``HOTLINE_SMS_PROVIDER`` when that one is unset."""
    name = config.get("SMS_PROVIDER") or config.get("HOTLINE_SMS_PROVIDER") or "console"
    return str(name).strip().lower()


def provider_class(name: str) -> type[Any]:  # imported by name: unknown until run
    try:
        module_name, _, class_name = PROVIDERS[name].partition(":")
    except KeyError:
        raise RuntimeError(
            f"unknown SMS_PROVIDER {name!r} ({', '.join(sorted(PROVIDERS))})"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)


def make_provider(
    config: Mapping[str, Any], name: str | None = None, *, sending: bool = True
) -> SmsProvider:
    """The provider ``name`` (default: the configured one), built from ``config``.

    ``sending``: check the settings sending needs (RuntimeError naming the missing
    ones). A webhook only parsing a push does not need the credentials to send."""
    name = name or provider_name(config)
    cls = provider_class(name)
    if sending:
        missing = [k for k in getattr(cls, "send_settings", ()) if not config.get(k)]
        if missing:
            raise RuntimeError(f"SMS_PROVIDER={name} needs {', '.join(missing)}")
    return cls(config)


def rate(config: Mapping[str, Any]) -> float:
    """Outbound SMS per second: ``HOTLINE_SMS_RATE`` when set, else the provider's limit."""
    value = config.get("HOTLINE_SMS_RATE")
    if value not in (None, ""):
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"HOTLINE_SMS_RATE must be a number, not {value!r}") from exc
    return float(provider_class(provider_name(config)).default_limits(config).rate)
