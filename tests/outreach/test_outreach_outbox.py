"""The outbox sends each recipient exactly once, even across a crash mid-run; paces
to the configured rate; retries transient errors with backoff; a carrier opt-out
(Twilio 21610) stops every push to that subscriber; quiet hours hold routine pushes."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from messaging.providers.console import ConsoleSender
from outreach import campaigns, groups, outbox
from outreach.quiet_hours import in_quiet_hours, iso, next_allowed
from tests.helpers.outreach import (
    DAYTIME,
    NIGHT,
    VAULT,
    Crash,
    FakeProvider,
    PlainProvider,
    beijing,
    enroll,
    new_db,
    numbers,
)


def plan_tip(db, now=DAYTIME, key=None):
    return campaigns.plan(
        db,
        kind="tip",
        scope_type="group",
        scope_value="石桥村",
        created_by="test",
        now=now,
        key=key,
    )


def test_idempotent_provider_crash_after_accepting_then_resume_sends_each_once(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(40)
    enroll(db, phones)
    plan_tip(db)
    provider = FakeProvider(crash_after_accepting=17)
    with pytest.raises(Crash):
        outbox.drain(db, VAULT, provider, rate=0, batch=10, now=lambda: DAYTIME)
    statuses = Counter(r[0] for r in db.execute("SELECT status FROM outbox"))
    assert statuses["sent"] == 16 and statuses["sending"] == 1  # the one in doubt

    # "Restart": a new process recovers what the dead one left, then drains.
    provider.crash_after_accepting = None
    released, in_doubt = outbox.recover(db, resend_in_doubt=True, stale_after=0, now=DAYTIME)
    assert in_doubt == 1
    outbox.drain(db, VAULT, provider, rate=0, now=lambda: DAYTIME)
    delivered = Counter(to for to, _text in provider.deliveries)
    assert sorted(delivered) == sorted(phones)  # nobody missing
    assert set(delivered.values()) == {1}  # nobody twice
    assert {r[0] for r in db.execute("SELECT status FROM outbox")} == {"sent"}


def test_crash_between_sends_with_console_sender_then_resume(tmp_path, capsys):
    db = new_db(tmp_path)
    phones = numbers(12)
    enroll(db, phones)
    plan_tip(db)
    sender = ConsoleSender()
    seen = []

    def progress(outcome):
        seen.append(outcome)
        if len(seen) == 5:
            raise Crash

    with pytest.raises(Crash):
        outbox.drain(db, VAULT, sender, rate=0, progress=progress, now=lambda: DAYTIME)
    outbox.recover(db, resend_in_doubt=False, stale_after=0, now=DAYTIME)
    outbox.drain(db, VAULT, sender, rate=0, now=lambda: DAYTIME)
    assert Counter(to for to, _ in sender.sent) == Counter(phones)
    printed = capsys.readouterr().out
    assert printed.count("[console SMS ->") == 12
    assert "13800000003" not in printed  # the console masks the number


def test_provider_without_idempotency_never_resends_a_message_in_doubt(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(6)
    enroll(db, phones)
    plan_tip(db)
    provider = PlainProvider(crash_after_accepting=3)
    with pytest.raises(Crash):
        outbox.drain(db, VAULT, provider, rate=0, now=lambda: DAYTIME)
    provider.crash_after_accepting = None
    assert outbox.recover(db, resend_in_doubt=False, stale_after=0, now=DAYTIME) == (0, 1)
    outbox.drain(db, VAULT, provider, rate=0, now=lambda: DAYTIME)
    assert Counter(to for to, _ in provider.deliveries) == Counter(phones)  # no double
    assert db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'unknown'").fetchone()[0] == 1


def test_recover_leaves_fresh_claims_of_a_live_drainer_alone(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(3))
    plan_tip(db)
    db.execute("UPDATE outbox SET status = 'sending', claimed_at = ?", [iso(DAYTIME)])
    db.conn.commit()
    assert outbox.recover(db, resend_in_doubt=True, now=DAYTIME) == (0, 0)
    later = DAYTIME + dt.timedelta(seconds=outbox.LEASE_SECONDS + 1)
    assert outbox.recover(db, resend_in_doubt=True, now=later) == (0, 3)


def test_planning_the_same_key_twice_plans_once(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(4))
    first = plan_tip(db, key="tip:schedule:1:2025-03-04")
    again = plan_tip(db, key="tip:schedule:1:2025-03-04")
    assert first.created and not again.created
    assert again.campaign_id == first.campaign_id
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 4


def test_transient_errors_are_retried_with_exponential_backoff(tmp_path):
    db = new_db(tmp_path)
    phone = numbers(1)[0]
    enroll(db, [phone])
    plan_tip(db)
    provider = FakeProvider(fail_codes={phone: ["30001", "30001"]})
    clock = {"now": DAYTIME}
    stats = outbox.drain(db, VAULT, provider, rate=0, now=lambda: clock["now"])
    assert (stats.sent, stats.retried) == (0, 1)
    row = next(db.query("SELECT * FROM outbox"))
    assert row["status"] == "pending" and row["attempts"] == 1
    # Not due yet: nothing happens one second later.
    clock["now"] = DAYTIME + dt.timedelta(seconds=1)
    assert outbox.drain(db, VAULT, provider, rate=0, now=lambda: clock["now"]).handled == 0
    clock["now"] = DAYTIME + dt.timedelta(seconds=outbox.backoff(1) + 0.1)
    assert outbox.drain(db, VAULT, provider, rate=0, now=lambda: clock["now"]).retried == 1
    row = next(db.query("SELECT * FROM outbox"))
    waited = dt.datetime.fromisoformat(row["next_attempt_at"])
    assert round((waited - clock["now"]).total_seconds()) == outbox.backoff(2) == 4
    clock["now"] = waited
    assert outbox.drain(db, VAULT, provider, rate=0, now=lambda: clock["now"]).sent == 1
    assert len(provider.deliveries) == 1


def test_gives_up_after_max_attempts(tmp_path):
    db = new_db(tmp_path)
    phone = numbers(1)[0]
    enroll(db, [phone])
    plan_tip(db)
    provider = FakeProvider(fail_codes={phone: ["30001"] * 10})
    clock = {"now": DAYTIME}

    def sleep(seconds):
        clock["now"] += dt.timedelta(seconds=seconds)

    stats = outbox.drain(
        db,
        VAULT,
        provider,
        rate=0,
        max_attempts=2,
        retry_wait=60,  # waits for the retry due in 2 s
        now=lambda: clock["now"],
        sleep=sleep,
    )
    assert (stats.retried, stats.failed) == (1, 1)
    assert next(db.query("SELECT status, error_code FROM outbox")) == {
        "status": "failed",
        "error_code": "30001",
    }


def test_twilio_21610_opts_the_subscriber_out_of_every_push(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(3)
    enroll(db, phones)
    plan_tip(db)
    provider = FakeProvider(fail_codes={phones[1]: ["21610"]}, permanent={"21610"})
    stats = outbox.drain(db, VAULT, provider, rate=0, now=lambda: DAYTIME)
    assert (stats.sent, stats.failed) == (2, 1)
    sub = groups.subscriber(db, VAULT, phones[1])
    assert sub["status"] == "opted_out" and sub["opt_out_reason"] == "carrier:21610"
    assert groups.consents(db, sub["id"])[-1]["event"] == "opted_out"
    assert plan_tip(db, now=DAYTIME + dt.timedelta(days=7)).recipients == 2


def test_rows_of_someone_who_opted_out_after_planning_are_skipped(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(2)
    enroll(db, phones)
    plan_tip(db)
    sub = groups.subscriber(db, VAULT, phones[0])
    groups.mark_opted_out(db, sub["id"], "sms", "sms")
    provider = FakeProvider()
    stats = outbox.drain(db, VAULT, provider, rate=0, now=lambda: DAYTIME)
    assert (stats.sent, stats.skipped) == (1, 1)
    assert [to for to, _ in provider.deliveries] == [phones[1]]


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def test_pacer_spaces_sends_at_the_configured_rate():
    clock = FakeClock()
    pacer = outbox.Pacer(20, clock, clock.sleep)
    times = []
    for _ in range(101):
        pacer.wait()
        times.append(clock.t)
        clock.t += 0.001  # the send itself takes a millisecond
    assert times[-1] - times[0] == pytest.approx(100 / 20, rel=1e-9)


def test_pacer_does_not_burst_after_a_long_stall():
    clock = FakeClock()
    pacer = outbox.Pacer(10, clock, clock.sleep, max_lag=1.0)
    pacer.wait()
    clock.t += 30  # the provider hung for 30 s
    pacer.wait()
    start = clock.t
    for _ in range(10):
        pacer.wait()
    assert clock.t - start == pytest.approx(1.0)  # still 10/s, no catch-up burst


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (beijing(8, 0), False),
        (beijing(20, 59), False),
        (beijing(21, 0), True),
        (beijing(23, 30), True),
        (beijing(0, 0), True),
        (beijing(7, 59), True),
    ],
)
def test_quiet_hours_boundaries(moment, quiet):
    assert in_quiet_hours(moment) is quiet


def test_next_allowed_moves_routine_pushes_to_eight_in_the_morning():
    assert next_allowed(beijing(22, 30)) == beijing(8, 0, day=5)
    assert next_allowed(beijing(6, 15)) == beijing(8, 0)
    assert next_allowed(beijing(10, 0)) == beijing(10, 0)
    assert next_allowed(beijing(22, 30), urgent=True) == beijing(22, 30)


def test_routine_push_planned_at_night_waits_until_eight(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(3))
    planned = plan_tip(db, now=NIGHT)
    assert planned.not_before == "2025-03-05T00:00:00.000000+00:00"  # 08:00 Beijing
    provider = FakeProvider()
    assert outbox.drain(db, VAULT, provider, rate=0, now=lambda: NIGHT).handled == 0
    assert outbox.drain(db, VAULT, provider, rate=0, now=lambda: beijing(7, 59, 5)).handled == 0
    assert outbox.drain(db, VAULT, provider, rate=0, now=lambda: beijing(8, 0, 5)).sent == 3


def test_routine_rows_due_before_nine_pm_do_not_go_out_late(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(2))
    plan_tip(db, now=beijing(20, 55))
    late = beijing(21, 5)
    assert outbox.drain(db, VAULT, FakeProvider(), rate=0, now=lambda: late).handled == 0


def test_urgent_alert_goes_at_night_and_a_routine_one_waits(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(2))
    for urgent in (True, False):
        campaigns.plan(
            db,
            kind="alert",
            scope_type="township",
            scope_value="东坝镇",
            text="有人冒充医保局",
            urgent=urgent,
            created_by="李警官",
            now=NIGHT,
        )
    provider = FakeProvider()
    stats = outbox.drain(db, VAULT, provider, rate=0, now=lambda: NIGHT)
    assert stats.sent == 2
    assert all("紧急提醒" in text for _, text in provider.deliveries)
    pending = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    assert pending == 2


def test_a_tip_is_never_urgent(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(1))
    planned = campaigns.plan(
        db,
        kind="tip",
        scope_type="group",
        scope_value="石桥村",
        created_by="t",
        urgent=True,
        now=NIGHT,
    )
    assert planned.not_before == "2025-03-05T00:00:00.000000+00:00"
