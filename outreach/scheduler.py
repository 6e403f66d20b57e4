"""Weekly tip schedules, run by APScheduler with its job store in the hotline database.

- Jobs live in the table ``apscheduler_jobs`` of the hotline database (SQLAlchemyJobStore
  on the same SQLite file or PostgreSQL database), so schedules survive restarts.
- ``coalesce=True`` and a misfire grace of 8 days: after downtime a missed weekly run
  fires once when the process comes back, not once per missed slot. The campaign key
  (schedule id + Beijing date) makes even a second firing the same day plan nothing new.
- Times are Asia/Shanghai. A run that lands in quiet hours plans its campaign for
  08:00; the drain tick (every minute, in memory) sends it then, and picks up retries.
- Who runs it: one leader (storage/leader.py: an advisory lock on PostgreSQL, a file
  lock on SQLite) however many processes and machines serve. ``hotline serve`` starts
  a BackgroundScheduler in the process that wins (``start_with_app``), and the others
  ask again every LEADER_RETRY_SECONDS, so one takes over when the leader dies;
  ``hotline scheduler`` waits for the leadership, then runs alone.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from apscheduler.events import EVENT_JOB_ERROR
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

import settings
from messaging import outbox as messaging_outbox
from messaging.providers.base import SmsSender
from outreach import campaigns, groups, outbox
from outreach.quiet_hours import BEIJING, in_quiet_hours, iso, utcnow
from reporting import scam_verdicts
from reporting.purge import remove_orphans
from storage.db import connect, sqlalchemy_url
from storage.leader import Leader
from storage.privacy import Vault
from storage.tables import new_id

log = logging.getLogger(__name__)

TIMEZONE = "Asia/Shanghai"
MISFIRE_GRACE = 8 * 24 * 3600  # longer than a week: the latest missed weekly slot still runs
DRAIN_TICK_SECONDS = 60
JOB_TABLE = "apscheduler_jobs"
LEADER_RETRY_SECONDS = 15.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PURGE_JOB_ID = "reports-purge"
DRAIN_NOW_JOB_ID = "outbox-drain-now"  # one-off drain asked for by messaging.outbox.wake
REVIEW_PURGE_JOB_ID = "review-purge"  # review/queue.py: messages kept for NLU review
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": MISFIRE_GRACE, "max_instances": 1}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class Runtime:
    """What scheduled jobs need; jobs are stored by reference, so this is looked up."""

    db_path: str
    vault: Vault
    # channel -> sender (outbox.senders_from_config), or one SMS sender
    sender_factory: Callable[[], SmsSender | outbox.Senders]
    rate: float = outbox.DEFAULT_RATE
    resend_in_doubt: bool = False
    # The daily purge of closed reports (reporting.purge): days, and the uploads folder.
    purge_days: int | None = None
    uploads_dir: str | None = None
    review_days: int | None = None  # HOTLINE_REVIEW_DAYS (review.queue.purge_job)
    drain_lock: threading.Lock = field(default_factory=threading.Lock)


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the outreach scheduler runtime is not set (start_with_app)")
    return _runtime


def build_scheduler(db_path: str | Path, *, blocking: bool = False) -> BaseScheduler:
    jobstores = {
        "default": SQLAlchemyJobStore(url=sqlalchemy_url(db_path), tablename=JOB_TABLE),
        # The drain tick is re-added at every start: nothing to persist.
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


# --- jobs (referenced as text in the job store) ------------------------------------


def run_schedule(schedule_id: int) -> None:
    """A weekly slot: plan the tip push for the schedule's target, then drain."""
    rt = runtime()
    db = connect(rt.db_path, migrate_schema=False)
    try:
        row = db.execute(
            "SELECT scope_type, scope_value, active FROM tip_schedules WHERE id = ?",
            [schedule_id],
        ).fetchone()
        if row is None or not row[2]:
            log.info("tip schedule %s is gone or inactive: nothing to do", schedule_id)
            return
        day = utcnow().astimezone(BEIJING).date().isoformat()
        planned = campaigns.plan(
            db,
            kind="tip",
            scope_type=row[0],
            scope_value=row[1],
            created_by=f"schedule:{schedule_id}",
            key=f"tip:schedule:{schedule_id}:{day}",
        )
        log.info(
            "tip schedule %s: campaign %s, %d recipients%s, sending from %s",
            schedule_id,
            planned.campaign_id,
            planned.recipients,
            "" if planned.created else " (already planned today)",
            planned.not_before,
        )
        _drain(rt, db)
    finally:
        db.conn.close()


