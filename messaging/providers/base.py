"""One interface for every provider that sends, and the one place that picks the SMS one.

Twilio cannot do two-way SMS in mainland China, so the provider is pluggable:
``SMS_PROVIDER`` = ``console`` (development: prints), ``twilio`` (development and
international), ``aliyun`` or ``tencent`` (mainland China). Everything that sends
(the outbox drain, replies to a gateway's push) talks to an ``SmsSender`` and does not
know which one it is; WeChat's customer-service API is a sender of the same shape.

A provider sends (free text, or an approved template with parameters) and states its
limits (rate, segment sizes, numbers per call), so pacing and length checks need no
per-provider code elsewhere. A provider whose gateway takes many numbers in one call
also has ``send_batch`` (``BatchSender``): one ``SendResult`` per number, in order, so
each outbox row gets its own receipt. The inbound side of each provider (its webhook
signature check and parsing) lives in bot/channels/ and extends these classes.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
    # The number the receipt is for, when one provider id covers several numbers
    # (an Aliyun SendBatchSms call: one BizId); never stored, only hashed to match.
    recipient: str | None = None


# Receipt status -> the outbox's status vocabulary (the drain's apply_status).
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
    counted in its length. ``batch``: most numbers one call may carry (1: no batch
    call); ``numbers_rate``: numbers per second across calls (0: only ``rate``, the
    calls per second, limits)."""

    rate: float  # calls per second the account may make
    ucs2: tuple[int, int] = (UCS2_SINGLE, UCS2_PART)
    gsm7: tuple[int, int] | None = (GSM7_SINGLE, GSM7_PART)
    prefix: str = ""
    batch: int = 1
    numbers_rate: float = 0.0

    def segments(self, text: str) -> int:
        """How many SMS ``text`` costs through this provider (responses.sms.segments)."""
        return segments(self.prefix + text, gsm7=self.gsm7 is not None)


@runtime_checkable
class SmsSender(Protocol):
    """What outbound code needs of any channel's sender (SMS providers, WeChat)."""

    name: str

    def send(self, to: str, text: str) -> SendResult: ...


@dataclass(frozen=True)
class BatchItem:
    """One number in a batch call and its own text (its 尾号 marker included)."""

    to: str
    text: str


@runtime_checkable
class BatchSender(Protocol):
    """A sender whose gateway takes many numbers in one call (``limits.batch`` > 1)."""

    name: str
    limits: SmsLimits

    def send(self, to: str, text: str) -> SendResult: ...

    def send_batch(self, items: Sequence[BatchItem]) -> list[SendResult]:
        """One call (or as few as the gateway's rules allow) for ``items``; one result
        per item, in order. Raises nothing: a lost answer makes every number in doubt."""
        ...


def can_batch(sender: Any) -> bool:
    limits = getattr(sender, "limits", None)
    return callable(getattr(sender, "send_batch", None)) and getattr(limits, "batch", 1) > 1


# name -> "module:Class"; imported on use, so a deployment needs only its provider's SDK.
SENDERS: dict[str, str] = {
    "console": "messaging.providers.console:ConsoleSender",
    "twilio": "messaging.providers.twilio:TwilioSender",
    "aliyun": "messaging.providers.aliyun:AliyunSender",
    "tencent": "messaging.providers.tencent:TencentSender",
}


def provider_name(config: Mapping[str, Any]) -> str:
    """``SMS_PROVIDER``; the deprecated ``HOTLINE_SMS_PROVIDER`` when that one is unset."""
    name = config.get("SMS_PROVIDER") or config.get("HOTLINE_SMS_PROVIDER") or "console"
    return str(name).strip().lower()


def load_class(registry: Mapping[str, str], name: str, what: str = "SMS_PROVIDER") -> type:
    try:
        module_name, _, class_name = registry[name].partition(":")
    except KeyError:
        raise RuntimeError(f"unknown {what} {name!r} ({', '.join(sorted(registry))})") from None
    return getattr(importlib.import_module(module_name), class_name)


def sender_class(name: str) -> type:
    return load_class(SENDERS, name)


def build(cls: type, name: str, config: Mapping[str, Any], sending: bool) -> Any:
    """``cls(config)``; with ``sending``, first check the settings sending needs
    (RuntimeError naming the missing ones)."""
    if sending:
        missing = [k for k in getattr(cls, "send_settings", ()) if not config.get(k)]
        if missing:
            raise RuntimeError(f"SMS_PROVIDER={name} needs {', '.join(missing)}")
    return cls(config)


def make_sender(config: Mapping[str, Any], name: str | None = None) -> SmsSender:
    """The SMS provider ``name`` (default: the configured one), ready to send."""
    name = name or provider_name(config)
    return build(sender_class(name), name, config, sending=True)


def rate(config: Mapping[str, Any]) -> float:
    """Outbound SMS calls per second: ``HOTLINE_SMS_RATE`` when set, else the provider's."""
    value = config.get("HOTLINE_SMS_RATE")
    if value not in (None, ""):
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"HOTLINE_SMS_RATE must be a number, not {value!r}") from exc
    cls: Any = sender_class(provider_name(config))
    return float(cls.default_limits(config).rate)


# Channel name -> factory(config) -> sender, for messages the hotline starts.
# WeChat registers its customer-service sender (messaging/providers/wechat.py).
CHANNEL_SENDERS: dict[str, Callable[[dict[str, Any]], SmsSender]] = {"sms": make_sender}


def sender_for(channel: str, config: dict[str, Any]) -> SmsSender | None:
    """The sender for ``channel``, or None when the channel cannot push (web chat)."""
    if channel == "wechat" and channel not in CHANNEL_SENDERS:
        importlib.import_module("messaging.providers.wechat")  # registers itself
    factory = CHANNEL_SENDERS.get(channel)
    return factory(config) if factory else None
