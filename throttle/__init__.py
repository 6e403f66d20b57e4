"""Token buckets keyed by any string (a sender hash, a client address): the one
rate limiter of the hotline (texts per sender, photos per sender and overall, login
attempts per address). Thread-safe and bounded in size. No imports from the project:
any layer may use it.

Where the buckets live is pluggable (``BucketStore``): ``MemoryStore``, this process's
memory, is the default (tests, the CLI); the server hands in a store whose buckets are
rows in the database (storage/buckets.py), so that several worker processes
(``hotline serve --workers N``) share one bucket per sender instead of each allowing
the rate.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# Told to slow down at most once per this many seconds while over the limit.
NOTICE_WINDOW_S = 60.0
MAX_SENDERS = 10_000


class Decision:
    """What to do with one message: ``allowed``; if not, ``notify`` says whether this
    is the one message of the window that gets the slow-down reply."""

    __slots__ = ("allowed", "notify")

    def __init__(self, allowed: bool, notify: bool = False) -> None:
        self.allowed = allowed
        self.notify = notify

    def __repr__(self) -> str:
        return f"Decision(allowed={self.allowed}, notify={self.notify})"


@dataclass(frozen=True)
class Limit:
    """One limiter's parameters, handed to its store with every call. ``name`` keeps
    the buckets of several limiters apart in one shared store."""

    name: str
    rate: float  # tokens per second
    burst: int
    notice_window: float
    max_keys: int


class BucketStore(Protocol):
    """Where buckets live. ``take`` must be atomic per (limit, key) across every
    thread (and, for a shared store, every process) using the store."""

    def take(self, limit: Limit, key: str, now: float) -> tuple[bool, bool]:
        """Refill ``key``'s bucket to ``now`` and take one token: (allowed, notify)."""
        ...

    def tokens(self, limit: Limit, key: str, now: float) -> float | None:
        """Tokens ``key`` would have at ``now`` (nothing taken); None: no bucket (full)."""
        ...

    def size(self, limit: Limit) -> int:
        """How many buckets ``limit`` holds."""
        ...


def refilled(tokens: float, updated: float, now: float, limit: Limit) -> float:
    """A bucket's tokens at ``now``: ``tokens`` at ``updated`` plus the refill, capped."""
    return min(float(limit.burst), tokens + max(0.0, now - updated) * limit.rate)


@dataclass
class _Bucket:
    tokens: float
    updated: float
    noticed_at: float | None = None


class MemoryStore:
    """Buckets in this process's memory; the least recently seen keys are evicted past
    ``max_keys`` (an evicted key starts with a full bucket, as an idle one would)."""

    def __init__(self) -> None:
        self._buckets: dict[str, OrderedDict[str, _Bucket]] = {}
        self._lock = threading.Lock()

    def take(self, limit: Limit, key: str, now: float) -> tuple[bool, bool]:
        with self._lock:
            buckets = self._buckets.setdefault(limit.name, OrderedDict())
            bucket = buckets.get(key)
            if bucket is None:
                bucket = _Bucket(float(limit.burst), now)
                buckets[key] = bucket
                while len(buckets) > limit.max_keys:
                    buckets.popitem(last=False)
            else:
                buckets.move_to_end(key)
                bucket.tokens = refilled(bucket.tokens, bucket.updated, now, limit)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                # noticed_at is kept: a sustained flood earns one token every few seconds,
                # and must not earn a fresh notice with each.
                return True, False
            notify = bucket.noticed_at is None or now - bucket.noticed_at >= limit.notice_window
            if notify:
                bucket.noticed_at = now
            return False, notify

    def tokens(self, limit: Limit, key: str, now: float) -> float | None:
        with self._lock:
            buckets = self._buckets.get(limit.name)
            bucket = buckets.get(key) if buckets is not None else None
            if bucket is None:
                return None
            return refilled(bucket.tokens, bucket.updated, now, limit)

    def size(self, limit: Limit) -> int:
        return len(self._buckets.get(limit.name, ()))


class RateLimiter:
    """``per_minute`` messages a minute on average, ``burst`` at once. Thread-safe.

    ``store``: where the buckets live (default: a private ``MemoryStore``). A shared
    store needs a clock every process agrees on: pass ``clock=time.time`` with it."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_SENDERS,
        notice_window: float = NOTICE_WINDOW_S,
        store: BucketStore | None = None,
        name: str = "default",
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, int(burst))
        self.clock = clock
        self.max_senders = max_senders
        self.notice_window = notice_window
        self.enabled = per_minute > 0
        self.limit = Limit(name, self.rate, self.burst, notice_window, max_senders)
        self.store: BucketStore = store if store is not None else MemoryStore()

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, store: BucketStore | None = None, name: str = "texts"
    ) -> RateLimiter:
        return cls(
            float(config.get("HOTLINE_RATE_LIMIT_PER_MINUTE") or 0),
            int(config.get("HOTLINE_RATE_LIMIT_BURST") or 1),
            store=store,
            name=name,
            # A shared store compares stamps across processes: wall-clock time.
            clock=time.time if store is not None else time.monotonic,
        )

    def check(self, sender_hash: str) -> Decision:
        """Take one token for ``sender_hash``."""
        if not self.enabled:
            return Decision(True)
        allowed, notify = self.store.take(self.limit, sender_hash, self.clock())
        return Decision(allowed, notify)

    def exhausted(self, key: str) -> bool:
        """True when ``key`` has no token left now (nothing is taken): for limits that
        count only failures, asked before the work and paid with ``check`` after."""
        if not self.enabled:
            return False
        tokens = self.store.tokens(self.limit, key, self.clock())
        return tokens is not None and tokens < 1.0

    def __len__(self) -> int:
        return self.store.size(self.limit)
