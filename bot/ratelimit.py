"""Per-sender flood control: a token bucket per sender hash.

One sender texting hundreds of messages a minute (a stuck phone, a script, a prank)
must not eat the parser and the outbound SMS budget that other villagers need. Every
message is still logged by the dialogue before this is asked (nothing received is
lost); over the limit it is simply not parsed or answered, and the sender is told to
slow down once per window rather than once per message (which would itself be a flood).

The server's buckets are rows in the database (storage/buckets.py), so that the
worker processes of ``hotline serve --workers N`` share one bucket per sender instead of
each allowing the rate, and a restart does not refill a flooder's bucket. The table is
bounded: idle buckets (full again) are deleted, and past ``max_senders`` the least
recently seen go first (an evicted sender starts again with a full bucket, which is
what an idle sender would have anyway).
"""

from __future__ import annotations

import threading
from typing import Any

from storage.buckets import store_for
from throttle import NOTICE_WINDOW_S, Decision, RateLimiter

__all__ = ["NOTICE_WINDOW_S", "Decision", "RateLimiter", "for_app"]

_app_lock = threading.Lock()


def for_app(app: Any) -> RateLimiter:
    """The app's one limiter (made on first use from its config)."""
    limiter = app.extensions.get("hotline_ratelimit")
    if limiter is None:
        with _app_lock:
            limiter = app.extensions.get("hotline_ratelimit")
            if limiter is None:
                limiter = RateLimiter.from_config(app.config, store=store_for(app))
                app.extensions["hotline_ratelimit"] = limiter
    return limiter
