"""Incidents: linked reports from several villages, for the police to see as one.

Two reports are linked when they share a key (``reporting/link_keys.py``: a suspect's
number, a link, a team's name, a plate, the township) and came in within 72 hours of
each other. Linked reports form clusters (connected components: A-B and B-C put A, B and
C together even when A and C are four days apart). A cluster of three or more reports
in two or more villages is an incident in the police queue.

Work per new report is its own keys and the reports matching them (one indexed query),
plus relabelling the clusters it joins: never a recompute over all reports. Clusters
are kept in ``report_clusters``; a report with no link yet has no row and is its own
cluster. When a report bridges two clusters that were both incidents, the older
incident stays and the other is closed as merged into it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from reporting import link_keys, reports
from storage.clock import now_iso as now
from storage.privacy import Vault

log = logging.getLogger(__name__)
MIN_REPORTS = 3
MIN_VILLAGES = 2
STATUSES = ("open", "closed")
MAX_ID = 2**63 - 1


@contextmanager
def _immediate(db: sqlite_utils.Database) -> Iterator[None]:
    """One write transaction taken at the start (storage.db's atomic() is BEGIN
    IMMEDIATE): two reports submitted at once cannot both see "no incident yet" and
    both create one."""
    with db.atomic():
        yield


def submit(db: sqlite_utils.Database, vault: Vault, report_id: int) -> dict[str, Any]:
    """The form is finished (``reports.submit``), and the report is linked to others
    sharing a number, link, team, plate, message or township."""
    report = reports.submit(db, report_id)
    try:
        link_report(db, vault, report_id)
    except Exception:
        # The villager's report is in; a linking failure must not lose their reply.
        log.exception("linking report %s failed", report_id)
    return report


def link_report(db: sqlite_utils.Database, vault: Vault, report_id: int) -> dict[str, Any] | None:
    """Record a finished report's keys and join it to its cluster; return the incident
    it is now part of (created, grown or merged here), or None."""
    report = reports.get(db, report_id)
    if report is None or report["status"] == "withdrawn":
        return None
    keys = link_keys.keys_of(db, vault, report)
    with _immediate(db):
        link_keys.store(db, vault, report, keys)
        incident_id = _attach(db, report_id)
    return get(db, incident_id) if incident_id else None


def _cluster_of(db: sqlite_utils.Database, report_ids: set[int]) -> dict[int, int | None]:
    ids = "[" + ",".join(str(i) for i in report_ids) + "]"
    rows = dict(
        db.execute(
            "SELECT report_id, cluster_id FROM report_clusters"
            " WHERE report_id IN (SELECT value FROM json_each(?))",
            [ids],
        ).fetchall()
    )
    return {i: rows.get(i) for i in report_ids}


def _attach(db: sqlite_utils.Database, report_id: int) -> int | None:
    """Union the report with its neighbours' clusters; form, grow or merge incidents.
    Runs inside the caller's transaction (plain execute, no sqlite-utils helpers: they
    commit on their own)."""
    members = link_keys.neighbours(db, report_id) | {report_id}
    current = _cluster_of(db, members)
    was_member = current[report_id] is not None
    if len(members) == 1 and not was_member:
        return None  # nothing shares a key with it (yet): it stays its own cluster
    clusters = {cluster if cluster is not None else rid for rid, cluster in current.items()}
    target = min(clusters)
    others = sorted(clusters - {target})
    stamp = now()
    if others:
        db.execute(
            "UPDATE report_clusters SET cluster_id = ?"
            " WHERE cluster_id IN (SELECT value FROM json_each(?))",
            [target, "[" + ",".join(map(str, others)) + "]"],
        )
    for rid, cluster in current.items():
        if cluster is None:
            db.execute(
                "INSERT INTO report_clusters (report_id, cluster_id, joined_at) VALUES (?, ?, ?)",
                [rid, target, stamp],
            )
    found = db.execute(
        "SELECT id, status FROM incidents WHERE cluster_id IN (SELECT value FROM json_each(?))"
        " ORDER BY id",
        ["[" + ",".join(map(str, sorted(clusters))) + "]"],
    ).fetchall()
    keeper = found[0] if found else None
    for merged_id, _status in found[1:]:  # found[0] is the keeper
        db.execute(
            "UPDATE incidents SET cluster_id = NULL, merged_into = ?, status = 'closed',"
            " closed_at = ?, closed_by = 'merged', updated_at = ? WHERE id = ?",
            [found[0][0], stamp, stamp, merged_id],
        )
        db.execute(
            "UPDATE incident_alerts SET incident_id = ? WHERE incident_id = ?",
            [found[0][0], merged_id],
        )
    size, villages, first_at, last_at = _stats(db, target)
    if keeper is None:
        if size < MIN_REPORTS or villages < MIN_VILLAGES:
            return None
        cursor = db.execute(
            "INSERT INTO incidents (cluster_id, status, reports, villages, first_at, last_at,"
            " created_at, updated_at) VALUES (?, 'open', ?, ?, ?, ?, ?, ?)",
            [target, size, villages, first_at, last_at, stamp, stamp],
        )
        log.info("incident %s: %s reports in %s villages", cursor.lastrowid, size, villages)
        return cursor.lastrowid
    # A closed incident that a new report joins is live again: the gang is back.
    reopen = keeper[1] == "closed" and not was_member
    db.execute(
        "UPDATE incidents SET cluster_id = ?, reports = ?, villages = ?, first_at = ?,"
        " last_at = ?, updated_at = ? WHERE id = ?",
        [target, size, villages, first_at, last_at, stamp, keeper[0]],
    )
    if reopen:
        db.execute(
            "UPDATE incidents SET status = 'open', closed_at = NULL, closed_by = NULL WHERE id = ?",
            [keeper[0]],
        )
    return keeper[0]


def _stats(db: sqlite_utils.Database, cluster_id: int) -> tuple[int, int, str, str]:
    row = db.execute(
        "SELECT count(*), count(DISTINCT r.county || '/' || r.township || '/' || r.village),"
        " min(r.created_at), max(r.created_at)"
        " FROM report_clusters c JOIN reports r ON r.id = c.report_id WHERE c.cluster_id = ?",
        [cluster_id],
    ).fetchone()
    return row[0], row[1], row[2], row[3]


# --- reading ----------------------------------------------------------------------------


def get(db: sqlite_utils.Database, incident_id: int) -> dict[str, Any] | None:
    if not 0 < incident_id <= MAX_ID:
        return None
    rows = list(db.query("SELECT * FROM incidents WHERE id = ?", [incident_id]))
    return rows[0] if rows else None


def live(db: sqlite_utils.Database, incident_id: int) -> dict[str, Any] | None:
    """The incident, or the one it was merged into (followed to the end)."""
    incident = get(db, incident_id)
    seen = set()
    while incident and incident.get("merged_into") and incident["id"] not in seen:
        seen.add(incident["id"])
        incident = get(db, incident["merged_into"])
    return incident


def report_ids(db: sqlite_utils.Database, incident: dict[str, Any]) -> list[int]:
    if incident.get("cluster_id") is None:
        return []
    return [
        r[0]
        for r in db.execute(
            "SELECT c.report_id FROM report_clusters c JOIN reports r ON r.id = c.report_id"
            " WHERE c.cluster_id = ? ORDER BY r.created_at, r.id",
            [incident["cluster_id"]],
        ).fetchall()
    ]


def _touches(officer: dict[str, Any]) -> tuple[str, list[Any]]:
    # An officer sees an incident when one of its reports is in their queue's scope.
    where, params = reports.scope(officer)
    return (
        "EXISTS (SELECT 1 FROM report_clusters c JOIN reports r ON r.id = c.report_id"  # noqa: S608
        f" WHERE c.cluster_id = i.cluster_id AND {where})",
        params,
    )


def visible(
    db: sqlite_utils.Database, officer: dict[str, Any], status: str | None = "open"
) -> list[dict[str, Any]]:
    """Incidents touching the officer's station (a supervisor: county), latest first."""
    touches, params = _touches(officer)
    clauses = ["i.cluster_id IS NOT NULL", touches]
    if status in STATUSES:
        clauses.append("i.status = ?")
        params = [*params, status]
    sql = (
        f"SELECT i.* FROM incidents i WHERE {' AND '.join(clauses)}"  # noqa: S608
        " ORDER BY i.status = 'closed', i.last_at DESC LIMIT 200"
    )
    return list(db.query(sql, params))