def drain_tick() -> None:
    """Every minute: send whatever is due (tips and verdict notices deferred by quiet
    hours, retries, alerts, reporter notices); also run at once by ``drain_now``."""
    rt = runtime()
    db = connect(rt.db_path, migrate_schema=False)
    try:
        outbox.recover(db, resend_in_doubt=rt.resend_in_doubt)
        # Verdict notices the police page could not queue (or queued before an upgrade).
        scam_verdicts.enqueue_notices(db, rt.vault)
        _drain(rt, db)
        if rt.uploads_dir:  # photos only checked, never reported: gone within minutes
            remove_orphans(db, rt.uploads_dir)
    finally:
        db.conn.close()


def drain_now(scheduler: BaseScheduler) -> None:
    """Run the drain tick once now, in the scheduler's thread (messaging.outbox.wake):
    a notice queued by a web request goes out without waiting for the minute tick and
    without sending inside that request. While a drain runs, this one is skipped and
    the running drain, or the next tick, takes the row."""
    if not scheduler.running:
        return
    scheduler.add_job(
        drain_tick,
        next_run_time=dt.datetime.now(dt.timezone.utc),
        id=DRAIN_NOW_JOB_ID,
        jobstore="memory",
        replace_existing=True,
    )


def _drain(rt: Runtime, db: sqlite_utils.Database) -> None:
    # One drain at a time per process: two would each pace to the full rate.
    if not rt.drain_lock.acquire(blocking=False):
        return
    try:
        stats = outbox.drain(db, rt.vault, rt.sender_factory(), rate=rt.rate)
        if stats.handled:
            log.info(
                "outbox: %d sent, %d failed, %d to retry, %d skipped in %.1fs",
                stats.sent,
                stats.failed,
                stats.retried,
                stats.skipped,
                stats.elapsed,
            )
    finally:
        rt.drain_lock.release()


# --- schedules ---------------------------------------------------------------------


class ScheduleError(ValueError):
    pass


def parse_days(day: str) -> str:
    days = [d.strip().lower()[:3] for d in day.split(",") if d.strip()]
    if not days or any(d not in DAYS for d in days):
        raise ScheduleError(f"day must be one or more of {','.join(DAYS)} (e.g. tue or mon,thu)")
    return ",".join(days)


def parse_time(value: str) -> tuple[int, int]:
    match = _TIME.match(value.strip())
    if not match:
        raise ScheduleError("time must be HH:MM, Beijing time (e.g. 10:00)")
    return int(match.group(1)), int(match.group(2))


