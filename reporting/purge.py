"""Forget the personal part of closed reports after ``HOTLINE_PURGE_DAYS`` days.

What is kept is what the statistics need: category, priority, status, village,
township, county, station and the dates. The reporter's contact, what they wrote, the
conversation, the photos and the officers' notes go.
"""

from __future__ import annotations

import datetime as dt
import os

import sqlite_utils

from reporting.reports import CLOSED, now

DEFAULT_PURGE_DAYS = 180
PERSONAL_FIELDS = (
    "contact_hash",
    "contact_enc",
    "contact_masked",
    "summary",
    "village_text",
    "occurred_text",
    "details",
    "suspect_phones",
    "routing_note",
)


def purge_days(config: dict | None = None) -> int:
    value = (config or {}).get("HOTLINE_PURGE_DAYS") or os.environ.get("HOTLINE_PURGE_DAYS")
    return int(value) if value else DEFAULT_PURGE_DAYS


def purge_closed(db: sqlite_utils.Database, days: int, at: dt.datetime | None = None) -> int:
    """Purge closed reports closed more than ``days`` ago; return how many."""
    at = at or dt.datetime.now(dt.timezone.utc)
    cutoff = (at - dt.timedelta(days=days)).isoformat(timespec="seconds")
    placeholders = ", ".join("?" for _ in CLOSED)
    ids = [
        row[0]
        for row in db.execute(
            f"SELECT id FROM reports WHERE status IN ({placeholders})"  # noqa: S608
            " AND closed_at IS NOT NULL AND closed_at <= ? AND purged_at IS NULL",
            [*CLOSED, cutoff],
        ).fetchall()
    ]
    stamp = now()
    cleared = {field: None for field in PERSONAL_FIELDS}
    for report_id in ids:
        with db.conn:
            db["reports"].update(report_id, {**cleared, "purged_at": stamp})
            db.execute("DELETE FROM report_messages WHERE report_id = ?", [report_id])
            db.execute("DELETE FROM attachments WHERE report_id = ?", [report_id])
            db.execute("DELETE FROM report_notes WHERE report_id = ?", [report_id])
    return len(ids)


def purge_job(db_path: str) -> int:
    """A top-level callable for a daily scheduler job (APScheduler stores it by name):
    ``scheduler.add_job("reporting.purge:purge_job", "cron", hour=3, args=[db_path])``."""
    from storage.db import connect

    db = connect(db_path, migrate_schema=False)
    try:
        return purge_closed(db, purge_days())
    finally:
        db.conn.close()