def get_scoped(
    db: sqlite_utils.Database, officer: dict[str, Any], incident_id: int
) -> dict[str, Any] | None:
    """The (live) incident if the officer may see it, else None (the page answers 404)."""
    incident = live(db, incident_id)
    if incident is None or incident.get("cluster_id") is None:
        return None
    touches, params = _touches(officer)
    row = db.execute(
        f"SELECT 1 FROM incidents i WHERE i.id = ? AND {touches}",  # noqa: S608
        [incident["id"], *params],
    ).fetchone()
    return incident if row else None


def timeline(
    db: sqlite_utils.Database, officer: dict[str, Any], incident: dict[str, Any]
) -> list[dict[str, Any]]:
    """The incident's reports in time order: village, time, category, and whether this
    officer may open the report (others show where and when, not what or who)."""
    ids = report_ids(db, incident)
    where, params = reports.scope(officer)
    mine = {
        r[0]
        for r in db.execute(
            f"SELECT r.id FROM reports r WHERE r.id IN (SELECT value FROM json_each(?))"  # noqa: S608
            f" AND {where}",
            ["[" + ",".join(map(str, ids)) + "]", *params],
        ).fetchall()
    }
    rows = []
    for rid in ids:
        r = reports.get(db, rid) or {}
        rows.append(
            {
                "id": rid,
                "ref": r.get("ref") if rid in mine else None,
                "visible": rid in mine,
                "created_at": r.get("created_at"),
                "county": r.get("county"),
                "township": r.get("township"),
                "village": r.get("village"),
                "station_code": r.get("station_code"),
                "category": r.get("category"),
                "status": r.get("status"),
            }
        )
    return rows


