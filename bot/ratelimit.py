"""Per-sender flood control: a token bucket per sender hash.

One sender texting hundreds of messages a minute (a stuck phone, a script, a prank)
must not eat the parser and the outbound SMS budget that other villagers need. Every
message is still logged by the dialogue before this is asked (nothing received is
lost); over the limit it is simply not parsed or answered, and the sender is told to
slow down once per window rather than once per message (which would itself be a flood).

The buckets live in this process's memory: with one server process (``hotline serve``
runs one waitress process with threads) that is the whole picture; several processes
would each allow the rate. Memory is bounded: the least recently seen senders are
evicted past ``max_senders`` (an evicted sender starts again with a full bucket, which
is what an idle sender would have anyway).
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

    def __len__(self) -> int:
        return len(self._buckets)


_app_lock = threading.Lock()


def for_app(app: Any) -> RateLimiter:
    """The app's one limiter (made on first use from its config)."""
    limiter = app.extensions.get("hotline_ratelimit")
    if limiter is None:
        with _app_lock:
            limiter = app.extensions.get("hotline_ratelimit")
            if limiter is None:
                limiter = RateLimiter.from_config(app.config)
                app.extensions["hotline_ratelimit"] = limiter
    return limiter
