"""Photo decoding off the request threads, in a small bounded pool, behind rate limits.

Decoding a photo costs up to seconds of CPU and tens of MB; a text costs milliseconds.
So photos are decoded by at most ``QR_WORKERS`` threads (2), with at most
``QR_QUEUE`` more waiting (4): the server's other threads stay free for texts, and a
photo beyond that is answered "busy, try later" at once instead of queueing for
minutes. Before that, photos are rate-limited per sender and over all senders
(``throttle.RateLimiter``, buckets in the database shared by the worker processes:
storage/buckets.py), so one sender cannot fill the pool. The pool itself is per
process: each worker protects its own CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from storage.buckets import store_for
from throttle import BucketStore, RateLimiter

T = TypeVar("T")

WORKERS = 2
QUEUE = 4
# A photo waits at most this long for its result (queue + decode); then it is "busy".
WAIT_S = 30.0
PER_SENDER_PER_MINUTE, PER_SENDER_BURST = 6, 3
OVERALL_PER_MINUTE, OVERALL_BURST = 60, 10


class Busy(Exception):
    """The photo was not decoded: over a rate limit, or the pool and its queue are full."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "sender_rate", "overall_rate", "queue_full", "timeout"


class PhotoPool:
    def __init__(self, config: Mapping[str, Any], store: BucketStore | None = None) -> None:
        workers = int(config.get("QR_WORKERS") or WORKERS)
        queue = int(config.get("QR_QUEUE") or QUEUE)
        self.wait_s = float(config.get("QR_WAIT_S") or WAIT_S)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="photo")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self.per_sender = RateLimiter(
            float(config.get("QR_PHOTOS_PER_MINUTE") or PER_SENDER_PER_MINUTE),
            int(config.get("QR_PHOTOS_BURST") or PER_SENDER_BURST),
            **_shared(store, "photos_sender"),
        )
        self.overall = RateLimiter(
            float(config.get("QR_PHOTOS_OVERALL_PER_MINUTE") or OVERALL_PER_MINUTE),
            int(config.get("QR_PHOTOS_OVERALL_BURST") or OVERALL_BURST),
            **_shared(store, "photos_all"),
        )

    def admit(self, sender: str | None) -> None:
        """Take a photo from ``sender`` (Busy when over a rate limit)."""
        if sender is not None and not self.per_sender.check(sender).allowed:
            raise Busy("sender_rate")
        if not self.overall.check("*").allowed:
            raise Busy("overall_rate")

    def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on a pool thread; its result or its exception. Busy when the
        pool and its queue are full or the result takes longer than ``wait_s``."""
        if not self._slots.acquire(blocking=False):
            raise Busy("queue_full")
        try:
            future = self._executor.submit(work, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        try:
            return future.result(timeout=self.wait_s)
        except FutureTimeout:
            raise Busy("timeout") from None


def _shared(store: BucketStore | None, name: str) -> dict[str, Any]:
    # A shared store is read by every worker process: wall-clock time, one name each.
    return {} if store is None else {"store": store, "name": name, "clock": time.time}


_lock = threading.Lock()


def pool_for(app: Any) -> PhotoPool:
    """The app's one photo pool (made on first use from its config)."""
    pool = app.extensions.get("hotline_photo_pool")
    if pool is None:
        with _lock:
            pool = app.extensions.get("hotline_photo_pool")
            if pool is None:
                pool = app.extensions["hotline_photo_pool"] = PhotoPool(app.config, store_for(app))
    return pool
