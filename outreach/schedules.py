"""Weekly tip schedules and the outbox drain tick: outreach's periodic work.

- A schedule is a row of ``tip_schedules`` and a stored job of the one job runner
  (jobs/runner.py) that calls ``run_schedule`` at its weekly slot, Beijing time. The
  campaign key (schedule id + Beijing date) makes even a second firing the same day
  plan nothing new. A run that lands in quiet hours plans its campaign for 08:00; the
  drain tick sends it then.
- The drain tick (every minute, in memory, and at once when a domain calls
  ``messaging.outbox.wake``) sends whatever is due and picks up retries.

``periodic_jobs`` declares both to the runner; the app shell hands the list over
(bot/periodic.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from apscheduler.schedulers.base import BaseScheduler

import settings
from jobs import Job, every, weekly
from messaging import outbox as messaging_outbox
from messaging.providers.base import SmsSender
from outreach import campaigns, groups, outbox
from outreach.quiet_hours import BEIJING, in_quiet_hours, iso, utcnow
from storage.db import connect
from storage.privacy import Vault
from storage.tables import new_id

log = logging.getLogger(__name__)

DRAIN_TICK_SECONDS = 60
DRAIN_JOB_ID = "outbox-drain"
# The stored weekly jobs name their function by text (storage/migrations/outreach.py
# moved the ones stored as outreach.scheduler:run_schedule).
RUN_SCHEDULE = "outreach.schedules:run_schedule"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class Runtime:
    """What the jobs need; stored jobs are named by text, so this is looked up."""

    db_path: str
    vault: Vault
    # channel -> sender (outbox.senders_from_config), or one SMS sender
    sender_factory: Callable[[], SmsSender | outbox.Senders]
    rate: float = outbox.DEFAULT_RATE
    resend_in_doubt: bool = False
    drain_lock: threading.Lock = field(default_factory=threading.Lock)


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the outreach runtime is not set (periodic_jobs)")
    return _runtime


def periodic_jobs(config: Mapping[str, Any], vault: Vault) -> list[Job]:
    """Outreach's jobs for the runner: the drain tick (also woken by
    ``messaging.outbox.wake``). The weekly tip jobs are in the store already, added by
    ``add_schedule``; they find their runtime here."""
    set_runtime(runtime_from_config(config, vault))
    return [
        Job(
            DRAIN_JOB_ID,
            drain_tick,
            every(DRAIN_TICK_SECONDS),
            at_start=True,
            wake_with=messaging_outbox.set_waker,
        )
    ]


# --- jobs ------------------------------------------------------------------------


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
    hours, retries, alerts, reporter notices, replies); also run at once on a wake.
    Rows a dead drainer left claimed or in doubt are taken back first."""
    rt = runtime()
    db = connect(rt.db_path, migrate_schema=False)
    try:
        outbox.recover(db, resend_in_doubt=rt.resend_in_doubt)
        _drain(rt, db)
    finally:
        db.conn.close()


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


# --- schedules -------------------------------------------------------------------


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
        RUN_SCHEDULE,
        weekly(days, hour, minute),
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


# --- settings ----------------------------------------------------------------------


def runtime_from_config(config: Mapping[str, Any], vault: Vault) -> Runtime:
    return Runtime(
        db_path=str(config["HOTLINE_DB"]),
        vault=vault,
        # SMS and WeChat (importing outbox registered the WeChat sender).
        sender_factory=lambda: outbox.senders_from_config(dict(config)),
        rate=rate_from_config(config),
    )


def rate_from_config(config: Mapping[str, Any]) -> float:
    """HOTLINE_SMS_RATE messages per second; unset: the SMS provider's own limit."""
    from messaging.providers import base as sms_provider

    return sms_provider.rate(
        {**config, "HOTLINE_SMS_RATE": settings.value("HOTLINE_SMS_RATE", config)}
    )
