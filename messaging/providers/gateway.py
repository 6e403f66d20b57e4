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

Neither gateway signs its pushes (replies, delivery receipts): the push URL carries a
shared secret (``?token=...``, compared in constant time), optionally narrowed to the
gateway's addresses (``SMS_GATEWAY_ALLOWED_IPS``, bot/channels/source_ip.py).
Neither reads replies from the HTTP answer: they go out as new SMS.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Request, Response, jsonify

from bot.channels import source_ip
from bot.channels.sms_provider import BadRequest, DeliveryReceipt, SendResult, SmsLimits
from bot.messages import InboundMessage
from storage.privacy import mask, normalise_contact

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
MAX_BODY = 256 * 1024  # a push holds at most a few hundred short messages

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


def field(item: Mapping[str, Any], name: str) -> str | None:
    """A text or number field as a string; None when absent or of another type."""
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


class GatewaySms:
    """Base of AliyunSms and TencentSms: sending through the one free-text template,
    pushes authenticated by URL secret (+ allowlist), JSON answers."""

    name = "gateway"
    replies_in_answer = False
    default_rate = 10.0  # messages/s: well under both APIs' request limits (docs)
    guard_setting = ""
    sign_setting = ""
    template_setting = ""
    send_settings: tuple[str, ...] = ()
    ok_answer: dict[str, Any] = {}
    # Aliyun's batch push may legitimately be an empty array.
    empty_push_ok = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.sign_name = str(config.get(self.sign_setting) or "")
        self.template_id = str(config.get(self.template_setting) or "")
        self.timeout = float(config.get("SMS_GATEWAY_TIMEOUT") or DEFAULT_TIMEOUT)
        self.limits = self.default_limits(config)

    @classmethod
    def default_limits(cls, config: Mapping[str, Any]) -> SmsLimits:
        sign = str(config.get(cls.sign_setting) or "")
        return SmsLimits(rate=cls.default_rate, gsm7=None, prefix=f"【{sign}】" if sign else "")

    # --- sending ---------------------------------------------------------------------

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

    # --- pushes ----------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        expected = self.config.get(self.guard_setting)
        if not expected:
            log.error("%s is not set: refusing %s", self.guard_setting, request.path)
            return False
        given = request.args.get("token", "")
        if not hmac.compare_digest(given.encode(), str(expected).encode()):
            log.warning("%s push with a missing or wrong token refused", request.path)
            return False
        return source_ip.allowed(request, self.config, "SMS_GATEWAY_ALLOWED_IPS")

    def _items(self, request: Request) -> list[Any]:
        """The pushed JSON (whatever Content-Type the gateway sent) as a list."""
        if (request.content_length or 0) > MAX_BODY:
            raise BadRequest("body too large", 413)
        data = request.get_json(force=True, silent=True)
        if data is None:
            raise BadRequest("body is not JSON")
        return data if isinstance(data, list) else [data]

    def _parse(self, request: Request, parse_item: Callable[[Any], Any], what: str) -> list[Any]:
        """Every usable element; 400 when none is. A malformed element among good ones
        is logged and skipped: a retry of the push would not mend it."""
        items = self._items(request)
        valid = [x for x in map(parse_item, items) if x is not None]
        if not valid and (items or not self.empty_push_ok):
            raise BadRequest(f"no usable {what}")
        if len(valid) < len(items):
            log.warning(
                "%s %s push: %d of %d malformed, skipped",
                self.name,
                what,
                len(items) - len(valid),
                len(items),
            )
        return valid

    def inbound_item(self, item: Any) -> InboundMessage | None:
        raise NotImplementedError

    def receipt_item(self, item: Any) -> DeliveryReceipt | None:
        raise NotImplementedError

    def parse_inbound(self, request: Request) -> list[InboundMessage]:
        return self._parse(request, self.inbound_item, "message")

    def parse_receipts(self, request: Request) -> list[DeliveryReceipt]:
        return self._parse(request, self.receipt_item, "receipt")

    def error_body(self, status: int, reason: str) -> dict[str, Any]:
        raise NotImplementedError

    def ack(self, replies: Sequence[str] = ()) -> Response:
        return jsonify(self.ok_answer)

    def reject(self, status: int, reason: str) -> Response:
        response = jsonify(self.error_body(status, reason))
        response.status_code = status
        return response


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
