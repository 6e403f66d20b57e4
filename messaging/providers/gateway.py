"""What the mainland-China SMS gateways (Aliyun SMS, Tencent Cloud SMS) share: the
rules for domestic SMS, and one base class for their providers.

Domestic SMS may only be sent as an approved template under an approved signature,
which the gateway prefixes as 【signature】 itself. Our texts are free, so each gateway
is given one template whose whole body is a single variable (Aliyun ``${content}``,
Tencent ``{1}``) and the text goes in that variable; a leading 【...】 our texts carry
for Twilio is dropped so the signature is not doubled. Links are not allowed in
domestic SMS: a text (or template parameter) with a URL is refused here, never
silently rewritten, as a permanent failure. Length is counted per character as
UCS-2, signature included (70 for one SMS, 67 per part).

The gateways' pushes (replies, delivery receipts) are the inbound side:
bot/channels/gateway_push.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from messaging.providers.base import BatchItem, SendResult, SmsLimits
from storage.privacy import mask, normalise_contact

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0

# What the gateways (and carriers) treat as a link: a scheme, www., or a bare domain
# name with a common top-level domain (with or without a path). ASCII word boundaries:
# a link glued to Chinese text ("登录www.x.com查看") is still a link.
_URL = re.compile(
    r"(?ia)(?:\b[a-z][a-z0-9+.-]*://\S+|\bwww\.\S+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|gov|edu|info|top|xyz|vip|cc|me|io"
    r"|co|shop|site|online|app|link|ly|tk|biz|club|ren|wang|ink|mobi|tv)\b(?:[/?#]\S*)?)"
)
# A signature our texts carry for providers that do not add one (Twilio).
_LEADING_SIGNATURE = re.compile(r"^\s*【[^【】]{1,20}】\s*")


# A send whose request went out but whose answer never came: the gateway may well have
# sent the SMS, so it is not retried (the outbox marks the row unknown) rather than
# risk texting a villager twice. Both SDKs reduce the error to requests' message.
IN_DOUBT = "in_doubt"
_ANSWER_LOST = ("Read timed out", "RemoteDisconnected", "Connection aborted", "IncompleteRead")


def answer_lost(message: str) -> bool:
    return any(marker in message for marker in _ANSWER_LOST)


def in_doubt() -> SendResult:
    return SendResult(False, None, IN_DOUBT, permanent=True)


def contains_url(text: str) -> bool:
    return bool(_URL.search(text))


def strip_signature(text: str) -> str:
    """``text`` without a leading 【signature】: the gateway adds the approved one."""
    return _LEADING_SIGNATURE.sub("", text, count=1)


def refuse(text: str) -> SendResult | None:
    """A permanent refusal for a text no domestic template may carry, else None."""
    if not text.strip():
        return SendResult(False, None, "empty_text", permanent=True)
    if contains_url(text):
        return SendResult(False, None, "url_not_allowed", permanent=True)
    return None


class GatewaySender:
    """Base of AliyunSender and TencentSender: sending through the one free-text template."""

    name = "gateway"
    replies_in_answer = False
    default_rate = 10.0  # calls/s: well under both APIs' request limits (docs)
    # Numbers one batch call may carry (the API's documented maximum; 1: no batch call)
    # and the numbers per second all calls together may carry (ours: docs/sms-gateways.md).
    max_batch = 1
    default_numbers_rate = 1000.0
    guard_setting = ""
    sign_setting = ""
    template_setting = ""
    send_settings: tuple[str, ...] = ()

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.sign_name = str(config.get(self.sign_setting) or "")
        self.template_id = str(config.get(self.template_setting) or "")
        self.timeout = float(config.get("SMS_GATEWAY_TIMEOUT") or DEFAULT_TIMEOUT)
        self.limits = self.default_limits(config)

    @classmethod
    def default_limits(cls, config: Mapping[str, Any]) -> SmsLimits:
        sign = str(config.get(cls.sign_setting) or "")
        batch = setting_number(config, "HOTLINE_SMS_BATCH", cls.max_batch)
        return SmsLimits(
            rate=cls.default_rate,
            gsm7=None,
            prefix=f"【{sign}】" if sign else "",
            # Never more than the API takes, whatever the setting says.
            batch=max(1, min(int(batch), cls.max_batch)),
            numbers_rate=setting_number(
                config, "HOTLINE_SMS_NUMBERS_RATE", cls.default_numbers_rate
            ),
        )

    def text_params(self, text: str) -> Mapping[str, str] | Sequence[str]:
        """The free-text template's parameters carrying ``text``."""
        raise NotImplementedError

    def send(self, to: str, text: str) -> SendResult:
        body = strip_signature(text)
        refused = refuse(body)
        if refused:
            log.warning("%s SMS to %s refused: %s", self.name, mask(to), refused.error_code)
            return refused
        return self.send_template(to, self.template_id, self.text_params(body))

    def send_template(
        self, to: str, template_id: str, params: Mapping[str, str] | Sequence[str]
    ) -> SendResult:
        values = params.values() if isinstance(params, Mapping) else params
        if any(contains_url(str(v)) for v in values):
            log.warning("%s SMS to %s refused: url_not_allowed", self.name, mask(to))
            return SendResult(False, None, "url_not_allowed", permanent=True)
        return self.call_send(to, template_id, params)

    def call_send(
        self, to: str, template_id: str, params: Mapping[str, str] | Sequence[str]
    ) -> SendResult:
        raise NotImplementedError

    def send_batch(self, items: Sequence[BatchItem]) -> list[SendResult]:
        """``items`` in as few calls as the gateway allows (``limits.batch`` numbers a
        call); one result per item, in order. A text no template may carry fails alone."""
        results: list[SendResult | None] = [None] * len(items)
        sendable: list[tuple[int, BatchItem]] = []
        for i, item in enumerate(items):
            body = strip_signature(item.text)
            refused = refuse(body)
            if refused:
                log.warning(
                    "%s SMS to %s refused: %s", self.name, mask(item.to), refused.error_code
                )
                results[i] = refused
            else:
                sendable.append((i, BatchItem(item.to, body)))
        groups: dict[str, list[tuple[int, BatchItem]]] = {}
        for pair in sendable:
            groups.setdefault(self.batch_key(pair[1].text), []).append(pair)
        size = self.limits.batch
        for group in groups.values():
            for start in range(0, len(group), size):
                chunk = group[start : start + size]
                if len(chunk) == 1:  # one number: the ordinary single send
                    i, item = chunk[0]
                    results[i] = self.call_send(
                        item.to, self.template_id, self.text_params(item.text)
                    )
                    continue
                for (i, _), result in zip(
                    chunk, self.call_batch([it for _, it in chunk]), strict=True
                ):
                    results[i] = result
        return [r if r is not None else SendResult(False, None, "no_status") for r in results]

    def batch_key(self, text: str) -> str:
        """Texts with the same key may share one call (Aliyun: any; Tencent: only the
        same text, as it takes one parameter set for every number of a call)."""
        return ""

    def call_batch(self, items: Sequence[BatchItem]) -> list[SendResult]:
        """One API call for at most ``limits.batch`` checked items (no signature, no
        link); one result per item, in order."""
        raise NotImplementedError


def setting_number(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    if value in (None, ""):
        return float(default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


def aliyun_number(to: str) -> str:
    """Mainland numbers as 11 digits; others as country code + number, no '+'."""
    return normalise_contact(to).lstrip("+")


def tencent_number(to: str) -> str:
    """E.164, as Tencent wants it: mainland numbers get +86."""
    value = normalise_contact(to)
    if value.startswith("+"):
        return value
    if len(value) == 11 and value.startswith("1"):
        return "+86" + value
    return "+" + value
