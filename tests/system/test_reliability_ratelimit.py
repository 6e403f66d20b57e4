"""A flood from one sender is rate limited (every message still stored, one slow-down
notice per window) without affecting anyone else."""

from __future__ import annotations

import threading

import responses
from bot.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def inbound_count(db, sender_hash: str) -> int:
    return db.execute(
        "SELECT count(*) FROM messages WHERE sender_hash = ? AND direction = 'in'",
        [sender_hash],
    ).fetchone()[0]


def test_flood_of_300_in_a_minute_is_limited_and_others_are_answered(degraded_app, phone_for):
    from storage.db import connect

    clock = Clock()
    degraded_app.extensions["hotline_ratelimit"] = RateLimiter(20, 10, clock=clock)
    client = degraded_app.test_client()
    flooder = phone_for(client, "+8613800000001")
    neighbour = phone_for(client, "+8613900000002")
    slow_down = responses.text("slow_down")

    answered = notices = silent = 0
    neighbour_replies = []
    for i in range(300):
        clock.t += 0.2  # 300 messages in 60 seconds
        replies = flooder.send(f"有人上门说帮激活医保电子凭证 第{i}条")
        if replies == [slow_down]:
            notices += 1
        elif replies:
            answered += 1
        else:
            silent += 1
        if i % 30 == 0:
            neighbour_replies.append(neighbour.send("上门激活医保的人是真的吗"))

    # Burst 10, then one more every 3 s over the minute: at most 10 + 20.
    assert 10 <= answered <= 30
    assert notices == 1  # one notice in the window, not one per message
    assert answered + notices + silent == 300
    # The neighbour was never limited: every message answered, none told to slow down.
    assert len(neighbour_replies) == 10
    assert all(r and r != [slow_down] for r in neighbour_replies)

    db = connect(degraded_app.config["HOTLINE_DB"])
    vault = degraded_app.extensions["hotline_vault"]
    assert inbound_count(db, vault.hash(flooder.number)) == 300  # nothing received is lost
    assert inbound_count(db, vault.hash(neighbour.number)) == 10
    db.conn.close()


def test_notice_again_after_a_window_and_answers_after_a_pause(degraded_app, phone_for):
    clock = Clock()
    degraded_app.extensions["hotline_ratelimit"] = RateLimiter(20, 10, clock=clock)
    phone = phone_for(degraded_app.test_client(), "+8613800000003")
    slow_down = responses.text("slow_down")
    for _ in range(10):
        assert phone.send("帮助") != [slow_down]
    assert phone.send("帮助") == [slow_down]
    assert phone.send("帮助") == []
    clock.t += 61  # a minute later the bucket is full again
    assert all(phone.send("帮助") != [slow_down] for _ in range(10))
    assert phone.send("帮助") == [slow_down]  # a new window: told once more


def test_opt_out_word_is_honoured_even_over_the_limit(degraded_app, phone_for):
    from storage.db import connect

    clock = Clock()
    degraded_app.extensions["hotline_ratelimit"] = RateLimiter(20, 2, clock=clock)
    phone = phone_for(degraded_app.test_client(), "+8613800000004")
    phone.send("订阅")
    for _ in range(5):
        phone.send("帮助")
    replies = phone.send("T")
    assert replies and "退订" in replies[0]
    db = connect(degraded_app.config["HOTLINE_DB"])
    vault = degraded_app.extensions["hotline_vault"]
    row = db.execute(
        "SELECT status FROM subscribers WHERE contact_hash = ?", [vault.hash(phone.number)]
    ).fetchone()
    db.conn.close()
    assert row is not None and row[0] == "opted_out"


def test_limiter_is_thread_safe():
    limiter = RateLimiter(20, 10, clock=Clock())
    allowed = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(50):
            decision = limiter.check("one-sender")
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 10  # the clock stood still: exactly the burst, no more


def test_memory_is_bounded_by_evicting_the_least_recent_senders():
    clock = Clock()
    limiter = RateLimiter(20, 1, clock=clock, max_senders=100)
    limiter.check("busy")  # spends busy's only token
    for i in range(1000):
        limiter.check(f"sender-{i}")
        if i % 50 == 0:
            limiter.check("busy")  # recently seen: kept, still limited
    assert len(limiter) == 100
    assert not limiter.check("busy").allowed


def test_zero_disables_the_limit():
    limiter = RateLimiter.from_config(
        {"HOTLINE_RATE_LIMIT_PER_MINUTE": "0", "HOTLINE_RATE_LIMIT_BURST": "10"}
    )
    assert all(limiter.check("x").allowed for _ in range(1000))
