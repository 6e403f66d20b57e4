"""County medical-insurance bureau accounts: officers' accounts with the role "bureau".

They share the police login machinery (reporting/officers.py: hashed passwords, lockout,
session versions) but belong to a county, not to a police station, and see no reports.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from werkzeug.security import generate_password_hash

from reporting import officers
from storage.clock import now_iso


def add(db: sqlite_utils.Database, username: str, password: str, county: str) -> dict[str, Any]:
    username = username.strip()
    if not username or len(username) > 64:
        raise officers.OfficerError("username must be 1 to 64 characters")
    if len(password) < officers.MIN_PASSWORD:
        raise officers.OfficerError(
            f"password must have at least {officers.MIN_PASSWORD} characters"
        )
    known = db.execute("SELECT 1 FROM jurisdictions WHERE county = ? LIMIT 1", [county]).fetchone()
    if not known:
        raise officers.OfficerError(f"no county {county!r}: import the jurisdiction table first")
    if officers.get_by_username(db, username):
        raise officers.OfficerError(f"username {username!r} is taken")
    record = {
        "username": username,
        "password_hash": generate_password_hash(password),
        "station_code": None,
        "county": county,
        "role": "bureau",
        "active": 1,
        "failed_logins": 0,
        "session_version": 0,
        "created_at": now_iso(),
    }
    with db.atomic():
        record["id"] = db["officers"].insert(record).last_pk
    return record
