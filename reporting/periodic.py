"""Reporting's periodic work, declared once for the app's job runner (jobs/runner.py;
the app shell hands this list over: bot/periodic.py).

- ``reports-purge``: every day at 03:00 Beijing time, closed reports older than
  HOTLINE_PURGE_DAYS go (reporting/purge.py). Stored: a run missed while the server
  was down runs once when it is back.
- ``scam-verdict-notices``: every minute, verdict notices the police page could not
  queue (a failure after the verdict stood, or from before an upgrade) become outbox
  rows; the drain is woken for them.
- ``orphan-photos``: every minute, photos only checked, never reported, are deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import settings
from jobs import Job, daily, every
from messaging import outbox
from reporting import scam_verdicts
from reporting.purge import remove_orphans
from storage.db import connect
from storage.privacy import Vault

log = logging.getLogger(__name__)

PURGE_JOB_ID = "reports-purge"
TICK_SECONDS = 60


def periodic_jobs(config: Mapping[str, Any], vault: Vault) -> list[Job]:
    db_path = str(config["HOTLINE_DB"])
    uploads = str(Path(config["HOTLINE_VAR"]) / "uploads") if config.get("HOTLINE_VAR") else None
    days = settings.integer("HOTLINE_PURGE_DAYS", config)
    found = [
        Job(
            PURGE_JOB_ID,
            "reporting.purge:purge_job",
            daily(3),
            args=(db_path, days, uploads),
            stored=True,
        ),
        Job("scam-verdict-notices", queue_verdict_notices, every(TICK_SECONDS), (db_path, vault)),
    ]
    if uploads:
        found.append(
            Job("orphan-photos", remove_orphan_photos, every(TICK_SECONDS), (db_path, uploads))
        )
    return found


def queue_verdict_notices(db_path: str, vault: Vault) -> int:
    db = connect(db_path, migrate_schema=False)
    try:
        queued = scam_verdicts.enqueue_notices(db, vault)
    finally:
        db.conn.close()
    if queued:
        outbox.wake()
    return queued


def remove_orphan_photos(db_path: str, uploads: str) -> int:
    db = connect(db_path, migrate_schema=False)
    try:
        return remove_orphans(db, uploads)
    finally:
        db.conn.close()
