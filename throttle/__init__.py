"""Token buckets keyed by any string (a sender hash, a client address): the one
rate limiter of the hotline (texts per sender, photos per sender and overall, login
attempts per address). Thread-safe, in this process's memory, bounded in size (the
least recently seen keys are evicted; an evicted key starts with a full bucket, as an
idle one would). No imports from the project: any layer may use it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Told to slow down at most once per this many seconds while over the limit.
NOTICE_WINDOW_S = 60.0
MAX_SENDERS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float
    noticed_at: float | None = None


class Decision:
    """What to do with one message: ``allowed``; if not, ``notify`` says whether this
    is the one message of the window that gets the slow-down reply."""

    __slots__ = ("allowed", "notify")

    def __init__(self, allowed: bool, notify: bool = False) -> None:
        self.allowed = allowed
        self.notify = notify

    def __repr__(self) -> str:
        return f"Decision(allowed={self.allowed}, notify={self.notify})"


class RateLimiter:
    """``per_minute`` messages a minute on average, ``burst`` at once. Thread-safe."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_SENDERS,
        notice_window: float = NOTICE_WINDOW_S,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, int(burst))
        self.clock = clock
        self.max_senders = max_senders
        self.notice_window = notice_window
        self.enabled = per_minute > 0
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RateLimiter:
        return cls(
            float(config.get("HOTLINE_RATE_LIMIT_PER_MINUTE") or 0),
            int(config.get("HOTLINE_RATE_LIMIT_BURST") or 1),
        )

    def check(self, sender_hash: str) -> Decision:
        """Take one token for ``sender_hash``."""
        if not self.enabled:
            return Decision(True)
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(sender_hash)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
                self._buckets[sender_hash] = bucket
                while len(self._buckets) > self.max_senders:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(sender_hash)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                # noticed_at is kept: a sustained flood earns one token every few seconds,
                # and must not earn a fresh notice with each.
                return Decision(True)
            notify = bucket.noticed_at is None or now - bucket.noticed_at >= self.notice_window
            if notify:
                bucket.noticed_at = now
            return Decision(False, notify)

    def exhausted(self, key: str) -> bool:
        """True when ``key`` has no token left now (nothing is taken): for limits that
        count only failures, asked before the work and paid with ``check`` after."""
        if not self.enabled:
            return False
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return False
            elapsed = max(0.0, self.clock() - bucket.updated)
            return min(float(self.burst), bucket.tokens + elapsed * self.rate) < 1.0

    def __len__(self) -> int:
        return len(self._buckets)
