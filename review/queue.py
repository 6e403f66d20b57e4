"""The review table: what the model was unsure about, waiting for a supervisor's label.

A row is one message, redacted before it is stored (review/redact.py). Rows with the same
``text_key`` (texts that differ only in spacing, punctuation or numbers) are shown and
labelled together, with a count. Pending rows and rows labelled "not a real message" are
deleted ``HOTLINE_REVIEW_DAYS`` days after they arrived; rows labelled with an intent are
the reviewed training data (redacted, no sender) and stay until a supervisor relabels
them or the table is purged by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import sqlite_utils

import settings
from jobs import Job, daily
from nlu.parser import Parse
from review.redact import redact, text_key
from storage.clock import now_iso as now
from storage.privacy import Vault

log = logging.getLogger(__name__)

REASONS = ("fallback", "low_confidence", "not_helpful")
NOT_A_MESSAGE = "not_a_message"
MAX_TEXT = 500  # what the model saw at most (bot/engine.py MAX_TEXT)


def record(
    db: sqlite_utils.Database,
    text: str,
    parse: Parse | None,
    reason: str,
    channel: str,
) -> int | None:
    """Keep ``text`` (redacted) for review with the model's guess; return the row id.

    Never raises into the conversation: a villager's answer matters more than the
    review queue, so a failure is logged and None returned."""
    if reason not in REASONS:
        raise ValueError(f"unknown review reason {reason!r}")
    try:
        shown = redact(text[:MAX_TEXT]).strip()
        if not shown:
            return None
        # Plain SQL, not sqlite-utils' insert (which looks the table up each time): this
        # runs inside the answer's own transaction (bot/engine.py Turn.deferred); alone, the
        # one statement is a transaction of its own (storage/db.Database.execute).
        return db.execute(
            "INSERT INTO review_items (text, text_key, guess_intent, guess_confidence,"
            " reason, channel, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                shown,
                text_key(shown),
                parse.intent if parse else None,
                round(parse.confidence, 4) if parse else None,
                reason,
                channel,
                now(),
            ],
        ).lastrowid
    except Exception:  # noqa: BLE001 - the villager's answer goes on regardless
        log.exception("could not keep a message for review")
        return None


def pending(db: sqlite_utils.Database, limit: int = 200) -> list[dict[str, Any]]:
    """Unreviewed groups, most frequent first: the earliest text of each group, how many
    times it came, the latest guess and the reasons seen."""
    return list(
        db.query(
            """
            SELECT text_key,
                   (SELECT text FROM review_items f WHERE f.text_key = r.text_key
                     AND f.reviewed_at IS NULL ORDER BY f.id LIMIT 1) AS text,
                   (SELECT guess_intent FROM review_items l WHERE l.text_key = r.text_key
                     AND l.reviewed_at IS NULL ORDER BY l.id DESC LIMIT 1) AS guess_intent,
                   (SELECT guess_confidence FROM review_items l WHERE l.text_key = r.text_key
                     AND l.reviewed_at IS NULL ORDER BY l.id DESC LIMIT 1)
                     AS guess_confidence,
                   group_concat(DISTINCT reason) AS reasons,
                   group_concat(DISTINCT channel) AS channels,
                   count(*) AS count,
                   min(created_at) AS first_at,
                   max(created_at) AS last_at
            FROM review_items r
            WHERE reviewed_at IS NULL
            GROUP BY text_key
            ORDER BY count DESC, last_at DESC
            LIMIT ?
            """,
            [limit],
        )
    )


def review(db: sqlite_utils.Database, key: str, intent: str, reviewer: str) -> int:
    """Label every pending row of group ``key``; return how many were labelled."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE review_items SET reviewed_intent = ?, reviewed_by = ?, reviewed_at = ?"
            " WHERE text_key = ? AND reviewed_at IS NULL",
            [intent, reviewer, now(), key],
        )
    return cursor.rowcount


def reviewed_examples(db: sqlite_utils.Database) -> dict[str, list[str]]:
    """intent -> its reviewed texts, one per group (the earliest), in a stable order."""
    examples: dict[str, list[str]] = {}
    rows = db.execute(
        "SELECT reviewed_intent, text FROM review_items WHERE id IN ("
        " SELECT min(id) FROM review_items WHERE reviewed_intent IS NOT NULL"
        " AND reviewed_intent != ? GROUP BY text_key, reviewed_intent)"
        " ORDER BY reviewed_intent, id",
        [NOT_A_MESSAGE],
    ).fetchall()
    for intent, text in rows:
        examples.setdefault(intent, []).append(text)
    return examples


def review_days(config: dict | None = None) -> int:
    """``HOTLINE_REVIEW_DAYS`` (settings/): the app's config, else the environment."""
    return settings.integer("HOTLINE_REVIEW_DAYS", config)


def purge(db: sqlite_utils.Database, days: int, at: dt.datetime | None = None) -> int:
    """Delete pending and not-a-message rows older than ``days``; return how many."""
    at = at or dt.datetime.now(dt.timezone.utc)
    cutoff = (at - dt.timedelta(days=days)).isoformat(timespec="seconds")
    with db.atomic():
        cursor = db.execute(
            "DELETE FROM review_items WHERE created_at <= ?"
            " AND (reviewed_at IS NULL OR reviewed_intent = ?)",
            [cutoff, NOT_A_MESSAGE],
        )
    return cursor.rowcount


PURGE_JOB_ID = "review-purge"


def periodic_jobs(config: Mapping[str, Any], vault: Vault) -> list[Job]:
    """Review's job for the app's runner (bot/periodic.py hands it over): the daily
    purge at 03:00 Beijing time, stored so a run missed while down runs at start.
    (``vault`` unused: every domain's declaration takes the same arguments.)"""
    days = settings.integer("HOTLINE_REVIEW_DAYS", config)
    args = (str(config["HOTLINE_DB"]), days)
    return [Job(PURGE_JOB_ID, "review.queue:purge_job", daily(3), args=args, stored=True)]


def purge_job(db_path: str, days: int | None = None) -> int:
    """The daily job (``periodic_jobs``), by name in the persistent job store."""
    from storage.db import connect

    db = connect(db_path, migrate_schema=False)
    try:
        count = purge(db, days if days is not None else review_days())
    finally:
        db.conn.close()
    log.info("purged %d review items older than %s days", count, days)
    return count
