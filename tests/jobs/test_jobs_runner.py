"""The one job runner (jobs/runner.py) runs the jobs each domain declares and the app
hands it (bot/periodic.py); it knows no domain. Bounded real-time waits."""

from __future__ import annotations

import datetime as dt
import pickle
import threading

import pytest

import jobs
from bot import periodic
from jobs import Job, runner
from outreach import schedules
from storage.db import connect
from storage.migrations import outreach as outreach_migrations
from tests.helpers.outreach import VAULT, new_db

STORED_CALLS: list[tuple] = []


def record(*args) -> None:
    """A stored job's function, named by text (tests.jobs.test_jobs_runner:record)."""
    STORED_CALLS.append(args)


@pytest.fixture
def db_path(tmp_path):
    new_db(tmp_path).conn.close()
    return str(tmp_path / "hotline.db")


def stored(args: tuple) -> Job:
    return Job(
        "daily-thing", "tests.jobs.test_jobs_runner:record", jobs.daily(3), args, stored=True
    )


def test_the_app_hands_every_domains_jobs_to_the_runner(db_path):
    config = {"HOTLINE_DB": db_path, "HOTLINE_VAR": "/tmp/hotline-var"}
    try:
        found = {job.id: job for job in periodic.periodic_jobs(config, VAULT)}
    finally:
        schedules.set_runtime(None)
    assert set(found) == {
        "outbox-drain",  # outreach: the drain tick, woken by messaging.outbox.wake
        "reports-purge",  # reporting
        "scam-verdict-notices",
        "orphan-photos",
        "review-purge",  # review
    }
    assert found["outbox-drain"].at_start and found["outbox-drain"].wake_with is not None
    assert found["reports-purge"].stored and found["review-purge"].stored
    assert found["reports-purge"].func == "reporting.purge:purge_job"


def test_a_stored_job_is_kept_once_and_new_args_keep_its_next_run(db_path):
    first = runner.start(db_path, [stored((1,))])
    try:
        job = first.get_job("daily-thing")
        assert job.args == (1,) and (job.next_run_time.hour, job.next_run_time.minute) == (3, 0)
        next_run = job.next_run_time
    finally:
        first.shutdown(wait=False)
    again = runner.start(db_path, [stored((2,))])  # settings changed before a restart
    try:
        kept = [j for j in again.get_jobs() if j.id == "daily-thing"]
        assert len(kept) == 1 and kept[0].args == (2,) and kept[0].next_run_time == next_run
    finally:
        again.shutdown(wait=False)


def test_a_memory_job_runs_at_start_and_on_its_trigger(db_path):
    ran = threading.Event()
    job = Job("tick", ran.set, jobs.every(3600), at_start=True)
    scheduler = runner.start(db_path, [job])
    try:
        assert ran.wait(5), "an at_start job runs at once"
        assert scheduler.get_job("tick").next_run_time > dt.datetime.now(dt.timezone.utc)
    finally:
        scheduler.shutdown(wait=False)


def test_the_foreground_scheduler_keeps_the_stored_jobs_too(db_path, monkeypatch):
    """``hotline scheduler`` (blocking) never returns from start(): the stored jobs are
    kept from the scheduler's start event, not after it."""
    built = []
    build = runner.build_scheduler
    monkeypatch.setattr(
        runner, "build_scheduler", lambda *a, **k: built.append(build(*a, **k)) or built[-1]
    )
    started = threading.Event()
    tick = Job("tick", started.set, jobs.every(3600), at_start=True)
    thread = threading.Thread(
        target=runner.start, args=(db_path, [tick, stored((7,))]), kwargs={"blocking": True}
    )
    thread.start()
    try:
        assert started.wait(5)
        with runner.open_store(db_path) as store:
            assert store.get_job("daily-thing").args == (7,)
    finally:
        built[0].shutdown(wait=False)
        thread.join(5)
    assert not thread.is_alive()


def test_two_jobs_with_one_id_are_refused(db_path):
    with pytest.raises(ValueError, match="share an id"):
        runner.start(db_path, [stored((1,)), stored((2,))])


def test_a_stored_job_must_name_its_function():
    with pytest.raises(ValueError, match="as text"):
        Job("x", record, jobs.daily(3), stored=True)


def test_tip_jobs_stored_under_the_old_module_are_renamed(db_path):
    """Before jobs/ existed, weekly tip jobs named outreach.scheduler:run_schedule; the
    migration points them at outreach.schedules, or APScheduler would drop them."""
    with runner.open_store(db_path) as store:
        store.add_job(schedules.RUN_SCHEDULE, jobs.weekly("tue", 10, 0), args=[5], id="tips-5")
    db = connect(db_path, migrate_schema=False)
    try:
        (blob,) = db.execute("SELECT job_state FROM apscheduler_jobs").fetchone()
        state = pickle.loads(blob)  # noqa: S301 - the test's own job store
        state["func"] = "outreach.scheduler:run_schedule"
        with db.atomic():
            db.execute("UPDATE apscheduler_jobs SET job_state = ?", [pickle.dumps(state)])
        with db.atomic():
            outreach_migrations._005_tip_jobs_named_in_outreach_schedules(db)
    finally:
        db.conn.close()
    with runner.open_store(db_path) as store:
        job = store.get_job("tips-5")
        assert job.func_ref == "outreach.schedules:run_schedule" and job.args == (5,)