def shared_keys(db: sqlite_utils.Database, incident: dict[str, Any]) -> list[dict[str, Any]]:
    return link_keys.shared_keys(db, report_ids(db, incident))


def townships(db: sqlite_utils.Database, incident: dict[str, Any]) -> list[tuple[str, str]]:
    """(county, township) pairs of the incident's routed reports."""
    rows = db.execute(
        "SELECT DISTINCT r.county, r.township FROM report_clusters c"
        " JOIN reports r ON r.id = c.report_id WHERE c.cluster_id = ?"
        " AND r.township IS NOT NULL AND r.county IS NOT NULL ORDER BY r.county, r.township",
        [incident.get("cluster_id")],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def categories(db: sqlite_utils.Database, incident: dict[str, Any]) -> list[str]:
    rows = db.execute(
        "SELECT r.category, count(*) n FROM report_clusters c JOIN reports r"
        " ON r.id = c.report_id WHERE c.cluster_id = ? GROUP BY r.category ORDER BY n DESC",
        [incident.get("cluster_id")],
    ).fetchall()
    return [r[0] for r in rows]


def set_status(
    db: sqlite_utils.Database, incident: dict[str, Any], status: str, by: str
) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"status is one of {', '.join(STATUSES)}")
    stamp = now()
    closed = status == "closed"
    with db.atomic():
        db.execute(
            "UPDATE incidents SET status = ?, closed_at = ?, closed_by = ?, updated_at = ?"
            " WHERE id = ?",
            [status, stamp if closed else None, by if closed else None, stamp, incident["id"]],
        )
    return get(db, incident["id"]) or incident


def record_alert(
    db: sqlite_utils.Database,
    incident_id: int,
    alert_id: int,
    scope_value: str,
    recipients: int,
    sent_by: str,
) -> bool:
    """Note on the incident that an alert went out from it (once per alert)."""
    stamp = now()
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO incident_alerts (incident_id, alert_id, scope_value,"
            " recipients, sent_by, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [incident_id, alert_id, scope_value, recipients, sent_by, stamp],
        )
        if cursor.rowcount:
            db.execute(
                "UPDATE incidents SET alerted_at = ?, updated_at = ? WHERE id = ?",
                [stamp, stamp, incident_id],
            )
    return bool(cursor.rowcount)


def alerts_of(db: sqlite_utils.Database, incident_id: int) -> list[dict[str, Any]]:
    return list(
        db.query("SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY id", [incident_id])
    )


def relink_all(db: sqlite_utils.Database, vault: Vault) -> int:
    """Link every submitted report again, oldest first (after an upgrade, or to take in
    reports whose form was never finished). Idempotent; returns reports processed."""
    ids = [
        r[0]
        for r in db.execute(
            "SELECT id FROM reports WHERE status != 'withdrawn' AND purged_at IS NULL"
            " AND (submitted_at IS NOT NULL OR created_at <= ?) ORDER BY created_at, id",
            [reports.visible_since()],
        ).fetchall()
    ]
    for report_id in ids:
        link_report(db, vault, report_id)
    return len(ids)
