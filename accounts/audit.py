"""Who looked at what and who changed what: every sign-in, every view of a report and
every change, by any officers' area (police, outreach, review, bureau)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from storage.clock import now_iso as now


def record(
    db: sqlite_utils.Database,
    officer: dict[str, Any] | None,
    action: str,
    report_id: int | None = None,
    detail: str = "",
    ip: str | None = None,
    username: str | None = None,
) -> None:
    with db.atomic():
        db.table("audit_log").insert(
            {
                "at": now(),
                "officer_id": officer["id"] if officer else None,
                "username": officer["username"] if officer else username,
                "action": action,
                "report_id": report_id,
                "detail": detail[:1000],
                "ip": ip,
            }
        )


def for_report(db: sqlite_utils.Database, report_id: int) -> list[dict[str, Any]]:
    return list(
        db.query("SELECT * FROM audit_log WHERE report_id = ? ORDER BY id DESC", [report_id])
    )
