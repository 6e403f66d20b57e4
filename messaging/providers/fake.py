"""A fake batch gateway, in process, for tests and the bench: it takes batch calls like
Aliyun's SendBatchSms (a text per number, ``batch`` numbers a call), records every
call, can fail chosen numbers, can be slow, and enforces the limits it states: a call
with more numbers than ``batch``, or calls or numbers faster than ``rate`` /
``numbers_rate`` allow (over a one-second window), is refused with the gateway's
throttling code, so a drain that paces wrongly fails the bench instead of passing it.

``record_to``: a file each accepted number is appended to, one line per number (only
test numbers ever go through the fake), so tests with several drainer processes can
count what was sent across all of them, kill -9 included.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from messaging.providers.base import BatchItem, SendResult, SmsLimits

THROTTLED = "Throttling.User"  # Aliyun's code for a caller over its QPS


@dataclass
class FakeCall:
    at: float  # time.monotonic() when the call came in
    items: list[BatchItem]


@dataclass
class FakeBatchGateway:
    name: str = "fake"
    rate: float = 10.0  # calls per second allowed
    batch: int = 100
    numbers_rate: float = 1000.0
    latency: float = 0.0  # seconds each call takes
    fail: Collection[str] = ()  # numbers refused (permanent)
    fail_code: str = "isv.MOBILE_NUMBER_ILLEGAL"
    record_to: str | None = None
    enforce: bool = True
    clock: Callable[[], float] = time.monotonic
    on_call: Callable[[FakeCall], None] | None = None  # e.g. die mid-batch in a test
    calls: list[FakeCall] = field(default_factory=list)
    refused_calls: int = 0

    def __post_init__(self) -> None:
        self.limits = SmsLimits(
            rate=self.rate, gsm7=None, batch=self.batch, numbers_rate=self.numbers_rate
        )
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._window: deque[tuple[float, int]] = deque()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FakeBatchGateway:
        return cls(
            rate=float(config.get("HOTLINE_SMS_RATE") or 10),
            batch=int(config.get("HOTLINE_SMS_BATCH") or 100),
            numbers_rate=float(config.get("HOTLINE_SMS_NUMBERS_RATE") or 1000),
        )

    @property
    def numbers_sent(self) -> int:
        return sum(len(c.items) for c in self.calls)

    def sent_to(self) -> list[str]:
        return [it.to for c in self.calls for it in c.items]

    def send(self, to: str, text: str) -> SendResult:
        return self.send_batch([BatchItem(to, text)])[0]

    def _over_limit(self, now: float, n: int) -> bool:
        """Would this call exceed the calls or numbers allowed in the last second?
        (A 10 % allowance for timer jitter; the drain's pacer is exact on average.)"""
        while self._window and now - self._window[0][0] >= 1.0:
            self._window.popleft()
        calls = len(self._window) + 1
        numbers = sum(k for _, k in self._window) + n
        slack = 1.1
        too_many_calls = self.rate > 0 and calls > max(1.0, self.rate * slack)
        too_many_numbers = self.numbers_rate > 0 and numbers > max(
            float(self.batch), self.numbers_rate * slack
        )
        return too_many_calls or too_many_numbers

    def send_batch(self, items: Sequence[BatchItem]) -> list[SendResult]:
        items = list(items)
        if len(items) > self.batch:
            return [SendResult(False, None, "isv.MOBILE_COUNT_OVER_LIMIT", True) for _ in items]
        with self._lock:
            now = self.clock()
            if self.enforce and self._over_limit(now, len(items)):
                self.refused_calls += 1
                return [SendResult(False, None, THROTTLED) for _ in items]
            self._window.append((now, len(items)))
            call = FakeCall(now, items)
            self.calls.append(call)
            batch_id = f"fake-{next(self._ids)}"
        if self.on_call:
            self.on_call(call)
        if self.latency:
            time.sleep(self.latency)
        results = []
        accepted = []
        for it in items:
            if it.to in self.fail:
                results.append(SendResult(False, None, self.fail_code, permanent=True))
            else:
                results.append(SendResult(True, batch_id))
                accepted.append(it.to)
        if self.record_to and accepted:
            # One write with O_APPEND: lines of concurrent drainers never interleave.
            fd = os.open(self.record_to, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, "".join(f"{to}\n" for to in accepted).encode())
            finally:
                os.close(fd)
        return results