def add_schedule(
    db: sqlite_utils.Database,
    scheduler: BaseScheduler,
    *,
    scope_type: str,
    scope_value: str,
    day: str,
    time: str,
    created_by: str,
) -> dict[str, Any]:
    """A weekly tip push to a group / township / county; returns the schedule."""
    days = parse_days(day)
    hour, minute = parse_time(time)
    try:
        covered = set(groups.resolve_scope(db, scope_type, scope_value))
    except groups.ScopeError as exc:
        raise ScheduleError(str(exc)) from exc
    clash = _same_half_day(db, covered, days, hour)
    if clash is not None:
        raise ScheduleError(
            f"villages in {scope_type} {scope_value.strip()!r} already get a tip on "
            f"{clash['day_of_week']} at {clash['time']} (schedule {clash['id']}, "
            f"{clash['scope_type']} {clash['scope_value']}): one tip a morning or afternoon "
            "is what a villager reads; choose another day or half-day, or remove that one"
        )
    with db.atomic():
        schedule_id = new_id(
            db.table("tip_schedules").insert(
                {
                    "scope_type": scope_type,
                    "scope_value": scope_value.strip(),
                    "day_of_week": days,
                    "time": f"{hour:02d}:{minute:02d}",
                    "created_by": created_by,
                    "created_at": iso(utcnow()),
                    "active": 1,
                }
            )
        )
        job_id = f"tips-{schedule_id}"
        db.table("tip_schedules").update(schedule_id, {"job_id": job_id})
    scheduler.add_job(
        "outreach.scheduler:run_schedule",
        CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=TIMEZONE),
        args=[schedule_id],
        id=job_id,
        name=f"tips to {scope_type} {scope_value.strip()}",
        jobstore="default",
        replace_existing=True,
    )
    return schedule(db, scheduler, schedule_id)


def _same_half_day(
    db: sqlite_utils.Database, covered: set[int], days: str, hour: int
) -> dict[str, Any] | None:
    """An active schedule that would reach one of ``covered``'s villages on one of
    ``days`` in the same half-day (before or after noon), or None. A second tip the same
    morning is the one nobody reads, and it makes the weekly tip look like spam."""
    wanted_days, afternoon = set(days.split(",")), hour >= 12
    for row in db.query("SELECT * FROM tip_schedules WHERE active = 1 ORDER BY id"):
        if not wanted_days & set(row["day_of_week"].split(",")):
            continue
        if (int(row["time"][:2]) >= 12) != afternoon:
            continue
        try:
            theirs = set(groups.resolve_scope(db, row["scope_type"], row["scope_value"]))
        except groups.ScopeError:  # its villages are gone: nothing to clash with
            continue
        if theirs & covered:
            return row
    return None


def schedule(db: sqlite_utils.Database, scheduler: BaseScheduler, schedule_id: int) -> dict:
    rows = list(db.query("SELECT * FROM tip_schedules WHERE id = ?", [schedule_id]))
    if not rows:
        raise ScheduleError(f"no tip schedule {schedule_id}")
    row = rows[0]
    job = scheduler.get_job(row["job_id"]) if row["job_id"] else None
    row["next_run"] = job.next_run_time if job else None
    row["quiet"] = in_quiet_hours(
        dt.datetime.combine(dt.date.today(), dt.time.fromisoformat(row["time"]), tzinfo=BEIJING)
    )
    return row


def list_schedules(db: sqlite_utils.Database, scheduler: BaseScheduler) -> list[dict]:
    ids = [r[0] for r in db.execute("SELECT id FROM tip_schedules WHERE active = 1 ORDER BY id")]
    return [schedule(db, scheduler, i) for i in ids]


def remove_schedule(db: sqlite_utils.Database, scheduler: BaseScheduler, schedule_id: int) -> None:
    row = schedule(db, scheduler, schedule_id)
    with db.atomic():
        db.table("tip_schedules").update(schedule_id, {"active": 0})
    if row["next_run"] is not None:
        scheduler.remove_job(row["job_id"])


# --- starting ----------------------------------------------------------------------


def start(rt: Runtime, *, blocking: bool = False) -> BaseScheduler:
    set_runtime(rt)
    db = connect(rt.db_path, migrate_schema=False)
    try:
        # Rows a previous process left claimed or in doubt: it is gone, take them back.
        outbox.recover(db, resend_in_doubt=rt.resend_in_doubt)
    finally:
        db.conn.close()
    scheduler = build_scheduler(rt.db_path, blocking=blocking)
    scheduler.add_job(
        drain_tick,
        "interval",
        seconds=DRAIN_TICK_SECONDS,
        id="outbox-drain",
        jobstore="memory",
        replace_existing=True,
        # At once too: rows queued before this scheduler ran (by another worker while
        # this one started, or before a restart) must not wait for the first tick.
        next_run_time=dt.datetime.now(dt.timezone.utc),
    )
    scheduler.add_listener(
        lambda event: log.error("scheduled job %s failed", event.job_id, exc_info=event.exception),
        EVENT_JOB_ERROR,
    )
    if not blocking:
        atexit.register(lambda: scheduler.running and scheduler.shutdown(wait=False))
    messaging_outbox.set_waker(lambda: drain_now(scheduler))
    scheduler.start()
    schedule_purge(scheduler, rt)
    return scheduler


