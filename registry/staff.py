"""County medical-insurance bureau accounts: officers' accounts with the role "bureau".

They share every area's sign-in (accounts/officers.py: hashed passwords, lockout,
session versions) but belong to a county, not to a police station, and see no reports.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from accounts import officers


def add(db: sqlite_utils.Database, username: str, password: str, county: str) -> dict[str, Any]:
    known = db.execute("SELECT 1 FROM jurisdictions WHERE county = ? LIMIT 1", [county]).fetchone()
    if not known:
        raise officers.OfficerError(f"no county {county!r}: import the jurisdiction table first")
    return officers.add_account(db, username, password, "bureau", county)
