"""Tables of the reporting domain: reports and what hangs off them, the jurisdiction
table that routes them, village cadres, police officers and the audit log."""

from __future__ import annotations

import sqlite_utils


def _001_reports(db: sqlite_utils.Database) -> None:
    db.table("stations").create(
        {
            "code": str,  # the station's short code, e.g. GP-JT
            "name": str,
            "province": str,
            "city": str,
            "county": str,
        },
        pk="code",
    )
    db.table("jurisdictions").create(
        {
            "id": int,
            "province": str,
            "city": str,
            "county": str,
            "township": str,
            "township_norm": str,  # without 镇/乡/街道
            "village": str,
            "village_norm": str,  # without 村/社区/屯..., see reporting.routing.normalise
            "station_code": str,
        },
        pk="id",
        foreign_keys=[("station_code", "stations", "code")],
    )
    db.table("jurisdictions").create_index(["county", "township", "village"], unique=True)
    db.table("jurisdictions").create_index(["village_norm"])
    db.table("reports").create(
        {
            "id": int,
            "ref": str,  # R7Q4K: what the reporter quotes
            "category": str,  # qr_code / phone_borrowing / suspicious_visit / victim / other
            "intent": str,
            "priority": str,  # urgent / high / normal
            "priority_rank": int,  # 0 urgent, 1 high, 2 normal: sorts the queue
            "status": str,  # new / triaged / assigned / resolved / false_alarm / duplicate
            "channel": str,  # sms / wechat / web: where the reporter hears back
            "contact_hash": str,
            "contact_enc": str,
            "contact_masked": str,
            "is_cadre": int,
            "summary": str,  # the first message, as sent (ID numbers redacted)
            "village_text": str,  # where, as the reporter wrote it
            "village": str,  # the matched village of the jurisdiction table
            "township": str,
            "county": str,
            "station_code": str,
            "routing": str,  # routed / ambiguous / unrouted / pending
            "routing_note": str,
            "occurred_text": str,
            "details": str,
            "suspect_phones": str,  # numbers the visitors used, space separated
            "form_step": str,  # the question pending; NULL once the form is done
            "assigned_to": int,
            "merged_into": int,
            "notify_status": str,  # sent / undeliverable / failed
            "notify_at": str,
            "created_at": str,
            "updated_at": str,
            "submitted_at": str,  # the form was finished (or NULL: partial)
            "closed_at": str,
            "purged_at": str,
        },
        pk="id",
    )
    db.table("reports").create_index(["ref"], unique=True)
    db.table("reports").create_index(["station_code", "status"])
    db.table("reports").create_index(["county", "status"])
    db.table("reports").create_index(["contact_hash"])
    db.table("report_messages").create(
        {
            "id": int,
            "report_id": int,
            "direction": str,  # in / out
            "text": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("report_id", "reports", "id")],
    )
    db.table("report_messages").create_index(["report_id", "id"])
    db.table("attachments").create(
        {
            "id": int,
            "report_id": int,
            "url": str,
            "content_type": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("report_id", "reports", "id")],
    )
    db.table("attachments").create_index(["report_id"])
    db.table("report_notes").create(
        {
            "id": int,
            "report_id": int,
            "officer_id": int,
            "text": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("report_id", "reports", "id")],
    )
    db.table("report_notes").create_index(["report_id"])
    db.table("cadres").create(
        {
            "id": int,
            "phone_hash": str,
            "phone_enc": str,
            "phone_masked": str,
            "county": str,
            "township": str,
            "village": str,
            "created_at": str,
        },
        pk="id",
    )
    db.table("cadres").create_index(["phone_hash"], unique=True)
    db.table("officers").create(
        {
            "id": int,
            "username": str,
            "password_hash": str,
            "station_code": str,
            "county": str,
            "role": str,  # officer / supervisor
            "active": int,
            "failed_logins": int,
            "locked_until": str,
            "last_login_at": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("station_code", "stations", "code")],
    )
    db.table("officers").create_index(["username"], unique=True)
    db.table("audit_log").create(
        {
            "id": int,
            "at": str,
            "officer_id": int,
            "username": str,
            "action": str,
            "report_id": int,
            "detail": str,
            "ip": str,
        },
        pk="id",
    )
    db.table("audit_log").create_index(["report_id"])


def _002_officer_sessions(db: sqlite_utils.Database) -> None:
    # Stored in the session cookie at login and compared on every request: raising it
    # (logout, deactivation, new password) ends the officer's sessions everywhere.
    db.table("officers").add_column("session_version", int, not_null_default=0)


def _003_report_source(db: sqlite_utils.Database) -> None:
    # "provider:message id" of the message that opened the report: a message handled
    # again after a crash (the provider retries it) finds its report instead of filing
    # a second one.
    db.table("reports").add_column("source", str)
    db.execute(
        "CREATE UNIQUE INDEX idx_reports_source ON reports (source) WHERE source IS NOT NULL"
    )


MIGRATIONS = [
    ("reporting_001_reports", _001_reports),
    ("reporting_002_officer_sessions", _002_officer_sessions),
    ("reporting_003_report_source", _003_report_source),
]
