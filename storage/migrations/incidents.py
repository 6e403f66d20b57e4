"""Tables of linked reports and incidents (reporting/links.py, reporting/incidents.py).

``report_links``: the keys a report shares with others (a suspect's number, a link, a
team's name, a plate, the township). ``report_clusters``: which reports are linked,
directly or through others (a connected component; its id is the id of one member).
``incidents``: a cluster big enough for the police queue. ``incident_alerts``: urgent
alerts sent from an incident.
"""

from __future__ import annotations

import sqlite_utils


def _001_incidents(db: sqlite_utils.Database) -> None:
    db.table("report_links").create(
        {
            "id": int,
            "report_id": int,
            "kind": str,  # phone / url / org / plate / township
            # phone, url, plate: Vault.hash of "kind:normalised key"; org, township: the
            # normalised text itself (not personal).
            "key": str,
            "display": str,  # masked for phone / plate, host only for url
            "at": int,  # the report's created_at, Unix seconds: window arithmetic in SQL
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("report_id", "reports", "id")],
    )
    db.table("report_links").create_index(["report_id", "kind", "key"], unique=True)
    db.table("report_links").create_index(["kind", "key", "at"])
    db.table("report_clusters").create(
        {"report_id": int, "cluster_id": int, "joined_at": str},
        pk="report_id",
        foreign_keys=[("report_id", "reports", "id")],
    )
    db.table("report_clusters").create_index(["cluster_id"])
    db.table("incidents").create(
        {
            "id": int,
            "cluster_id": int,  # NULL once merged into another incident
            "status": str,  # open / closed
            "merged_into": int,
            "reports": int,
            "villages": int,
            "first_at": str,  # the first and the latest report's created_at
            "last_at": str,
            "created_at": str,
            "updated_at": str,
            "closed_at": str,
            "closed_by": str,
            "alerted_at": str,  # the latest alert sent from it
        },
        pk="id",
    )
    # One live incident per cluster, whatever two writers do at the same moment.
    db.execute(
        "CREATE UNIQUE INDEX idx_incidents_cluster ON incidents (cluster_id)"
        " WHERE cluster_id IS NOT NULL"
    )
    db.table("incidents").create_index(["status"])
    db.table("incident_alerts").create(
        {
            "id": int,
            "incident_id": int,
            "alert_id": int,  # alerts.id (outreach/alerts.py)
            "scope_value": str,  # county/township
            "recipients": int,
            "sent_by": str,
            "at": str,
        },
        pk="id",
    )
    db.table("incident_alerts").create_index(["incident_id", "alert_id"], unique=True)


MIGRATIONS = [
    ("incidents_001_incidents", _001_incidents),
]
