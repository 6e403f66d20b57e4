"""Who may open the police side's pages, and the one "in my scope or 404" check.

Every police area (the queue, incidents, outreach, review) enters through ``POLICE``,
the accounts' guard (accounts/web.py) for the police roles: bureau staff who share the
sign-in are sent to /bureau on a GET, refused otherwise. The account is marked with
``catch_all`` (reports with no county yet) as the queue's scope needs.

A report or incident outside the officer's reach is a 404, not a 403 (which would
confirm it exists); ids beyond SQLite's integers are a 404 too, not an overflow.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g

from accounts.officers import POLICE_ROLES
from accounts.web import Guard
from reporting import incidents, reports
from storage.db import get_db

MAX_ID = 2**63 - 1


def _with_catch_all(officer: dict[str, Any]) -> dict[str, Any]:
    return reports.with_catch_all(
        get_db(), officer, current_app.config.get("HOTLINE_DEFAULT_COUNTY")
    )


POLICE = Guard(
    "police.login",
    POLICE_ROLES,
    api_prefix="/police/api/",
    elsewhere="/bureau/",
    load=_with_catch_all,
)
police_required = POLICE.required
supervisor_required = POLICE.role_required("supervisor")


def scoped_report(report_id: int) -> dict[str, Any]:
    """The report if the signed-in officer may open it; else 404."""
    report = reports.get_scoped(get_db(), g.officer, report_id) if report_id <= MAX_ID else None
    if report is None:
        abort(404)
    return report


def scoped_incident(incident_id: int, *, follow_merged: bool = True) -> dict[str, Any]:
    """The incident if the signed-in officer may open it; else 404. One merged into
    another leads to that one (the caller redirects), or with ``follow_merged=False``
    is a 404 (an action that must act on exactly the incident the officer saw)."""
    incident = (
        incidents.get_scoped(get_db(), g.officer, incident_id) if incident_id <= MAX_ID else None
    )
    if incident is None or (not follow_merged and incident["id"] != incident_id):
        abort(404)
    return incident
