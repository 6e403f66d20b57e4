"""Helpers for the outreach tests: a database with villagers, and fake SMS providers."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from messaging.providers.base import SendResult
from outreach import groups
from outreach.quiet_hours import BEIJING
from storage.db import connect
from storage.privacy import Vault

VAULT = Vault(
    base64.urlsafe_b64encode(b"h" * 32),
    base64.urlsafe_b64encode(b"e" * 32),
)
# 10:00 on a Tuesday, Beijing time: outside quiet hours.
DAYTIME = dt.datetime(2025, 3, 4, 10, 0, tzinfo=BEIJING)
NIGHT = dt.datetime(2025, 3, 4, 22, 30, tzinfo=BEIJING)


class Crash(BaseException):
    """Stands in for kill -9: not an Exception, so nothing on the way catches it."""


def beijing(hour: int, minute: int = 0, day: int = 4) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=BEIJING)


def new_db(tmp_path: Path):
    return connect(tmp_path / "hotline.db")


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"138{n:08d}" for n in range(start, start + count)]


def enroll(db, phones: list[str], village: str = "石桥村", township: str = "东坝镇") -> int:
    group_id = groups.ensure_group(db, "平南县", township, village)
    for phone in phones:
        assert groups.enroll(db, VAULT, phone, group_id, by="张主任", channel="csv") == "enrolled"
    return group_id


class FakeProvider:
    """Records what it accepted. Like a provider with idempotency keys, it accepts
    each key once: a resend of a message it already has is answered, not re-sent."""

    name = "fake"
    accepts_idempotency_key = True

    def __init__(
        self,
        *,
        crash_after_accepting: int | None = None,
        fail_codes: dict[str, list[str]] | None = None,
        permanent: set[str] = frozenset(),
    ) -> None:
        self.accepted: dict[str, tuple[str, str]] = {}  # key -> (to, text)
        self.deliveries: list[tuple[str, str]] = []  # every actual delivery
        self.calls = 0
        self.crash_after_accepting = crash_after_accepting
        self.fail_codes = fail_codes or {}  # number -> error codes to return first
        self.permanent = permanent

    def send(self, to: str, text: str, idempotency_key: str | None = None) -> SendResult:
        self.calls += 1
        pending = self.fail_codes.get(to)
        if pending:
            code = pending.pop(0)
            return SendResult(False, None, code, permanent=code in self.permanent)
        key = idempotency_key or f"{to}:{len(self.deliveries)}"
        if key not in self.accepted:
            self.accepted[key] = (to, text)
            self.deliveries.append((to, text))
        sid = f"SM{abs(hash(key)) % 10**12:012d}"
        if self.crash_after_accepting and len(self.deliveries) == self.crash_after_accepting:
            raise Crash  # the provider has it; we die before marking the row
        return SendResult(True, sid)


class PlainProvider(FakeProvider):
    """A provider without idempotency keys (like Twilio): every call delivers."""

    accepts_idempotency_key = False

    def send(self, to: str, text: str, idempotency_key: str | None = None) -> SendResult:
        assert idempotency_key is None
        self.calls += 1
        self.deliveries.append((to, text))
        if self.crash_after_accepting and len(self.deliveries) == self.crash_after_accepting:
            raise Crash
        return SendResult(True, f"SM{self.calls:010d}")
