"""Urgent alerts to the villages of a township or county, e.g. "今天有人冒充医保局在XX镇
活动…", sent only after a confirmation step and logged with who sent them.

The confirmation is a short code derived from what will be sent (target, text,
urgency, recipient count, Beijing date): the preview shows it, the send must echo it.
It also makes a double-click harmless: the same confirmed alert plans one campaign.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import sqlite_utils

import responses
from outreach import campaigns, groups, texts
from outreach.quiet_hours import BEIJING, iso, next_allowed, utcnow
from storage.tables import new_id

ALERT_SCOPES = ("township", "county", "group")
MAX_SEGMENTS = 3
# No links in messages to mainland China, and villagers are told real ones have none.
_URL = re.compile(r"(?i)(https?://|www\.|\b[a-z0-9-]+\.(com|cn|net|org|top|xyz)\b)")


class AlertError(ValueError):
    """The alert cannot be sent as asked (bad text, unknown target, no confirmation)."""


@dataclass(frozen=True)
class AlertPreview:
    scope_type: str
    scope_value: str
    text: str
    urgent: bool
    recipients: int
    villages: int
    sample: str  # as a villager whose number ends in 678 would read it
    segments: int
    goes_at: str  # UTC ISO: now, or 08:00 when not urgent and in quiet hours
    code: str  # what the sender must confirm with


def preview(
    db: sqlite_utils.Database,
    scope_type: str,
    scope_value: str,
    text: str,
    *,
    urgent: bool = True,
    now: dt.datetime | None = None,
) -> AlertPreview:
    text = " ".join(text.split())
    if not text:
        raise AlertError("the alert text is empty")
    if _URL.search(text):
        raise AlertError("no links in alerts: villagers are told real messages never have one")
    if scope_type not in ALERT_SCOPES:
        raise AlertError(f"send alerts to a {' / '.join(ALERT_SCOPES)}")
    try:
        group_ids = groups.resolve_scope(db, scope_type, scope_value)
    except groups.ScopeError as exc:
        raise AlertError(str(exc)) from exc
    sample = texts.render_alert(text, "13800000678")
    segments = responses.segments(sample)
    if segments > MAX_SEGMENTS:
        raise AlertError(f"the alert is {segments} SMS long; keep it to {MAX_SEGMENTS}")
    now = now or utcnow()
    count = campaigns.count_recipients(db, group_ids)
    day = now.astimezone(BEIJING).date().isoformat()
    digest = hashlib.sha256(
        "\x1f".join([scope_type, scope_value.strip(), text, str(urgent), str(count), day]).encode()
    ).hexdigest()
    return AlertPreview(
        scope_type,
        scope_value.strip(),
        text,
        urgent,
        count,
        len(group_ids),
        sample,
        segments,
        iso(next_allowed(now, urgent=urgent)),
        digest[:6].upper(),
    )


def send(
    db: sqlite_utils.Database,
    scope_type: str,
    scope_value: str,
    text: str,
    *,
    confirm: str,
    sent_by: str,
    urgent: bool = True,
    report_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[int, campaigns.Planned]:
    """Plan the alert once the preview's code is confirmed; return (alert id, plan)."""
    if not sent_by.strip():
        raise AlertError("say who is sending the alert")
    now = now or utcnow()
    shown = preview(db, scope_type, scope_value, text, urgent=urgent, now=now)
    if confirm.strip().upper() != shown.code:
        raise AlertError("not confirmed: the confirmation code does not match this alert")
    planned = campaigns.plan(
        db,
        kind="alert",
        scope_type=scope_type,
        scope_value=shown.scope_value,
        created_by=sent_by.strip(),
        key=f"alert:{shown.code}:{hashlib.sha256(shown.text.encode()).hexdigest()[:16]}",
        text=shown.text,
        urgent=urgent,
        now=now,
    )
    if not planned.created:
        row = db.execute(
            "SELECT id FROM alerts WHERE campaign_id = ?", [planned.campaign_id]
        ).fetchone()
        return (row[0] if row else 0), planned
    with db.atomic():
        alert_id = new_id(
            db.table("alerts").insert(
                {
                    "campaign_id": planned.campaign_id,
                    "scope_type": scope_type,
                    "scope_value": shown.scope_value,
                    "text": shown.text,
                    "urgent": int(urgent),
                    "sent_by": sent_by.strip(),
                    "recipients": planned.recipients,
                    "confirmed_at": iso(now),
                    "report_id": report_id,
                }
            )
        )
    return alert_id, planned


def recent(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", [limit]))
