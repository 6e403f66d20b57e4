"""Tables of the registry domain: activities the county medical-insurance bureau
authorised (registry/activities.py), their staff's work IDs, and codes reported forged."""

from __future__ import annotations

import sqlite_utils


def _001_activities(db: sqlite_utils.Database) -> None:
    db.table("registry_activities").create(
        {
            "id": int,
            "code": str,  # canonical authorisation code, YB-450881-2025-0001
            "county": str,
            "organisation": str,
            "organisation_norm": str,  # for matching what a villager writes
            # The leader is staff, not a villager, but still a named person: kept
            # encrypted for the bureau's screens, masked for lists, never told to villagers.
            "leader_enc": str,
            "leader_masked": str,
            "townships": str,  # JSON list of township names
            "villages": str,  # JSON list of {"township", "village", "village_norm"}
            "start_date": str,  # YYYY-MM-DD, Beijing calendar, inclusive
            "end_date": str,
            "authorised_by": str,
            "created_at": str,
            "created_by": str,
            "updated_at": str,
            "updated_by": str,
            "revoked_at": str,
            "revoked_by": str,
            "revoke_reason": str,
        },
        pk="id",
    )
    db.table("registry_activities").create_index(["code"], unique=True)
    db.table("registry_activities").create_index(["county", "end_date"])
    db.table("registry_members").create(
        {
            "id": int,
            "activity_id": int,
            "work_id_hash": str,  # keyed hash of the normalised work ID: the lookup
            "work_id_enc": str,  # for the bureau's edit form
            "work_id_masked": str,
        },
        pk="id",
        foreign_keys=[("activity_id", "registry_activities", "id")],
    )
    db.table("registry_members").create_index(["work_id_hash"])
    db.table("registry_members").create_index(["activity_id"])
    db.table("registry_forged_codes").create(
        {
            "code": str,
            "county": str,
            "reason": str,
            "reported_by": str,
            "reported_at": str,
        },
        pk="code",
    )


MIGRATIONS = [
    ("registry_001_activities", _001_activities),
]
