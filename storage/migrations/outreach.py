"""Tables of the outreach domain: village groups, consent records, campaigns, the
outbox that makes every push exactly-once, tip rotation, urgent alerts and schedules.

The queries live in ``outreach/`` (groups.py, outbox.py, campaigns.py, ...).
APScheduler keeps its own table (``apscheduler_jobs``), created by its job store.
"""

from __future__ import annotations

import pickle

import sqlite_utils


def _001_groups(db: sqlite_utils.Database) -> None:
    # "groups" is an SQL keyword (window functions), hence village_groups.
    db.table("village_groups").create(
        {
            "id": int,
            "county": str,
            "township": str,
            "village": str,
            "created_at": str,
        },
        pk="id",
        not_null={"county", "township", "village"},
    )
    db.table("village_groups").create_index(["county", "township", "village"], unique=True)
    db.table("village_groups").create_index(["village"])
    # Why a subscriber stopped: "sms" (they texted T), "carrier:21610" (opted out at
    # the carrier), so a dashboard can tell the two apart.
    db.table("subscribers").add_column("opt_out_reason", str)
    db.table("subscribers").create_index(["group_id", "status"])
    # Append-only consent history; subscribers.consent_* holds only the latest.
    db.table("consents").create(
        {
            "id": int,
            "subscriber_id": int,
            "event": str,  # enrolled / subscribed / opted_out / skipped_opted_out
            "channel": str,  # sms / wechat / web / csv / web-upload / carrier
            "by": str,  # "self" or who enrolled them (cadre / officer name)
            "at": str,  # when consent was given (from the paper form) or withdrawn
            "recorded_at": str,
            "source": str,  # e.g. the CSV file name
        },
        pk="id",
        foreign_keys=[("subscriber_id", "subscribers", "id")],
    )
    db.table("consents").create_index(["subscriber_id"])


def _002_campaigns_outbox(db: sqlite_utils.Database) -> None:
    db.table("campaigns").create(
        {
            "id": int,
            "key": str,  # idempotency key of the campaign itself (one per schedule per day)
            "kind": str,  # tip / alert
            "scope_type": str,  # group / township / county
            "scope_value": str,
            "tip_id": str,  # the tip of the week, when kind = tip
            "text": str,  # the alert text, when kind = alert
            "urgent": int,
            "not_before": str,  # UTC ISO; quiet hours push routine sends to 08:00
            "created_by": str,
            "created_at": str,
            "recipients": int,
        },
        pk="id",
    )
    db.table("campaigns").create_index(["key"], unique=True)
    db.table("outbox").create(
        {
            "id": int,
            "campaign_id": int,
            "subscriber_id": int,
            "idem_key": str,  # "<campaign key>:<subscriber id>", unique
            "tip_id": str,
            "urgent": int,
            # pending -> claimed -> sending -> sent -> delivered | undelivered | failed
            # also: skipped (opted out before the send), unknown (crash during a send to
            # a provider without idempotency: not resent, reported)
            "status": str,
            "attempts": int,
            "next_attempt_at": str,  # UTC ISO
            "claim_token": str,
            "claimed_at": str,
            "provider_id": str,  # Twilio MessageSid
            "error_code": str,
            "sent_at": str,
            "status_at": str,
            "updated_at": str,
        },
        pk="id",
        defaults={"status": "pending", "attempts": 0, "urgent": 0},
        foreign_keys=[("campaign_id", "campaigns", "id")],
    )
    db.table("outbox").create_index(["idem_key"], unique=True)
    # Claims walk pending rows in id order (urgent ones first) and stop after a batch.
    db.table("outbox").create_index(["status", "urgent", "id"])
    db.table("outbox").create_index(["campaign_id", "status"])
    db.table("outbox").create_index(["provider_id"])
    # Tips a subscriber got in the current rotation; cleared for them when all were sent.
    db.table("tip_history").create(
        {"subscriber_id": int, "tip_id": str, "campaign_id": int, "sent_at": str},
        pk=("subscriber_id", "tip_id"),
    )


def _003_alerts_schedules(db: sqlite_utils.Database) -> None:
    db.table("alerts").create(
        {
            "id": int,
            "campaign_id": int,
            "scope_type": str,
            "scope_value": str,
            "text": str,
            "urgent": int,
            "sent_by": str,
            "recipients": int,
            "confirmed_at": str,
            "report_id": int,  # the police-queue report it came from, if any
        },
        pk="id",
    )
    # What a schedule means to people; APScheduler's table holds when it runs next.
    db.table("tip_schedules").create(
        {
            "id": int,
            "job_id": str,
            "scope_type": str,
            "scope_value": str,
            "day_of_week": str,  # mon..sun, APScheduler cron spelling
            "time": str,  # HH:MM Beijing time
            "created_by": str,
            "created_at": str,
            "active": int,
        },
        pk="id",
    )
    db.table("tip_schedules").create_index(["job_id"], unique=True)


def _004_wechat_push(db: sqlite_utils.Database) -> None:
    # A WeChat follower may give a phone number for SMS fallback (pushes outside the
    # 48-hour window). Same rule as every contact: hash for lookup, encrypted for use.
    db.table("subscribers").add_column("phone_hash", str)
    db.table("subscribers").add_column("phone_enc", str)
    db.table("subscribers").add_column("phone_masked", str)
    db.table("subscribers").create_index(["phone_hash"])  # not unique: a family shares a phone
    # The channel a row is (now) sent through: the subscriber's at planning; a WeChat row
    # switches to "sms" when WeChat refuses it and there is a number (fallback_reason
    # then says why). Status gains "undeliverable": no channel could take it.
    db.table("outbox").add_column("channel", str)
    db.table("outbox").add_column("fallback_reason", str)
    db.execute("UPDATE outbox SET channel = 'sms' WHERE channel IS NULL")


def _005_tip_jobs_named_in_outreach_schedules(db: sqlite_utils.Database) -> None:
    # A weekly tip job names its function by text inside APScheduler's pickled job state.
    # The function moved from outreach/scheduler.py (now the app's runner, jobs/) to
    # outreach/schedules.py; a job still naming the old place would fail to load, and
    # APScheduler drops a job it cannot load: the schedule would stop without a word.
    if "apscheduler_jobs" not in db.table_names():
        return
    for job_id, blob in db.execute("SELECT id, job_state FROM apscheduler_jobs").fetchall():
        # Our own job store, written by APScheduler, which unpickles it the same way.
        state = pickle.loads(bytes(blob))  # noqa: S301
        if state.get("func") != "outreach.scheduler:run_schedule":
            continue
        state["func"] = "outreach.schedules:run_schedule"
        db.execute(
            "UPDATE apscheduler_jobs SET job_state = ? WHERE id = ?",
            [pickle.dumps(state, pickle.HIGHEST_PROTOCOL), job_id],
        )


MIGRATIONS = [
    ("outreach_001_groups", _001_groups),
    ("outreach_002_campaigns_outbox", _002_campaigns_outbox),
    ("outreach_003_alerts_schedules", _003_alerts_schedules),
    ("outreach_004_wechat_push", _004_wechat_push),
    (
        "outreach_005_tip_jobs_named_in_outreach_schedules",
        _005_tip_jobs_named_in_outreach_schedules,
    ),
]
