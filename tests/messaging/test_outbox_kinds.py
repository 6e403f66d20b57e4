"""Every message the hotline starts is a row of the one outbox, with a kind and a
priority: tips and alerts (campaigns), reporter notices (report_update), verdict
notices (scam_verdict) and replies to an SMS through a gateway that cannot carry them
in its webhook answer (reply); late WeChat answers: test_wechat_late.py. Each is
sent exactly once by a drain, a transient failure is retried by the next drain, a
crash mid-send leaves it sent once or ``unknown``, and a WeChat reporter outside the
48-hour window hears by SMS (messaging/outbox.py, outreach/outbox.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot import subscriptions
from bot.channels import gateway_webhooks
from bot.messages import InboundMessage
from messaging import outbox as messaging_outbox
from messaging.providers.base import SendResult
from outreach import campaigns, groups, outbox, phones
from outreach.quiet_hours import BEIJING
from reporting import reports, scam_verdicts
from tests.helpers.outreach import (
    VAULT,
    Crash,
    FakeProvider,
    PlainProvider,
    enroll,
    new_db,
    numbers,
)

PHONE = "13812345678"
OPENID = "o-follower-1"


@pytest.fixture
def db(tmp_path):
    database = new_db(tmp_path)
    yield database
    database.conn.close()


def later_daytime() -> dt.datetime:
    """10:00 Beijing tomorrow: everything queued now is due then, outside quiet hours."""
    day = dt.datetime.now(BEIJING).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=BEIJING)


def drain(db, sender, at: dt.datetime | None = None, **kwargs):
    moment = at or later_daytime()
    return outbox.drain(db, VAULT, sender, rate=0, now=lambda: moment, **kwargs)


def closed_report(db, channel: str = "sms", contact: str = PHONE) -> dict:
    report = reports.create(
        db, VAULT, channel=channel, contact=contact, intent="report_suspicious_visit",
        summary="有人上门要验证码",
    )  # fmt: skip
    return reports.set_status(db, report, "resolved")


def queue_report_notice(db, channel: str = "sms", contact: str = PHONE) -> dict:
    report = closed_report(db, channel, contact)
    assert reports.queue_notification(db, VAULT, report) == "queued"
    return report


def queue_verdict_notice(db, contact: str = PHONE) -> None:
    key = scam_verdicts.phone_key(VAULT, "13977665544")
    scam_verdicts.remember_asks(
        db, VAULT, [key], sender_hash=VAULT.hash(contact), channel="sms", contact=contact
    )
    assert scam_verdicts.mark(db, key, "confirmed", None) == 1
    assert scam_verdicts.enqueue_notices(db, VAULT) == 1


def recover_after_kill(db, provider) -> None:
    """What the next start does after a kill -9 (the dead drainer's lease is over)."""
    outbox.recover(
        db,
        resend_in_doubt=outbox.idempotent_channels(provider),
        stale_after=0,
        now=later_daytime() + dt.timedelta(seconds=1),
    )


def rows(db, kind: str) -> list[dict]:
    return list(db.query("SELECT * FROM outbox WHERE kind = ? ORDER BY id", [kind]))


# --- one test per kind: a row in the outbox, sent exactly once by a drain -----------


def test_reporter_notice_is_an_outbox_row_sent_once(db):
    report = queue_report_notice(db)
    (row,) = rows(db, "report_update")
    assert row["status"] == "pending" and row["urgent"] == 1
    assert row["priority"] == messaging_outbox.PRIORITY["report_update"]
    assert row["campaign_id"] is None and row["subscriber_id"] is None
    # The number is kept as every contact is: encrypted, hashed, masked; never in clear.
    assert PHONE not in str(row) and row["contact_masked"] == "138****5678"
    assert VAULT.decrypt(row["contact_enc"]) == PHONE
    assert row["source"] == f"report:{report['id']}"
    # Queuing twice (an officer's double click) is still one row.
    assert reports.queue_notification(db, VAULT, reports.get(db, report["id"])) == "queued"
    assert len(rows(db, "report_update")) == 1

    provider = FakeProvider()
    assert drain(db, provider).sent == 1
    assert drain(db, provider).sent == 0
    assert provider.deliveries == [
        (PHONE, f"您的举报{report['ref']}已由民警处理完毕，谢谢您！验证码不给人，手机不借人。")
    ]
    assert rows(db, "report_update")[0]["status"] == "sent"
    assert reports.get(db, report["id"])["notify_status"] == "sent"


def test_verdict_notice_is_an_outbox_row_sent_once_with_the_marker(db):
    queue_verdict_notice(db)
    (row,) = rows(db, "scam_verdict")
    assert row["status"] == "pending" and row["urgent"] == 0
    assert row["priority"] == messaging_outbox.PRIORITY["scam_verdict"]
    # The ask's address was kept only until the notice was queued.
    assert db.execute("SELECT contact_enc, notice_status FROM scam_asks").fetchall() == [
        (None, "enqueued")
    ]
    # Asking the scheduler tick again queues nothing more: once per person.
    assert scam_verdicts.enqueue_notices(db, VAULT) == 0

    provider = FakeProvider()
    assert drain(db, provider).sent == 1
    assert drain(db, provider).sent == 0
    ((to, text),) = provider.deliveries
    assert to == PHONE and text.startswith("【村村反诈】") and "确认是诈骗" in text
    assert text.endswith("（尾号678）回T退订") and "13977665544" not in text


def test_verdict_notices_wait_out_quiet_hours(db):
    queue_verdict_notice(db)
    night = later_daytime().replace(hour=22)
    provider = FakeProvider()
    assert drain(db, provider, at=night).handled == 0
    assert rows(db, "scam_verdict")[0]["status"] == "pending"
    assert drain(db, provider).sent == 1


def test_a_second_verdict_while_the_first_notice_waits_is_one_notice(db):
    number = scam_verdicts.phone_key(VAULT, "13977665544")
    link = scam_verdicts.url_key_of(VAULT, "http://nhsa-gov.top/a")
    scam_verdicts.remember_asks(
        db, VAULT, [number, link], sender_hash=VAULT.hash(PHONE), channel="sms", contact=PHONE
    )
    scam_verdicts.mark(db, link, "cleared", None)
    assert scam_verdicts.enqueue_notices(db, VAULT) == 1
    scam_verdicts.mark(db, number, "confirmed", None)  # before the first one went
    assert scam_verdicts.enqueue_notices(db, VAULT) == 0
    provider = FakeProvider()
    assert drain(db, provider).sent == 1
    ((_to, text),) = provider.deliveries
    assert "确认是诈骗" in text  # told the worse verdict, once


def test_a_gateway_reply_is_an_outbox_row_sent_once_before_everything(db):
    """An Aliyun / Tencent inbound SMS is answered by a new SMS: rows of kind ``reply``,
    the highest priority, urgent (sent at night too), one per reply, once per message
    (bot/channels/gateway_webhooks.py; the webhooks themselves: test_sms_gateways.py)."""
    queue_report_notice(db, contact="13900000009")
    message = InboundMessage(channel="sms", sender=PHONE, text="1", message_id="4711")
    with db.atomic():
        gateway_webhooks.queue_replies(db, VAULT, message, "aliyun", "4711", ["第一条", "第二条"])
        # The gateway's repeat of the same message queues nothing more.
        gateway_webhooks.queue_replies(db, VAULT, message, "aliyun", "4711", ["第一条", "第二条"])
    found = rows(db, "reply")
    assert [r["text"] for r in found] == ["第一条", "第二条"]
    assert {r["priority"] for r in found} == {max(messaging_outbox.PRIORITY.values())}
    assert {r["urgent"] for r in found} == {1} and PHONE not in str(found)
    provider = FakeProvider()
    night = later_daytime().replace(hour=23)
    assert drain(db, provider, at=night, limit=2).sent == 2  # before the notice
    assert provider.deliveries == [(PHONE, "第一条"), (PHONE, "第二条")]
    assert drain(db, provider, at=night).sent == 1  # then the reporter's notice
    assert drain(db, provider).handled == 0 and len(provider.deliveries) == 3


def test_a_crash_mid_reply_is_unknown_never_twice(db):
    message = InboundMessage(channel="sms", sender=PHONE, text="1", message_id="4712")
    with db.atomic():
        gateway_webhooks.queue_replies(db, VAULT, message, "tencent", "4712", ["回复"])
    provider = PlainProvider(crash_after_accepting=1)  # Aliyun, Tencent: no idempotency key
    with pytest.raises(Crash):
        drain(db, provider)
    recover_after_kill(db, provider)
    (row,) = rows(db, "reply")
    assert row["status"] == "unknown" and row["error_code"] == "crash_during_send"
    assert drain(db, PlainProvider()).handled == 0
    assert provider.deliveries == [(PHONE, "回复")]


@pytest.mark.parametrize("kind", ["tip", "alert"])
def test_campaign_rows_carry_their_kind_and_priority(db, kind):
    enroll(db, numbers(3))
    planned = campaigns.plan(
        db, kind=kind, scope_type="township", scope_value="东坝镇", created_by="t",
        text="紧急：有假医保局的人在东坝镇上门。" if kind == "alert" else None,
        urgent=kind == "alert", now=later_daytime(),
    )  # fmt: skip
    found = rows(db, kind)
    assert len(found) == 3 and {r["campaign_id"] for r in found} == {planned.campaign_id}
    assert {r["priority"] for r in found} == {messaging_outbox.PRIORITY[kind]}
    provider = FakeProvider()
    assert drain(db, provider).sent == 3
    assert drain(db, provider).sent == 0
    assert sorted(to for to, _ in provider.deliveries) == numbers(3)


# --- channels ------------------------------------------------------------------------


class RefusingWeChat:
    """WeChat outside the follower's 48-hour window."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, to: str, text: str) -> SendResult:
        self.calls += 1
        return SendResult(False, None, "outside_48h_window", permanent=True)


def wechat_follower_with_phone(db) -> None:
    enroll(db, [])
    assert subscriptions.subscribe(db, VAULT, OPENID, "wechat")
    sub = groups.subscriber(db, VAULT, OPENID)
    phones.set_phone(db, VAULT, sub["id"], PHONE)


def test_wechat_reporter_outside_the_window_hears_by_sms(db):
    wechat_follower_with_phone(db)
    report = queue_report_notice(db, channel="wechat", contact=OPENID)
    wechat, sms = RefusingWeChat(), FakeProvider()
    stats = drain(db, {"wechat": wechat, "sms": sms})
    assert stats.fell_back == 1 and stats.sent == 1 and wechat.calls == 1
    assert [to for to, _ in sms.deliveries] == [PHONE]
    assert report["ref"] in sms.deliveries[0][1]
    (row,) = rows(db, "report_update")
    assert row["channel"] == "sms" and row["fallback_reason"] == "outside_48h_window"
    assert row["status"] == "sent" and OPENID not in str(row)
    assert drain(db, {"wechat": wechat, "sms": sms}).handled == 0
    assert reports.get(db, report["id"])["notify_status"] == "sent"


def test_wechat_reporter_without_a_number_is_recorded_undeliverable(db):
    report = queue_report_notice(db, channel="wechat", contact=OPENID)
    sms = FakeProvider()
    stats = drain(db, {"wechat": RefusingWeChat(), "sms": sms})
    assert stats.undeliverable == 1 and sms.deliveries == []
    assert rows(db, "report_update")[0]["status"] == "undeliverable"
    assert reports.get(db, report["id"])["notify_status"] == "undeliverable"


def test_web_chat_reporter_is_recorded_not_pushed(db):
    report = closed_report(db, channel="web", contact="browser-1")
    assert reports.queue_notification(db, VAULT, report) == "undeliverable"
    (row,) = rows(db, "report_update")
    assert row["status"] == "undeliverable" and row["error_code"] == "no_push_channel"
    assert row["contact_enc"] is None
    assert drain(db, FakeProvider()).handled == 0


# --- failures --------------------------------------------------------------------------


def test_a_transient_failure_is_retried_by_the_next_drain(db):
    report = queue_report_notice(db)
    provider = FakeProvider(fail_codes={PHONE: ["30001"]})  # queue overflow: passing
    first = drain(db, provider)
    assert first.retried == 1 and provider.deliveries == []
    (row,) = rows(db, "report_update")
    assert row["status"] == "pending" and row["attempts"] == 1
    assert reports.get(db, report["id"])["notify_status"] == "queued"
    # The next drain (a minute later: past the backoff) sends it, once.
    assert drain(db, provider, at=later_daytime() + dt.timedelta(minutes=1)).sent == 1
    assert [to for to, _ in provider.deliveries] == [PHONE]


def test_a_crash_mid_send_without_idempotency_is_unknown_never_twice(db):
    queue_report_notice(db)
    provider = PlainProvider(crash_after_accepting=1)
    with pytest.raises(Crash):
        drain(db, provider)
    assert rows(db, "report_update")[0]["status"] == "sending"
    recover_after_kill(db, provider)
    (row,) = rows(db, "report_update")
    assert row["status"] == "unknown" and row["error_code"] == "crash_during_send"
    assert drain(db, PlainProvider()).handled == 0
    assert len(provider.deliveries) == 1


def test_a_crash_mid_send_with_idempotency_is_sent_once(db):
    queue_verdict_notice(db)
    provider = FakeProvider(crash_after_accepting=1)
    with pytest.raises(Crash):
        drain(db, provider)
    recover_after_kill(db, provider)
    provider.crash_after_accepting = None
    assert drain(db, provider).sent == 1  # resent with its key: the provider drops it
    assert len(provider.deliveries) == 1
    assert rows(db, "scam_verdict")[0]["status"] == "sent"


# --- priority --------------------------------------------------------------------------


def test_a_reporter_notice_queued_after_100_tips_is_sent_first(db):
    enroll(db, numbers(100))
    campaigns.plan(
        db, kind="tip", scope_type="township", scope_value="东坝镇", created_by="t",
        now=later_daytime() - dt.timedelta(hours=1),
    )  # fmt: skip
    assert len(rows(db, "tip")) == 100
    queue_report_notice(db)
    queue_verdict_notice(db, contact="13900000009")
    provider = FakeProvider()
    assert drain(db, provider, limit=2).sent == 2
    assert [to for to, _ in provider.deliveries] == [PHONE, "13900000009"]
    assert drain(db, provider).sent == 100


# --- waking the drain ----------------------------------------------------------------


def test_wake_asks_the_scheduler_and_never_sends_itself(db):
    woken = []
    messaging_outbox.set_waker(lambda: woken.append(1))
    try:
        queue_report_notice(db)
        assert woken == []  # queuing alone sends nothing and drains nothing
        assert messaging_outbox.wake() is True and woken == [1]
    finally:
        messaging_outbox.set_waker(None)
    assert messaging_outbox.wake() is False


def test_wake_runs_the_drain_tick_in_the_scheduler(tmp_path, monkeypatch):
    """The runner hands the drain tick's job a waker (jobs.Job.wake_with): wake runs the
    tick once at once in the scheduler's thread, never in the caller's."""
    import threading

    from jobs import runner
    from outreach import schedules

    ran = []
    tick = threading.Event()

    def fake_tick():
        ran.append(threading.current_thread().name)
        tick.set()

    monkeypatch.setattr(schedules, "drain_tick", fake_tick)
    drain_job = schedules.periodic_jobs({"HOTLINE_DB": str(tmp_path / "jobs.db")}, VAULT)[0]
    assert drain_job.wake_with is messaging_outbox.set_waker
    sched = runner.build_scheduler(tmp_path / "jobs.db")
    runner.run_now(sched, drain_job)  # not running: nothing queued
    assert sched.get_jobs() == []
    sched = runner.start(tmp_path / "jobs.db", [replace(drain_job, func=fake_tick)])
    try:
        assert tick.wait(5)  # at start
        tick.clear()
        assert messaging_outbox.wake() is True
        assert tick.wait(5), "the wake did not run the tick"
        assert len(ran) == 2 and threading.current_thread().name not in ran
    finally:
        sched.shutdown(wait=False)
        messaging_outbox.set_waker(None)
        schedules.set_runtime(None)


# --- no side doors -------------------------------------------------------------------


def test_no_app_extension_side_doors(degraded_app):
    assert "hotline_notify" not in degraded_app.extensions
    assert "hotline_scam_notices" not in degraded_app.extensions


def _imports(folder: str) -> set[str]:
    import ast
    from pathlib import Path

    found = set()
    for path in (Path(__file__).resolve().parents[2] / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_messaging_sits_below_the_domains_that_enqueue():
    ours = {"bot", "reporting", "registry", "review", "scamcheck", "messaging", "storage"}
    assert _imports("messaging") & ours <= {"storage", "messaging"}
    assert "bot" not in _imports("reporting")


def test_notices_are_counted_by_kind(db):
    queue_report_notice(db)
    queue_verdict_notice(db, contact="13900000009")
    drain(db, FakeProvider(), limit=1)
    counts = {n["kind"]: n for n in outbox.notice_counts(db)}
    assert counts["report_update"]["sent"] == 1 and counts["scam_verdict"]["queued"] == 1
