"""Plan a push: resolve the target to subscribers and enqueue one outbox row each.

Planning is one transaction (campaign, outbox rows, tip rotation), so a crash while
planning leaves nothing half-done, and it is keyed: planning the same key twice (a
scheduled job that fires again after a restart) returns the first campaign unchanged.
Texts are rendered at send time (texts.py): the outbox never holds a decrypted number.

Planning is streamed, so a province's push of millions holds one chunk in memory, not
a list of every recipient: an alert is one ``INSERT ... SELECT`` inside the database;
a tip, whose rotation is per subscriber, walks the recipients in id order a chunk at
a time (keyset pagination), each chunk written with ``executemany`` from a generator.

The set-based inserts have no ``ON CONFLICT``: the campaign was inserted a moment ago in
the same transaction, so no row of it exists yet, and a push row is unique by
(campaign, subscriber) (storage/migrations/messaging.py, 003). Were one there anyway,
the insert fails and the whole plan rolls back, where ``DO NOTHING`` would have left
that recipient out in silence; on PostgreSQL the arbiter also cost 2.8 s of CPU a
million rows (a speculative insertion per row).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlite_utils

from messaging.outbox import PRIORITY, PUSH_CHANNELS
from outreach import groups, tips
from outreach.quiet_hours import iso, next_allowed, utcnow
from storage.tables import new_id

# PUSH_CHANNELS: a WeChat follower's row may still go by SMS (their number): outbox.py.
_CHUNK = 5000


@dataclass(frozen=True)
class Planned:
    campaign_id: int
    recipients: int
    created: bool  # False: the key had been planned before
    not_before: str


# (Not INSERT OR REPLACE: the same statement runs on PostgreSQL.)
_HISTORY_UPSERT = (
    "ON CONFLICT (subscriber_id, tip_id) DO UPDATE"
    " SET campaign_id = excluded.campaign_id, sent_at = excluded.sent_at"
)


def _json_ids(ids: list[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


# Above this many groups a push reads subscribers in table order rather than group by
# group through the index: a county's villages interleave in the table, and reading
# them group by group revisits every page once per group.
SCAN_GROUPS = 100


def _recipients_where(group_ids: list[int]) -> tuple[str, list[str]]:
    """Active subscribers of these groups on a channel the hotline can push to."""
    # "+group_id" keeps SQLite off the group index (a plain table scan) for big scopes.
    column = "+group_id" if len(group_ids) > SCAN_GROUPS else "group_id"
    return (
        "status = 'active' AND channel IN (SELECT value FROM json_each(?)) "  # noqa: S608
        f"AND {column} IN (SELECT value FROM json_each(?))",
        [json.dumps(list(PUSH_CHANNELS)), _json_ids(group_ids)],
    )


def recipients(db: sqlite_utils.Database, group_ids: list[int]) -> list[int]:
    """Active subscribers of these groups on a channel the hotline can push to (a list:
    for small scopes; planning streams them with ``recipient_chunks``)."""
    return [sid for chunk in recipient_chunks(db, group_ids) for sid, _ch in chunk]


def count_recipients(db: sqlite_utils.Database, group_ids: list[int]) -> int:
    where, args = _recipients_where(group_ids)
    return int(db.execute(f"SELECT COUNT(*) FROM subscribers WHERE {where}", args).fetchone()[0])  # noqa: S608


def recipient_chunks(
    db: sqlite_utils.Database,
    group_ids: list[int],
    size: int = _CHUNK,
    *,
    only: str = "",
    only_args: Sequence[object] = (),
) -> Iterator[list[tuple[int, str]]]:
    """(subscriber id, channel) of the recipients, about ``size`` at a time, group by
    group in id order: each query walks the (group_id, status) index from the last id
    seen, so no cursor stays open across the writes that follow, no query sorts, and
    memory holds one chunk. ``only``: a further SQL condition on ``s`` (the
    subscriber), its parameters ``only_args``."""
    channels = json.dumps(list(PUSH_CHANNELS))
    extra = f" AND ({only})" if only else ""
    buffer: list[tuple[int, str]] = []
    for group_id in sorted(set(group_ids)):
        after = 0
        while True:
            rows = db.execute(
                "SELECT s.id, s.channel FROM subscribers s WHERE s.group_id = ? "  # noqa: S608
                "AND s.status = 'active' AND s.id > ? "
                f"AND s.channel IN (SELECT value FROM json_each(?)){extra} ORDER BY s.id LIMIT ?",
                [group_id, after, channels, *only_args, size],
            ).fetchall()
            buffer.extend((int(i), str(c)) for i, c in rows)
            if len(buffer) >= size:
                yield buffer
                buffer = []
            if len(rows) < size:
                break
            after = rows[-1][0]
    if buffer:
        yield buffer


def tip_counts(db: sqlite_utils.Database, group_ids: list[int]) -> dict[str, int]:
    """How many of these groups' recipients had each tip in their current round,
    counted in the database rather than over a list of every recipient."""
    where, args = _recipients_where(group_ids)
    return dict(
        db.execute(
            "SELECT h.tip_id, COUNT(*) FROM tip_history h WHERE h.subscriber_id IN "  # noqa: S608
            f"(SELECT id FROM subscribers WHERE {where}) GROUP BY h.tip_id",
            args,
        ).fetchall()
    )


def tip_of_the_week(counts: dict[str, int]) -> str:
    """The tip most recipients have not had yet (first in file order)."""
    order = [t.id for t in tips.all_tips()]
    return min(order, key=lambda t: (counts.get(t, 0), order.index(t)))


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
    order = [t.id for t in tips.all_tips()]
    if kind == "tip" and tip_id is not None and tip_id not in order:
        raise ValueError(f"no tip {tip_id!r} in responses/tips.yml")
    with db.atomic():
        # Counted inside the transaction: whether anyone had the tip decides below
        # whether a per-subscriber pass is needed.
        counts = tip_counts(db, group_ids) if kind == "tip" else {}
        if kind == "tip":
            tip_id = tip_id or tip_of_the_week(counts)
        campaign_id = new_id(
            db.table("campaigns").insert(
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
                    "recipients": 0,
                }
            )
        )
        if kind == "alert":
            count = _enqueue_all(db, campaign_id, key, group_ids, urgent, not_before, stamp)
        else:
            had = counts.get(tip_id or "", 0)
            count = _enqueue_tip(
                db, campaign_id, key, group_ids, tip_id, had, order, not_before, stamp
            )
        db.execute("UPDATE campaigns SET recipients = ? WHERE id = ?", [count, campaign_id])
    return Planned(campaign_id, count, True, not_before)


def _enqueue_tip(
    db: sqlite_utils.Database,
    campaign_id: int,
    key: str,
    group_ids: list[int],
    tip_id: str | None,
    had: int,
    order: list[str],
    not_before: str,
    stamp: str,
) -> int:
    """A tip push's rows (``had``: how many recipients had this tip before).

    Everyone who has not had this week's tip gets it (what
    ``tips.next_tip_id`` decides for them), in one statement inside the database, and
    it goes in their rotation; the rest, who had it this round, walk through the
    rotation in Python a chunk at a time."""
    where, args = _recipients_where(group_ids)
    had_it = "EXISTS (SELECT 1 FROM tip_history h WHERE h.subscriber_id = s.id AND h.tip_id = ?)"
    insert = (
        "INSERT INTO outbox (campaign_id, subscriber_id, idem_key, tip_id, "  # noqa: S608
        "urgent, status, attempts, next_attempt_at, updated_at, kind, priority, channel) "
        "SELECT ?, s.id, ? || ':' || s.id, ?, 0, 'pending', 0, ?, ?, 'tip', ?, s.channel "
        f"FROM subscribers s WHERE {where} AND NOT {had_it}"
    )
    params = [campaign_id, key, tip_id, not_before, stamp, PRIORITY["tip"], *args, tip_id]
    history = "INSERT INTO tip_history (subscriber_id, tip_id, campaign_id, sent_at) "
    if getattr(db, "dialect", "sqlite") == "postgresql":
        # One statement: the rotation takes the rows as they are written instead of
        # reading a million back through the campaign index. Its count is theirs. A
        # plain insert (no upsert): these recipients had no history row for this tip
        # (NOT EXISTS, the same snapshot), and an upsert's speculative insertion cost
        # 1.3 s of CPU a million rows; were one there, the plan fails whole.
        count = db.execute(
            f"WITH planned AS ({insert} RETURNING subscriber_id) {history}"  # noqa: S608
            "SELECT subscriber_id, ?, ?, ? FROM planned",
            [*params, tip_id, campaign_id, stamp],
        ).rowcount
    else:
        count = db.execute(insert, params).rowcount
        db.execute(
            f"{history}SELECT subscriber_id, tip_id, campaign_id, ? FROM outbox "  # noqa: S608
            f"WHERE campaign_id = ? {_HISTORY_UPSERT}",
            [stamp, campaign_id],
        )
    if not had:
        return count  # nobody had it yet (the usual week): no per-subscriber pass
    # Those who had it before this push (their history row is another campaign's).
    had_before = (
        "EXISTS (SELECT 1 FROM tip_history h WHERE h.subscriber_id = s.id "
        "AND h.tip_id = ? AND h.campaign_id != ?)"
    )
    rest = recipient_chunks(db, group_ids, only=had_before, only_args=[tip_id, campaign_id])
    for chunk in rest:
        ids = [sid for sid, _ch in chunk]
        per_row_tip = _rotate(db, ids, tip_id, order, campaign_id, stamp)
        db.conn.executemany(
            "INSERT INTO outbox (campaign_id, subscriber_id, idem_key, tip_id, "
            "urgent, status, attempts, next_attempt_at, updated_at, kind, priority, "
            "channel) VALUES (?, ?, ?, ?, 0, 'pending', 0, ?, ?, 'tip', ?, ?)"
            " ON CONFLICT DO NOTHING",
            (
                (campaign_id, sid, f"{key}:{sid}", tid, not_before, stamp, PRIORITY["tip"], ch)
                for (sid, ch), tid in zip(chunk, per_row_tip, strict=True)
            ),
        )
        count += len(chunk)
    return count


def _enqueue_all(
    db: sqlite_utils.Database,
    campaign_id: int,
    key: str,
    group_ids: list[int],
    urgent: bool,
    not_before: str,
    stamp: str,
) -> int:
    """An alert's rows, every recipient the same: one statement inside the database."""
    where, args = _recipients_where(group_ids)
    return db.execute(
        "INSERT INTO outbox (campaign_id, subscriber_id, idem_key, tip_id, "  # noqa: S608
        "urgent, status, attempts, next_attempt_at, updated_at, kind, priority, channel) "
        "SELECT ?, id, ? || ':' || id, NULL, ?, 'pending', 0, ?, ?, 'alert', ?, channel "
        f"FROM subscribers WHERE {where}",
        [campaign_id, key, int(urgent), not_before, stamp, PRIORITY["alert"], *args],
    ).rowcount


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
        "INSERT INTO tip_history (subscriber_id, tip_id, campaign_id, sent_at) "  # noqa: S608
        f"VALUES (?, ?, ?, ?) {_HISTORY_UPSERT}",
        [(sid, tid, campaign_id, stamp) for sid, tid in zip(chunk, chosen, strict=True)],
    )
    return chosen


def get_campaign(db: sqlite_utils.Database, campaign_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM campaigns WHERE id = ?", [campaign_id]))
    return rows[0] if rows else None
