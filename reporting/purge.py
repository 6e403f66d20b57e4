"""Forget the personal part of closed reports after ``HOTLINE_PURGE_DAYS`` days.

What is kept is what the statistics need: category, priority, status, village,
township, county, station and the dates. The reporter's contact, what they wrote, the
conversation, the photos and the officers' notes go.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import sqlite_utils

import settings
from reporting.reports import CLOSED
from storage import uploads as upload_files
from storage.clock import now_iso as now
from storage.db import checkpoint

log = logging.getLogger(__name__)
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
    """``HOTLINE_PURGE_DAYS`` (settings/): the app's config, else the environment."""
    return settings.integer("HOTLINE_PURGE_DAYS", config)


def purge_closed(
    db: sqlite_utils.Database,
    days: int,
    at: dt.datetime | None = None,
    uploads: str | Path | None = None,
) -> int:
    """Purge closed reports closed more than ``days`` ago; return how many.

    Also goes: the reporter's bot conversation (``messages`` rows of their sender hash --
    the same ``Vault.hash`` of the number / openid the report keeps as ``contact_hash``)
    older than the cutoff, and the photo files under ``uploads`` the purged
    attachments point to."""
    at = at or dt.datetime.now(dt.timezone.utc)
    cutoff = (at - dt.timedelta(days=days)).isoformat(timespec="seconds")
    placeholders = ", ".join("?" for _ in CLOSED)
    rows = db.execute(
        f"SELECT id, contact_hash FROM reports WHERE status IN ({placeholders})"  # noqa: S608
        " AND closed_at IS NOT NULL AND closed_at <= ? AND purged_at IS NULL",
        [*CLOSED, cutoff],
    ).fetchall()
    stamp = now()
    cleared = {field: None for field in PERSONAL_FIELDS}
    for report_id, contact_hash in rows:
        files = [
            row[0]
            for row in db.execute(
                "SELECT url FROM attachments WHERE report_id = ?", [report_id]
            ).fetchall()
        ]
        with db.atomic():
            # Only the report's columns named here: a concurrent answer or status change
            # is neither undone nor put back (see reports.update).
            db.table("reports").update(report_id, {**cleared, "purged_at": stamp})
            db.execute("DELETE FROM report_messages WHERE report_id = ?", [report_id])
            db.execute("DELETE FROM attachments WHERE report_id = ?", [report_id])
            db.execute("DELETE FROM report_notes WHERE report_id = ?", [report_id])
            # Keys drawn from what the reporter wrote go with it; township and team name
            # stay, like the village, for the statistics (reporting/link_keys.py).
            db.execute(
                "DELETE FROM report_links WHERE report_id = ?"
                " AND kind IN ('phone', 'url', 'plate')",
                [report_id],
            )
            if contact_hash:
                db.execute(
                    "DELETE FROM messages WHERE sender_hash = ? AND created_at <= ?",
                    [contact_hash, cutoff],
                )
        for url in files:
            _remove_upload(url, uploads)
    if rows:
        checkpoint(db)  # purged text must not wait in the WAL for the next checkpoint
    if uploads is not None:
        remove_orphans(db, uploads)
    return len(rows)


def remove_orphans(
    db: sqlite_utils.Database,
    uploads: str | Path,
    max_age_s: float = upload_files.ORPHAN_MAX_AGE_S,
) -> int:
    """Delete photos no attachment points to (a web-chat photo that was only checked,
    a copy whose report is gone) once older than ``max_age_s``."""
    kept = [row[0] for row in db.execute("SELECT url FROM attachments").fetchall()]
    removed = upload_files.sweep_orphans(uploads, kept, max_age_s)
    if removed:
        log.info("removed %d photos no report keeps", removed)
    return removed


def _remove_upload(url: str, uploads: str | Path | None) -> None:
    # storage.uploads only resolves names it could have made: never a path elsewhere.
    path = upload_files.path(uploads, url or "") if uploads is not None else None
    if path is not None:
        path.unlink(missing_ok=True)


def purge_job(db_path: str, days: int | None = None, uploads: str | None = None) -> int:
    """The daily job (reporting/periodic.py declares it at 03:00 Beijing time, kept
    in the persistent job store by name)."""
    from storage.db import connect

    db = connect(db_path, migrate_schema=False)
    try:
        count = purge_closed(db, days if days is not None else purge_days(), uploads=uploads)
    finally:
        db.conn.close()
    log.info("purged %d reports closed more than %s days ago", count, days)
    return count
