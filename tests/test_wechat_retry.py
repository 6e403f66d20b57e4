"""Late WeChat answers that failed are resent (with backoff, at most a few times, never
twice, never after a permanent refusal), by the scheduler's retry tick."""

from __future__ import annotations

import threading
import time

import pytest

from bot.channels import wechat_api, wechat_store
from bot.outreach import outbox, scheduler
from messaging.providers import wechat as wechat_provider
from messaging.providers.base import SendResult, sender_for
from nlu.keywords import KeywordParser
from storage.db import connect
from tests.wechat_helpers import WeChatPush, wechat_app

OPENID = "oRetryTestUser_0123456789abcd"
FAR = 10**7  # seconds: later than any backoff


@pytest.fixture
def vault(wapp):
    return wapp.extensions["hotline_vault"]


@pytest.fixture
def db(wapp):
    database = connect(wapp.config["HOTLINE_DB"])
    yield database
    database.conn.close()


@pytest.fixture
def sender(wapp):
    return sender_for("wechat", wapp.config)


def failed_late_answer(db, vault, error: str = "network_error") -> int:
    """A late answer whose first attempt (by the dialogue worker) failed a while ago."""
    wechat_provider.record_inbound(db, vault, OPENID)
    pid = wechat_store.add_pending(db, "m1", vault.hash(OPENID), ["答复一", "答复二"], "worker")
    failure = SendResult(False, None, error)
    wechat_api.settle_pending(db, pid, "worker", 1, failure, at=time.time() - 3600)
    return pid


def row(db, pid: int) -> dict:
    return next(db.query("SELECT * FROM wechat_pending WHERE id = ?", [pid]))


class SlowParser(KeywordParser):
    def parse(self, text):
        time.sleep(0.4)
        return super().parse(text)


def test_transient_failure_then_success_delivers_once(tmp_path, api):
    app = wechat_app(tmp_path, SlowParser(), api, WECHAT_REPLY_WAIT="0.05")
    api.send_answers = [{"errcode": -1, "errmsg": "system error"}]
    push = WeChatPush(app.test_client(), OPENID)
    fields = {**push.base("text"), "Content": "村里来了一伙人说是医保局的，是真的吗"}
    fields["MsgId"] = push.next_id()
    assert push.post(fields).get_data(as_text=True) == "success"
    db = connect(app.config["HOTLINE_DB"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        late = list(db.query("SELECT * FROM wechat_pending"))
        if late and late[0]["status"] != "sending":
            break
        time.sleep(0.02)
    (late,) = late
    assert (late["status"], late["error_code"], late["attempts"]) == ("failed", "wechat_-1", 1)
    assert api.sent == [] and api.send_calls == 1
    vault, sender = app.extensions["hotline_vault"], sender_for("wechat", app.config)

    # Not due yet: the backoff holds it back.
    assert wechat_api.retry_pending(db, vault, sender) == wechat_api.RetryStats()
    stats = wechat_api.retry_pending(db, vault, sender, at=late["next_attempt_at"])
    assert stats == wechat_api.RetryStats(sent=1)
    assert len(api.sent) == 1 and "12393" in api.sent[0]["text"]["content"]
    assert api.sent[0]["touser"] == OPENID
    done = row(db, late["id"])
    assert (done["status"], done["error_code"], done["attempts"]) == ("sent", None, 2)
    # Sent is final: later runs send nothing.
    assert wechat_api.retry_pending(db, vault, sender, at=time.time() + FAR).sent == 0
    assert api.send_calls == 2
    db.conn.close()


@pytest.mark.parametrize(
    "errcode,reason",
    [(43004, "unfollowed"), (45015, "outside_48h_window"), (45047, "quota_exhausted")],
)
def test_permanent_failure_stops_retries(db, vault, api, sender, errcode, reason):
    pid = failed_late_answer(db, vault)
    api.send_answers = [{"errcode": errcode, "errmsg": "no"}]
    stats = wechat_api.retry_pending(db, vault, sender)
    assert stats == wechat_api.RetryStats(undeliverable=1)
    gone = row(db, pid)
    assert (gone["status"], gone["error_code"], gone["attempts"]) == ("undeliverable", reason, 2)
    # Even much later (and with WeChat willing again) it is not tried again.
    wechat_provider.record_inbound(db, vault, OPENID)
    assert wechat_api.retry_pending(db, vault, sender, at=time.time() + FAR) == (
        wechat_api.RetryStats()
    )
    assert api.send_calls == 1 and api.sent == []


def test_backoff_doubles_and_attempts_are_capped(db, vault, api, sender):
    pid = failed_late_answer(db, vault)
    api.send_answers = [{"errcode": -1, "errmsg": "busy"}] * 10
    at = time.time()
    waits = []
    for _ in range(10):
        wechat_api.retry_pending(db, vault, sender, at=at)
        current = row(db, pid)
        waits.append(current["next_attempt_at"] - at)
        at += FAR
    current = row(db, pid)
    assert (current["status"], current["attempts"]) == ("failed", wechat_api.RETRY_MAX_ATTEMPTS)
    assert api.send_calls == wechat_api.RETRY_MAX_ATTEMPTS - 1  # the first was the worker's
    assert waits[:4] == [120.0, 240.0, 480.0, 960.0]


def test_two_runs_at_once_deliver_once(wapp, db, vault, api, sender):
    failed_late_answer(db, vault)

    class SlowSender:
        def send(self, to, text):
            time.sleep(0.3)  # the other run claims while this one is sending
            return sender.send(to, text)

    barrier = threading.Barrier(2)
    results = []

    def run():
        own = connect(wapp.config["HOTLINE_DB"], migrate_schema=False)
        barrier.wait()
        results.append(wechat_api.retry_pending(own, vault, SlowSender()))
        own.conn.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(r.sent for r in results) == [0, 1]
    assert len(api.sent) == 1 and api.send_calls == 1


def test_answer_still_with_the_worker_is_not_resent(db, vault, api, sender):
    wechat_provider.record_inbound(db, vault, OPENID)
    wechat_store.add_pending(db, "m2", vault.hash(OPENID), ["答复"], "worker")
    assert wechat_api.retry_pending(db, vault, sender, at=time.time() + FAR) == (
        wechat_api.RetryStats()
    )
    assert api.send_calls == 0


def test_scheduler_runs_the_retry_every_minute(wapp, db, vault, api):
    pid = failed_late_answer(db, vault)
    rt = scheduler.Runtime(
        db_path=wapp.config["HOTLINE_DB"],
        vault=vault,
        sender_factory=lambda: outbox.senders_from_config(wapp.config),
        rate=0,
    )
    started = scheduler.start(rt)
    try:
        job = started.get_job("wechat-retry")
        assert job is not None and job.trigger.interval.total_seconds() == 60
        scheduler.wechat_retry_tick()
    finally:
        started.shutdown(wait=False)
        scheduler.set_runtime(None)
    assert row(db, pid)["status"] == "sent"
    assert [m["text"]["content"] for m in api.sent] == ["答复一\n\n答复二"]
