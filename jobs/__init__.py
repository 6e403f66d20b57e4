"""The app's one job runner: every domain's periodic work, run by one leader.

It knows no domain. Each domain declares its periodic jobs once, as a list of ``Job``
(``periodic_jobs(config, vault)`` in outreach/schedules.py, reporting/periodic.py,
review/queue.py), and the app shell gathers them (bot/periodic.py) and hands the list
to the runner (jobs/runner.py: ``lead``, ``start``), the way the app factory hands the
conversation engine its skills. So jobs/ sits just above storage/ and settings/, and
the domains import it only for ``Job`` and the triggers.

Two kinds of job:

- in memory (``stored=False``): re-added at every start, a callable (the outbox drain
  tick, every minute); ``at_start`` runs it once at once too.
- stored (``stored=True``): kept in APScheduler's job store in the hotline database,
  named by text (``"module:function"``) with picklable ``args``, so a run missed while
  the server was down runs once when it is back (a daily purge at 03:00). Added once and
  kept; new ``args`` (settings changed) modify it without losing its pending run.

``wake_with``: how a domain asks for a run now, outside its caller's request (the
outbox's ``messaging.outbox.set_waker``): the runner hands it a function that runs the
job once at once in the scheduler's thread, and None when it stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

# Every schedule is Beijing time: tips at 10:00 mean 10:00 in the village.
TIMEZONE = "Asia/Shanghai"

Waker = Callable[[], None]


@dataclass(frozen=True)
class Job:
    """One periodic job a domain declares."""

    id: str
    func: Callable[..., Any] | str  # stored jobs: "module:function"
    trigger: BaseTrigger
    args: tuple[Any, ...] = ()
    stored: bool = False
    at_start: bool = False
    wake_with: Callable[[Waker | None], None] | None = None

    def __post_init__(self) -> None:
        if self.stored and not isinstance(self.func, str):
            raise ValueError(f"stored job {self.id!r} must name its function as text")


def every(seconds: float) -> IntervalTrigger:
    return IntervalTrigger(seconds=seconds, timezone=TIMEZONE)


def daily(hour: int, minute: int = 0) -> CronTrigger:
    return CronTrigger(hour=hour, minute=minute, timezone=TIMEZONE)


def weekly(days: str, hour: int, minute: int) -> CronTrigger:
    """``days``: APScheduler's day_of_week list ("tue", "mon,thu")."""
    return CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=TIMEZONE)
