"""The development SMS provider: prints outbound SMS (recipient masked) instead of
sending them. Its webhook (POST /sms/console) is bot/channels/console_sms.py."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from messaging.providers.base import SendResult, SmsLimits
from storage.privacy import mask


class ConsoleSender:
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
