"""Tip schedules (outreach/schedules.py) live in the hotline database, in the job
runner's store (jobs/runner.py, APScheduler SQLAlchemyJobStore): they survive a
restart, and runs missed while the process was down fire once, not once per missed
slot. Bounded real-time waits (a few seconds at most)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.triggers.cron import CronTrigger

from jobs import runner
from outreach import schedules
from tests.helpers.outreach import VAULT, FakeProvider, enroll, new_db, numbers


@pytest.fixture
def db_path(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(3))
    db.conn.close()
    return str(tmp_path / "hotline.db")


@pytest.fixture
def provider(db_path):
    fake = FakeProvider()
    schedules.set_runtime(
        schedules.Runtime(db_path=db_path, vault=VAULT, sender_factory=lambda: fake, rate=0)
    )
    yield fake
    schedules.set_runtime(None)


def test_a_schedule_survives_a_restart(db_path):
    db = new_db_path(db_path)
    with runner.open_store(db_path) as store:
        row = schedules.add_schedule(
            db,
            store,
            scope_type="group",
            scope_value="石桥村",
            day="tue",
            time="10:00",
            created_by="李警官",
        )
        first = row["next_run"]
    assert first.weekday() == 1 and (first.hour, first.minute) == (10, 0)
    assert str(first.tzinfo) == "Asia/Shanghai"
    with runner.open_store(db_path) as store:  # a new process, the same file
        rows = schedules.list_schedules(db, store)
        assert [(r["id"], r["next_run"]) for r in rows] == [(row["id"], first)]
        job = store.get_job(row["job_id"])
        assert job.func_ref == "outreach.schedules:run_schedule"
        schedules.remove_schedule(db, store, row["id"])
    with runner.open_store(db_path) as store:
        assert store.get_jobs() == [] and schedules.list_schedules(db, store) == []


def new_db_path(path):
    from storage.db import connect

    return connect(path)


@pytest.mark.parametrize(
    ("target", "day", "time", "error"),
    [
        ("石桥村", "xyz", "10:00", "day must be"),
        ("石桥村", "tue", "25:00", "HH:MM"),
        ("石桥村", "tue", "10", "HH:MM"),
        ("没有村", "tue", "10:00", "no village group"),
    ],
)
def test_bad_schedules_are_refused(db_path, target, day, time, error):
    db = new_db_path(db_path)
    with runner.open_store(db_path) as store:
        with pytest.raises(schedules.ScheduleError, match=error):
            schedules.add_schedule(
                db,
                store,
                scope_type="group",
                scope_value=target,
                day=day,
                time=time,
                created_by="x",
            )
        assert store.get_jobs() == []


def test_missed_runs_fire_once_when_the_process_comes_back(db_path, provider):
    db = new_db_path(db_path)
    with runner.open_store(db_path) as store:
        row = schedules.add_schedule(
            db,
            store,
            scope_type="group",
            scope_value="石桥村",
            day="tue",
            time="10:00",
            created_by="t",
        )
        # Pretend the process was down for the last 30 minutes of an every-minute
        # schedule: 30 slots were missed.
        store.reschedule_job(
            row["job_id"], trigger=CronTrigger(minute="*", timezone="Asia/Shanghai")
        )
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)
        store.modify_job(row["job_id"], next_run_time=past)

    runs: list[str] = []
    done = threading.Event()

    def listen(event):
        runs.append("error" if event.code == EVENT_JOB_ERROR else event.job_id)
        done.set()

    # The schedule is every minute: keep the next real slot more than the waits below
    # away, so only the missed runs can fire (the test once met a minute boundary).
    second = dt.datetime.now().second
    if second >= 45:
        time.sleep(60 - second + 1)
    restarted = runner.build_scheduler(db_path)
    restarted.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    restarted.start()
    try:
        assert done.wait(10), "the missed run did not fire"
        done.clear()
        assert not done.wait(1.5)  # and nothing more fires for the other 29 slots
    finally:
        restarted.shutdown(wait=True)
    assert runs == [row["job_id"]]
    campaigns = list(db.query("SELECT * FROM campaigns"))
    assert len(campaigns) == 1 and campaigns[0]["recipients"] == 3
    assert campaigns[0]["key"].startswith(f"tip:schedule:{row['id']}:")
    queued_or_sent = db.execute(
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sent')"
    ).fetchone()[0]
    assert queued_or_sent == 3  # sent now, or waiting for 08:00 if the test runs at night


def test_running_a_schedule_twice_the_same_day_plans_once(db_path, provider):
    db = new_db_path(db_path)
    with runner.open_store(db_path) as store:
        row = schedules.add_schedule(
            db,
            store,
            scope_type="group",
            scope_value="石桥村",
            day="tue",
            time="10:00",
            created_by="t",
        )
    schedules.run_schedule(row["id"])
    schedules.run_schedule(row["id"])
    assert db.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 3
    assert len(provider.deliveries) in (0, 3)  # 0 only in quiet hours


def test_a_second_tip_the_same_morning_is_refused_and_says_which(db_path):
    db = new_db_path(db_path)
    with runner.open_store(db_path) as store:
        first = schedules.add_schedule(
            db,
            store,
            scope_type="group",
            scope_value="石桥村",
            day="tue,fri",
            time="09:30",
            created_by="县医保局",
        )
        # The township covers 石桥村: the same Friday morning twice is refused, naming it.
        township = db.execute("SELECT township FROM village_groups WHERE village = '石桥村'")
        [[name]] = township.fetchall()
        with pytest.raises(schedules.ScheduleError, match=f"schedule {first['id']}"):
            schedules.add_schedule(
                db,
                store,
                scope_type="township",
                scope_value=name,
                day="fri",
                time="11:00",
                created_by="派出所",
            )
        # The afternoon, or another day, is a different tip; a removed one clashes no more.
        schedules.add_schedule(
            db,
            store,
            scope_type="township",
            scope_value=name,
            day="fri",
            time="15:00",
            created_by="派出所",
        )
        schedules.add_schedule(
            db,
            store,
            scope_type="group",
            scope_value="石桥村",
            day="wed",
            time="09:30",
            created_by="县医保局",
        )
        schedules.remove_schedule(db, store, first["id"])
        schedules.add_schedule(
            db,
            store,
            scope_type="township",
            scope_value=name,
            day="tue",
            time="08:00",
            created_by="派出所",
        )
        assert len(schedules.list_schedules(db, store)) == 3
