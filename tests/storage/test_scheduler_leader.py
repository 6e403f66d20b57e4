"""One scheduler leader however many processes run, on SQLite and on PostgreSQL, and the
APScheduler job store on the same database (runs on both engines: tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

import jobs
from jobs import runner
from storage import pgserver
from storage.db import connect
from storage.leader import Leader

ROOT = Path(__file__).resolve().parents[2]

CONTENDER = """
import sys, time
from storage.leader import Leader
leader = Leader(sys.argv[1], "scheduler")
print("won" if leader.try_acquire() else "lost", flush=True)
time.sleep(120)
"""


def _where(database_url, tmp_path):
    return database_url or str(tmp_path / "hotline.db")


def _contender(where: str) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CONTENDER, where],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return child, child.stdout.readline().strip()


def _won_within(leader: Leader, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if leader.try_acquire():
            return True
        time.sleep(0.05)
    return False


def test_two_contenders_one_wins_and_the_leader_dying_frees_it(database_url, tmp_path):
    where = _where(database_url, tmp_path)
    connect(where).conn.close()
    first, said = _contender(where)
    try:
        assert said == "won"
        second, said_second = _contender(where)
        second.kill()
        second.wait()
        assert said_second == "lost"
        here = Leader(where, "scheduler")
        assert not here.try_acquire()
        assert not here.held
        first.send_signal(signal.SIGKILL)  # no clean-up: the engine must free the lock
        first.wait()
        assert _won_within(here, 10), "the dead leader's lock was not freed"
        assert here.held
        # Now this process leads: a newcomer loses.
        third, said_third = _contender(where)
        third.kill()
        third.wait()
        assert said_third == "lost"
        here.release()
        assert not here.held
        again = Leader(where, "scheduler")
        assert again.try_acquire()
        again.release()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_different_leaderships_do_not_meet(database_url, tmp_path):
    where = _where(database_url, tmp_path)
    connect(where).conn.close()
    with Leader(where, "scheduler") as a, Leader(where, "other") as b:
        assert a.try_acquire()
        assert b.try_acquire()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_hotlines_in_two_schemas_each_have_a_leader(database_url, postgres_server):
    # Advisory locks are per database: keyed without the schema, a hotline in another
    # schema of the same database (or any earlier test's server) took this one's
    # leadership, and its scheduler never ran (no job store, no purges).
    other, schema = pgserver.create_schema(postgres_server)
    try:
        connect(database_url).conn.close()
        connect(other).conn.close()
        with Leader(other, "scheduler") as theirs, Leader(database_url, "scheduler") as ours:
            assert theirs.try_acquire()
            assert ours.try_acquire()
            rival = Leader(database_url, "scheduler")
            assert not rival.try_acquire()  # one leader per hotline still
    finally:
        pgserver.drop_schema(postgres_server, schema)


def test_job_store_lives_in_the_same_database(database_url, tmp_path):
    where = _where(database_url, tmp_path)
    connect(where).conn.close()
    with runner.open_store(where) as store:
        store.add_job(
            "reporting.purge:purge_job",
            CronTrigger(hour=3, minute=0, timezone=jobs.TIMEZONE),
            args=[where, 30, None],
            id="probe",
        )
    with runner.open_store(where) as store:  # a new process, the same database
        job = store.get_job("probe")
        assert job is not None and list(job.args) == [where, 30, None]
    db = connect(where, migrate_schema=False)
    try:
        names = db.table_names()
        assert runner.JOB_TABLE in names
        count = db.execute(f"SELECT count(*) FROM {runner.JOB_TABLE}").fetchone()[0]  # noqa: S608
        assert count == 1
    finally:
        db.conn.close()
    if database_url:
        assert not list(tmp_path.glob("**/*.db")), "a SQLite file appeared"