def schedule_purge(scheduler: BaseScheduler, rt: Runtime) -> None:
    """The daily purge lives in the persistent store, added once and kept.

    Re-adding it at every start would compute the next run from now and drop a 03:00
    run missed while the server was down; kept in the store, a missed run is coalesced
    and runs at start (within the misfire grace)."""
    jobs = [
        (PURGE_JOB_ID, "reporting.purge:purge_job", [rt.db_path, rt.purge_days, rt.uploads_dir]),
        (REVIEW_PURGE_JOB_ID, "review.queue:purge_job", [rt.db_path, rt.review_days]),
    ]
    for job_id, func, args in jobs:
        job = scheduler.get_job(job_id)
        if job is None:
            scheduler.add_job(
                func, CronTrigger(hour=3, minute=0, timezone=TIMEZONE), args=args, id=job_id
            )
        elif list(job.args) != args:  # settings changed; modify keeps the pending run time
            job.modify(args=args)


def runtime_from_config(config: dict[str, Any], vault: Vault) -> Runtime:
    return Runtime(
        db_path=str(config["HOTLINE_DB"]),
        vault=vault,
        # SMS and WeChat (importing outbox registered the WeChat sender).
        sender_factory=lambda: outbox.senders_from_config(config),
        rate=rate_from_config(config),
        purge_days=settings.integer("HOTLINE_PURGE_DAYS", config),
        review_days=settings.integer("HOTLINE_REVIEW_DAYS", config),
        uploads_dir=(
            str(Path(config["HOTLINE_VAR"]) / "uploads") if config.get("HOTLINE_VAR") else None
        ),
    )


def rate_from_config(config: dict[str, Any]) -> float:
    """HOTLINE_SMS_RATE messages per second; unset: the SMS provider's own limit."""
    from messaging.providers import base as sms_provider

    return sms_provider.rate(
        {**config, "HOTLINE_SMS_RATE": settings.value("HOTLINE_SMS_RATE", config)}
    )


def lead(rt: Runtime, *, blocking: bool = False, retry: float = LEADER_RETRY_SECONDS) -> Leader:
    """Run the scheduler only while this process leads (storage/leader.py). Blocking: wait
    for the leadership, then run in the foreground. Else: start now if it is free, or
    ask again every ``retry`` seconds in a daemon thread and start when it is won."""
    leader = Leader(rt.db_path, "scheduler")
    if blocking:
        while not leader.try_acquire():
            threading.Event().wait(retry)
        start(rt, blocking=True)
        return leader
    if leader.try_acquire():
        leader.scheduler = start(rt)
        return leader
    log.info("another process runs the scheduler; this one asks again every %ss", retry)

    def wait_for_leadership() -> None:
        while not leader.try_acquire():
            threading.Event().wait(retry)
        log.info("the scheduler leader is gone: this process takes over")
        leader.scheduler = start(rt)

    threading.Thread(target=wait_for_leadership, name="scheduler-leader", daemon=True).start()
    return leader


def start_with_app(app: Any) -> Leader:
    """Start the background scheduler inside the web process (``hotline serve``) when
    this process is (or later becomes) the one leader."""
    leader = lead(runtime_from_config(app.config, app.extensions["hotline_vault"]))
    app.extensions["hotline_scheduler_leader"] = leader
    return leader
