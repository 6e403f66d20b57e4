"""Officers' accounts (police, county supervisors, bureau staff): hashed passwords,
lockout after repeated failures, session versions, roles.

An officer sees their station's reports; a county supervisor sees the whole county;
bureau staff belong to a county and see no reports (they work on the registry).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from storage.clock import now_iso as now
from storage.tables import new_id

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD = 10
ROLES = ("officer", "supervisor", "bureau")
# Roles that see reports under /police. "bureau" is county medical-insurance staff: the
# same accounts, lockout and sessions, but they work on the registry (/bureau) only.
POLICE_ROLES = ("officer", "supervisor")
# Checked when the username is unknown, so a wrong name costs the same time as a
# wrong password and does not reveal which usernames exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class OfficerError(ValueError):
    pass


def add(
    db: sqlite_utils.Database,
    username: str,
    password: str,
    station_code: str,
    role: str = "officer",
) -> dict[str, Any]:
    """A police account at a station (its county follows from the station)."""
    if role not in POLICE_ROLES:
        raise OfficerError(f"role must be one of {', '.join(POLICE_ROLES)}")
    # The stations table is the jurisdiction table's (reporting/jurisdiction.py imports it).
    station = db.execute("SELECT county FROM stations WHERE code = ?", [station_code]).fetchone()
    if station is None:
        raise OfficerError(f"no station {station_code!r}: import the jurisdiction table first")
    return add_account(db, username, password, role, station[0], station_code)


def add_account(
    db: sqlite_utils.Database,
    username: str,
    password: str,
    role: str,
    county: str,
    station_code: str | None = None,
) -> dict[str, Any]:
    """Any account (police, or bureau staff with no station): the checks and the row."""
    username = username.strip()
    if not username or len(username) > 64:
        raise OfficerError("username must be 1 to 64 characters")
    if len(password) < MIN_PASSWORD:
        raise OfficerError(f"password must have at least {MIN_PASSWORD} characters")
    if role not in ROLES:
        raise OfficerError(f"role must be one of {', '.join(ROLES)}")
    if get_by_username(db, username):
        raise OfficerError(f"username {username!r} is taken")
    record = {
        "username": username,
        "password_hash": generate_password_hash(password),
        "station_code": station_code,
        "county": county,
        "role": role,
        "active": 1,
        "failed_logins": 0,
        "session_version": 0,
        "created_at": now(),
    }
    with db.atomic():
        record["id"] = new_id(db.table("officers").insert(record))
    return record


def get(db: sqlite_utils.Database, officer_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM officers WHERE id = ? AND active = 1", [officer_id]))
    return rows[0] if rows else None


def get_by_username(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM officers WHERE username = ?", [username.strip()]))
    return rows[0] if rows else None


def colleagues(db: sqlite_utils.Database, officer: dict[str, Any]) -> list[dict[str, Any]]:
    """Who this officer may assign a report to."""
    if officer["role"] == "supervisor":
        sql, value = "county = ?", officer["county"]
    else:
        sql, value = "station_code = ?", officer["station_code"]
    return list(
        db.query(
            f"SELECT id, username, station_code FROM officers WHERE active = 1 AND {sql}"  # noqa: S608
            " ORDER BY username",
            [value],
        )
    )


def authenticate(
    db: sqlite_utils.Database, username: str, password: str, at: dt.datetime | None = None
) -> tuple[dict[str, Any] | None, str]:
    """(officer, "ok") or (None, reason): reason is "locked" or "invalid".

    The attempt is counted before the (slow) password check, in one UPDATE: parallel
    guesses each take a number, and the one reaching ``MAX_FAILURES`` locks the account
    for all that follow. A right password then resets the count."""
    at = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    stamp = at.isoformat(timespec="seconds")
    officer = get_by_username(db, username or "")
    if officer is None or not officer["active"]:
        check_password_hash(_DUMMY_HASH, password or "")
        return None, "invalid"
    with db.atomic():
        counted = db.execute(
            "UPDATE officers SET failed_logins = coalesce(failed_logins, 0) + 1"
            " WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)",
            [officer["id"], stamp],
        ).rowcount
        if counted:
            failures = db.execute(
                "SELECT failed_logins FROM officers WHERE id = ?", [officer["id"]]
            ).fetchone()[0]
            if failures >= MAX_FAILURES:
                db.execute(
                    "UPDATE officers SET locked_until = ?, failed_logins = 0 WHERE id = ?",
                    [(at + LOCKOUT).isoformat(timespec="seconds"), officer["id"]],
                )
    if not counted:
        check_password_hash(_DUMMY_HASH, password or "")  # as slow as any other answer
        return None, "locked"
    if not check_password_hash(officer["password_hash"], password or ""):
        return None, "locked" if failures >= MAX_FAILURES else "invalid"
    with db.atomic():
        db.table("officers").update(
            officer["id"],
            {"failed_logins": 0, "locked_until": None, "last_login_at": now()},
        )
    fresh = get(db, officer["id"])  # with its current session_version
    return (fresh, "ok") if fresh else (None, "invalid")


def end_sessions(db: sqlite_utils.Database, officer_id: int) -> None:
    """Every session cookie issued to this officer so far stops working (logout,
    deactivation, new password): the version stored in them no longer matches."""
    with db.atomic():
        db.execute(
            "UPDATE officers SET session_version = coalesce(session_version, 0) + 1 WHERE id = ?",
            [officer_id],
        )


def set_password(db: sqlite_utils.Database, username: str, password: str) -> dict[str, Any]:
    officer = get_by_username(db, username)
    if officer is None:
        raise OfficerError(f"no officer {username!r}")
    if len(password) < MIN_PASSWORD:
        raise OfficerError(f"password must have at least {MIN_PASSWORD} characters")
    with db.atomic():
        db.table("officers").update(
            officer["id"],
            {
                "password_hash": generate_password_hash(password),
                "failed_logins": 0,
                "locked_until": None,
            },
        )
    end_sessions(db, officer["id"])
    return officer


def deactivate(db: sqlite_utils.Database, username: str) -> dict[str, Any]:
    officer = get_by_username(db, username)
    if officer is None:
        raise OfficerError(f"no officer {username!r}")
    with db.atomic():
        db.table("officers").update(officer["id"], {"active": 0})
    end_sessions(db, officer["id"])
    return officer
