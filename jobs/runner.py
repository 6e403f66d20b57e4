"""The job runner: APScheduler with its job store in the hotline database, one leader.

- Stored jobs live in the table ``apscheduler_jobs`` of the hotline database
  (SQLAlchemyJobStore on the same SQLite file or PostgreSQL database), so schedules
  survive restarts.
- ``coalesce=True`` and a misfire grace of 8 days: after downtime a missed weekly run
  fires once when the process comes back, not once per missed slot (a job that must not
  do its work twice in a day keys it by date: outreach's weekly tips do).
- Times are Asia/Shanghai (``jobs.TIMEZONE``).
- Who runs it: one leader (storage/leader.py: an advisory lock on PostgreSQL, a file
  lock on SQLite) however many processes and machines serve. ``hotline serve`` starts
  a BackgroundScheduler in the process that wins (``lead``), and the others ask again
  every LEADER_RETRY_SECONDS, so one takes over when the leader dies; ``hotline
  scheduler`` waits for the leadership, then runs alone.

The jobs are handed in (``jobs.Job``, declared by each domain): this module imports
no domain.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_SCHEDULER_START
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from jobs import TIMEZONE, Job
from storage.db import sqlalchemy_url
from storage.leader import Leader

log = logging.getLogger(__name__)

MISFIRE_GRACE = 8 * 24 * 3600  # longer than a week: the latest missed weekly slot still runs
JOB_TABLE = "apscheduler_jobs"
LEADER_RETRY_SECONDS = 15.0
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE, "max_instances": 1}


def build_scheduler(db_path: str | Path, *, blocking: bool = False) -> BaseScheduler:
    jobstores = {
        "default": SQLAlchemyJobStore(url=sqlalchemy_url(db_path), tablename=JOB_TABLE),
        # Jobs re-added at every start (the drain tick): nothing to persist.
        "memory": MemoryJobStore(),
    }
    cls = BlockingScheduler if blocking else BackgroundScheduler
    return cls(jobstores=jobstores, job_defaults=JOB_DEFAULTS, timezone=TIMEZONE)


class _StoreOnlyScheduler(BaseScheduler):
    """Reads and edits jobs in the store and never runs one: it has no main loop.

    A paused BackgroundScheduler is not enough: while it shuts down, its loop thread
    processes due jobs once more, so a CLI `tips list` would consume (and lose) a run
    that a downed server had missed."""

    def wakeup(self) -> None:
        pass

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)


class open_store:  # noqa: N801 - used as a context manager, reads like one
    """The job store for editing schedules (CLI, web) without running any job."""

    def __init__(self, db_path: str | Path) -> None:
        self.scheduler = _StoreOnlyScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(url=sqlalchemy_url(db_path), tablename=JOB_TABLE)
            },
            job_defaults=JOB_DEFAULTS,
            timezone=TIMEZONE,
        )

    def __enter__(self) -> BaseScheduler:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # no chatter in the CLI
        self.scheduler.start(paused=True)
        return self.scheduler

    def __exit__(self, *_exc: object) -> None:
        self.scheduler.shutdown(wait=False)


def run_now(scheduler: BaseScheduler, job: Job) -> None:
    """Run ``job`` once now, in the scheduler's thread (a domain's wake: a notice queued
    by a web request goes out without waiting for the next tick and without running
    inside that request). While a run of it is due or running, this one replaces the
    due one or is skipped (max_instances=1): the running one, or the next tick, does it."""
    if not scheduler.running:
        return
    scheduler.add_job(
        job.func,
        args=list(job.args),
        next_run_time=dt.datetime.now(dt.timezone.utc),
        id=f"{job.id}-now",
        jobstore="memory",
        replace_existing=True,
    )


def keep_stored(scheduler: BaseScheduler, jobs: Sequence[Job]) -> None:
    """Stored jobs are added once and kept.

    Re-adding one at every start would compute the next run from now and drop a 03:00
    run missed while the server was down; kept in the store, a missed run is coalesced
    and runs at start (within the misfire grace)."""
    for job in jobs:
        found = scheduler.get_job(job.id)
        if found is None:
            scheduler.add_job(job.func, job.trigger, args=tuple(job.args), id=job.id)
        elif tuple(found.args) != tuple(job.args):  # settings changed; keeps the run time
            found.modify(args=tuple(job.args))


def start(db_path: str | Path, jobs: Sequence[Job], *, blocking: bool = False) -> BaseScheduler:
    """Run ``jobs`` (every domain's, handed in by the app) until shut down; blocking: in
    the foreground, else in a background thread (returned at once)."""
    ids = [job.id for job in jobs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"two jobs share an id: {sorted(ids)}")
    scheduler = build_scheduler(db_path, blocking=blocking)
    for job in jobs:
        if job.stored:
            continue
        extra: dict[str, Any] = {}
        if job.at_start:
            # Work queued before this scheduler ran (by another worker while this one
            # started, or before a restart) must not wait for the first tick.
            extra["next_run_time"] = dt.datetime.now(dt.timezone.utc)
        scheduler.add_job(
            job.func,
            job.trigger,
            args=list(job.args),
            id=job.id,
            jobstore="memory",
            replace_existing=True,
            **extra,
        )
    scheduler.add_listener(
        lambda event: log.error("scheduled job %s failed", event.job_id, exc_info=event.exception),
        EVENT_JOB_ERROR,
    )
    # The store is open only once the scheduler has started; a blocking scheduler never
    # returns from start(), so the stored jobs are kept from its start event.
    stored = [job for job in jobs if job.stored]
    scheduler.add_listener(lambda _event: keep_stored(scheduler, stored), EVENT_SCHEDULER_START)
    for job in jobs:
        if job.wake_with is not None:
            job.wake_with(functools.partial(run_now, scheduler, job))
    if not blocking:
        atexit.register(lambda: scheduler.running and scheduler.shutdown(wait=False))
    try:
        scheduler.start()
    finally:
        if blocking:  # returned: stopped (Ctrl-C)
            _unwake(jobs)
    return scheduler


def _unwake(jobs: Sequence[Job]) -> None:
    for job in jobs:
        if job.wake_with is not None:
            job.wake_with(None)


def lead(
    db_path: str | Path,
    jobs: Sequence[Job],
    *,
    blocking: bool = False,
    retry: float = LEADER_RETRY_SECONDS,
) -> Leader:
    """Run the scheduler only while this process leads (storage/leader.py). Blocking: wait
    for the leadership, then run in the foreground. Else: start now if it is free, or
    ask again every ``retry`` seconds in a daemon thread and start when it is won."""
    leader = Leader(db_path, "scheduler")
    if blocking:
        while not leader.try_acquire():
            threading.Event().wait(retry)
        start(db_path, jobs, blocking=True)
        return leader
    if leader.try_acquire():
        leader.scheduler = start(db_path, jobs)
        return leader
    log.info("another process runs the scheduler; this one asks again every %ss", retry)

    def wait_for_leadership() -> None:
        while not leader.try_acquire():
            threading.Event().wait(retry)
        log.info("the scheduler leader is gone: this process takes over")
        leader.scheduler = start(db_path, jobs)

    threading.Thread(target=wait_for_leadership, name="scheduler-leader", daemon=True).start()
    return leader
