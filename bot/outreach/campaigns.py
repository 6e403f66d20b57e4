"""Plan a push: resolve the target to subscribers and enqueue one outbox row each.

Planning is one transaction (campaign, outbox rows, tip rotation), so a crash while
planning leaves nothing half-done, and it is keyed: planning the same key twice (a
scheduled job that fires again after a restart) returns the first campaign unchanged.
Texts are rendered at send time (texts.py): the outbox never holds a decrypted number.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import sqlite_utils

from bot.outreach import groups, tips
from bot.outreach.quiet_hours import iso, next_allowed, utcnow
from messaging.outbox import PRIORITY, PUSH_CHANNELS

# PUSH_CHANNELS: a WeChat follower's row may still go by SMS (their number): outbox.py.
_CHUNK = 5000


@dataclass(frozen=True)
class Planned:
    campaign_id: int
    recipients: int
    created: bool  # False: the key had been planned before
    not_before: str


def _json_ids(ids: list[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def recipients(db: sqlite_utils.Database, group_ids: list[int]) -> list[int]:
    """Active subscribers of these groups on a channel the hotline can push to."""
    return [
        r[0]
        for r in db.execute(
            "SELECT id FROM subscribers WHERE status = 'active' "
            "AND channel IN (SELECT value FROM json_each(?)) "
            "AND group_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            [json.dumps(list(PUSH_CHANNELS)), _json_ids(group_ids)],
        ).fetchall()
    ]


def plan(
    db: sqlite_utils.Database,
    *,
    kind: str,
    scope_type: str,
    scope_value: str,
    created_by: str,
    key: str | None = None,
    tip_id: str | None = None,
    text: str | None = None,
    urgent: bool = False,
    now: dt.datetime | None = None,
) -> Planned:
    """Plan a tip push (kind "tip") or an alert (kind "alert") to a group / township /
    county. Routine pushes planned in quiet hours wait until 08:00 Beijing time."""
    if kind not in ("tip", "alert"):
        raise ValueError("kind is tip or alert")
    if kind == "alert" and not (text or "").strip():
        raise ValueError("an alert needs a text")
    urgent = bool(urgent) and kind == "alert"  # a weekly tip is never urgent
    key = key or f"{kind}:{uuid.uuid4().hex}"
    existing = db.execute(
        "SELECT id, recipients, not_before FROM campaigns WHERE key = ?", [key]
    ).fetchone()
    if existing:
        return Planned(existing[0], existing[1], False, existing[2])
    group_ids = groups.resolve_scope(db, scope_type, scope_value)
    now = now or utcnow()
    not_before = iso(next_allowed(now, urgent=urgent))
    stamp = iso(now)
    subscriber_ids = recipients(db, group_ids)
    order = [t.id for t in tips.all_tips()]
    if kind == "tip":
        if tip_id is not None and tip_id not in order:
            raise ValueError(f"no tip {tip_id!r} in responses/tips.yml")
        tip_id = tip_id or tips.tip_of_the_week(db, subscriber_ids)
    with db.atomic():
        campaign_id = (
            db["campaigns"]
            .insert(
                {
                    "key": key,
                    "kind": kind,
                    "scope_type": scope_type,
                    "scope_value": scope_value,
                    "tip_id": tip_id if kind == "tip" else None,
                    "text": text.strip() if kind == "alert" and text else None,
                    "urgent": int(urgent),
                    "not_before": not_before,
                    "created_by": created_by,
                    "created_at": stamp,
                    "recipients": len(subscriber_ids),
                }
            )
            .last_pk
        )
        for start in range(0, len(subscriber_ids), _CHUNK):
            chunk = subscriber_ids[start : start + _CHUNK]
            per_row_tip: list[str | None] = [None] * len(chunk)
            if kind == "tip":
                per_row_tip = _rotate(db, chunk, tip_id, order, campaign_id, stamp)
            db.conn.executemany(
                "INSERT INTO outbox (campaign_id, subscriber_id, idem_key, tip_id, "
                "urgent, status, attempts, next_attempt_at, updated_at, kind, priority, "
                "channel) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, "
                "(SELECT channel FROM subscribers WHERE id = ?)) ON CONFLICT DO NOTHING",
                [
                    (
                        campaign_id,
                        sid,
                        f"{key}:{sid}",
                        tid,
                        int(urgent),
                        not_before,
                        stamp,
                        kind,
                        PRIORITY[kind],
                        sid,
                    )
                    for sid, tid in zip(chunk, per_row_tip, strict=True)
                ],
            )
    return Planned(campaign_id, len(subscriber_ids), True, not_before)


def _rotate(
    db: sqlite_utils.Database,
    chunk: list[int],
    preferred: str | None,
    order: list[str],
    campaign_id: int,
    stamp: str,
) -> list[str | None]:
    """Each subscriber's tip for this push, recorded in their rotation."""
    had = tips.history(db, chunk)
    chosen: list[str | None] = []
    restart: list[int] = []
    for sid in chunk:
        tip_id, new_round = tips.next_tip_id(preferred, had.get(sid, set()), order)
        if new_round:
            restart.append(sid)
        chosen.append(tip_id)
    if restart:
        db.execute(
            "DELETE FROM tip_history WHERE subscriber_id IN (SELECT value FROM json_each(?))",
            [_json_ids(restart)],
        )
    db.conn.executemany(
        "INSERT INTO tip_history (subscriber_id, tip_id, campaign_id, sent_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (subscriber_id, tip_id) DO UPDATE"
        " SET campaign_id = excluded.campaign_id, sent_at = excluded.sent_at",
        [(sid, tid, campaign_id, stamp) for sid, tid in zip(chunk, chosen, strict=True)],
    )
    return chosen


def get_campaign(db: sqlite_utils.Database, campaign_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM campaigns WHERE id = ?", [campaign_id]))
    return rows[0] if rows else None
