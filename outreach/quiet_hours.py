"""Quiet hours: no routine push between 21:00 and 08:00 Beijing time (a carrier rule for
marketing-like messages). Urgent alerts are exempt when explicitly marked urgent."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
QUIET_START = dt.time(21, 0)
QUIET_END = dt.time(8, 0)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("quiet hours need an aware datetime (naive times are ambiguous)")
    return moment


def in_quiet_hours(moment: dt.datetime) -> bool:
    local = _aware(moment).astimezone(BEIJING).time()
    return local >= QUIET_START or local < QUIET_END


def next_allowed(moment: dt.datetime, *, urgent: bool = False) -> dt.datetime:
    """``moment`` itself when a push may go then, else the next 08:00 Beijing time (UTC)."""
    moment = _aware(moment)
    if urgent or not in_quiet_hours(moment):
        return moment.astimezone(dt.timezone.utc)
    local = moment.astimezone(BEIJING)
    day = local.date() if local.time() < QUIET_END else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, QUIET_END, tzinfo=BEIJING).astimezone(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """The one spelling of times in outreach tables: UTC, seconds, sortable as text."""
    return _aware(moment).astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
