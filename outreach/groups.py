"""Village groups (village -> township -> county) and who is in them, with consent.

Every enrollment records consent: when it was given, through which channel, by whom
("self" for a villager who texted 订阅, else the cadre or officer who enrolled them).
A number that opted out is never enrolled again by anyone but its owner (订阅/START).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from outreach.quiet_hours import iso, utcnow
from reporting import jurisdiction
from storage.csvfile import readable_rows
from storage.privacy import Vault, normalise_contact
from storage.tables import new_id

SCOPES = ("group", "township", "county")
# Header aliases a cadre's spreadsheet may use.
COLUMNS = {
    "phone": ("phone", "mobile", "手机号", "手机", "电话"),
    "village": ("village", "村", "村名"),
    "township": ("township", "town", "镇", "乡镇", "乡"),
    "county": ("county", "县", "区县"),
    "consent_at": ("consent_at", "同意时间", "签字日期"),
    "consent_channel": ("consent_channel", "同意方式"),
}
MAX_IMPORT_ROWS = 50_000
_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTERNATIONAL = re.compile(r"^\+\d{8,15}$")


class ScopeError(ValueError):
    """A target that names no group, or more than one where one was meant."""


def now_iso() -> str:
    return iso(utcnow())


def ensure_group(db: sqlite_utils.Database, county: str, township: str, village: str) -> int:
    county, township, village = county.strip(), township.strip(), village.strip()
    row = db.execute(
        "SELECT id FROM village_groups WHERE county = ? AND township = ? AND village = ?",
        [county, township, village],
    ).fetchone()
    if row:
        return row[0]
    with db.atomic():
        return new_id(
            db.table("village_groups").insert(
                {
                    "county": county,
                    "township": township,
                    "village": village,
                    "created_at": now_iso(),
                }
            )
        )


def get_group(db: sqlite_utils.Database, group_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM village_groups WHERE id = ?", [group_id]))
    return rows[0] if rows else None


def list_groups(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every group with its active and opted-out counts, by county, township, village."""
    return list(
        db.query(
            """
            SELECT g.id, g.county, g.township, g.village,
                   SUM(s.status = 'active') AS active,
                   SUM(s.status = 'opted_out') AS opted_out
            FROM village_groups g LEFT JOIN subscribers s ON s.group_id = g.id
            GROUP BY g.id ORDER BY g.county, g.township, g.village
            """
        )
    )


def find_villages(db: sqlite_utils.Database, text: str) -> list[dict[str, Any]]:
    """Groups whose village a villager's words name: "石桥村", "石桥", "东坝镇石桥村"."""
    text = re.sub(r"\s+", "", text)
    if not text:
        return []
    groups = list(db.query("SELECT * FROM village_groups"))
    exact = [g for g in groups if g["village"] in text]
    if not exact:
        norm = jurisdiction.normalise(text)
        exact = [
            g for g in groups if len(norm) >= 2 and jurisdiction.normalise(g["village"]) == norm
        ]
    if len(exact) > 1:
        # "东坝镇石桥村" picks the 石桥村 of 东坝镇 when two townships have one.
        narrowed = [g for g in exact if jurisdiction.normalise_township(g["township"]) in text]
        if narrowed:
            exact = narrowed
    return exact


def resolve_scope(db: sqlite_utils.Database, scope_type: str, value: str) -> list[int]:
    """Group ids a target covers. Values: a group id or "county/township/village";
    a township name or "county/township"; a county name."""
    value = value.strip()
    if scope_type not in SCOPES:
        raise ScopeError(f"scope must be one of {', '.join(SCOPES)}")
    parts = [p.strip() for p in value.split("/")]
    args: Sequence[int | str]
    if scope_type == "group":
        if value.isascii() and value.isdigit() and len(value) <= 18:  # not "²", fits SQLite
            sql, args = "SELECT id FROM village_groups WHERE id = ?", [int(value)]
        elif len(parts) == 3:
            sql = "SELECT id FROM village_groups WHERE county = ? AND township = ? AND village = ?"
            args = parts
        else:
            sql, args = "SELECT id FROM village_groups WHERE village = ?", [value]
    elif scope_type == "township":
        if len(parts) == 2:
            sql = "SELECT id FROM village_groups WHERE county = ? AND township = ?"
            args = parts
        else:
            sql, args = "SELECT id FROM village_groups WHERE township = ?", [value]
    else:
        sql, args = "SELECT id FROM village_groups WHERE county = ?", [value]
    ids = [r[0] for r in db.execute(sql, args).fetchall()]
    if not ids:
        raise ScopeError(f"no village group matches {scope_type} {value!r}")
    if scope_type == "group" and len(ids) > 1:
        raise ScopeError(
            f"{len(ids)} villages are called {value!r}: use the group id or county/township/village"
        )
    if scope_type == "township" and len(parts) == 1:
        counties = db.execute(
            "SELECT COUNT(DISTINCT county) FROM village_groups WHERE township = ?", [value]
        ).fetchone()[0]
        if counties > 1:
            raise ScopeError(f"{value!r} exists in {counties} counties: use county/township")
    return ids


def record_consent(
    db: sqlite_utils.Database,
    subscriber_id: int,
    event: str,
    channel: str,
    by: str,
    at: str | None = None,
    source: str | None = None,
) -> None:
    db.table("consents").insert(
        {
            "subscriber_id": subscriber_id,
            "event": event,
            "channel": channel,
            "by": by,
            "at": at or now_iso(),
            "recorded_at": now_iso(),
            "source": source,
        }
    )


def consents(db: sqlite_utils.Database, subscriber_id: int) -> list[dict[str, Any]]:
    return list(
        db.query("SELECT * FROM consents WHERE subscriber_id = ? ORDER BY id", [subscriber_id])
    )


def subscriber(db: sqlite_utils.Database, vault: Vault, contact: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM subscribers WHERE contact_hash = ?", [vault.hash(contact)]))
    return rows[0] if rows else None


def valid_phone(contact: str) -> str | None:
    """The normalised number when it can receive SMS, else None."""
    value = normalise_contact(contact)
    if _MAINLAND_MOBILE.match(value) or _INTERNATIONAL.match(value):
        return value
    return None


def enroll(
    db: sqlite_utils.Database,
    vault: Vault,
    contact: str,
    group_id: int,
    *,
    by: str,
    channel: str,
    consent_at: str | None = None,
    source: str | None = None,
) -> str:
    """Enroll one number in a group: "enrolled", "moved" (was active elsewhere),
    "already" (active in that group) or "opted_out" (refused: only its owner may rejoin)."""
    group = get_group(db, group_id)
    if group is None:
        raise ScopeError(f"no village group {group_id}")
    contact_hash = vault.hash(contact)
    with db.atomic():
        row = db.execute(
            "SELECT id, status, group_id FROM subscribers WHERE contact_hash = ?", [contact_hash]
        ).fetchone()
        if row and row[1] == "opted_out":
            record_consent(db, row[0], "skipped_opted_out", channel, by, source=source)
            return "opted_out"
        if row and row[2] == group_id:
            return "already"
        stamp = now_iso()
        record = {
            "village": group["village"],
            "group_id": group_id,
            "updated_at": stamp,
        }
        if row:
            db.table("subscribers").update(row[0], record)
            record_consent(db, row[0], "moved", channel, by, consent_at, source)
            return "moved"
        record.update(
            {
                **vault.protect(contact),
                "channel": "sms",
                "status": "active",
                "consent_at": consent_at or stamp,
                "consent_channel": channel,
                "consent_by": by,
            }
        )
        sub_id = new_id(db.table("subscribers").insert(record))
        record_consent(db, sub_id, "enrolled", channel, by, consent_at, source)
        return "enrolled"


def assign_group(db: sqlite_utils.Database, subscriber_id: int, group: dict[str, Any]) -> None:
    with db.atomic():
        db.table("subscribers").update(
            subscriber_id,
            {"group_id": group["id"], "village": group["village"], "updated_at": now_iso()},
        )


def set_village_text(db: sqlite_utils.Database, subscriber_id: int, village: str) -> None:
    """A village the villager named that no group has yet: kept for a cadre to match."""
    with db.atomic():
        db.table("subscribers").update(
            subscriber_id, {"village": village[:40], "updated_at": now_iso()}
        )


def mark_opted_out(
    db: sqlite_utils.Database, subscriber_id: int, reason: str, channel: str, by: str = "self"
) -> bool:
    """Stop every push to a subscriber (carrier opt-out, or T by SMS); False if already."""
    with db.atomic():
        row = db.execute("SELECT status FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
        if row is None:
            return False
        if row[0] != "opted_out":
            stamp = now_iso()
            db.table("subscribers").update(
                subscriber_id,
                {
                    "status": "opted_out",
                    "opted_out_at": stamp,
                    "opt_out_reason": reason,
                    "updated_at": stamp,
                },
            )
            record_consent(db, subscriber_id, "opted_out", channel, by)
            return True
        db.table("subscribers").update(subscriber_id, {"opt_out_reason": reason})
        return False


@dataclass
class ImportResult:
    enrolled: int = 0
    moved: int = 0
    already: int = 0
    refused_opted_out: int = 0
    groups_created: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"enrolled {self.enrolled}, moved {self.moved}, already enrolled {self.already}, "
            f"not re-enrolled (opted out) {self.refused_opted_out}, "
            f"new groups {self.groups_created}, rows with errors {len(self.errors)}"
        )


class EnrollmentFileError(ValueError):
    """The file cannot be read as an enrollment CSV at all."""


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else GB18030, which Chinese Excel writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise EnrollmentFileError("the file is neither UTF-8 nor GBK text") from exc


def _header_map(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().casefold()
        for column, aliases in COLUMNS.items():
            if key in (a.casefold() for a in aliases):
                found.setdefault(column, index)
    missing = [c for c in ("phone", "village", "township", "county") if c not in found]
    if missing:
        raise EnrollmentFileError(
            "the first row must name the columns phone, village, township, county "
            f"(missing: {', '.join(missing)})"
        )
    return found


def import_csv(
    db: sqlite_utils.Database,
    vault: Vault,
    data: bytes | str,
    *,
    by: str,
    channel: str = "csv",
    source: str | None = None,
    only_county: str | None = None,
) -> ImportResult:
    """Enroll every row of a cadre's CSV: phone, village, township, county
    [, consent_at, consent_channel]. Bad rows are reported by line, never fatal.
    With ``only_county``, rows of other counties are refused (an officer's upload)."""
    if not by.strip():
        raise EnrollmentFileError("say who is enrolling these villagers (--by)")
    text = decode_csv(data) if isinstance(data, bytes) else data
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise EnrollmentFileError("the file is empty") from exc
    except csv.Error as exc:  # a NUL byte, a 128 KB field: not a cadre's CSV
        raise EnrollmentFileError(f"the first line is not CSV text ({exc})") from exc
    columns = _header_map(header)
    result = ImportResult()
    known_groups = {
        (r["county"], r["township"], r["village"]): r["id"]
        for r in db.query("SELECT * FROM village_groups")
    }

    def bad_line(line: int, reason: str) -> None:
        result.errors.append(f"line {line}: {reason}")

    for line, row in enumerate(readable_rows(reader, bad_line), start=2):
        if row is None:
            continue
        if not any(cell.strip() for cell in row):
            continue
        if line - 1 > MAX_IMPORT_ROWS:
            result.errors.append(f"line {line}: more than {MAX_IMPORT_ROWS} rows, rest ignored")
            break

        def cell(name: str, row: list[str] = row) -> str:
            index = columns.get(name)
            return row[index].strip() if index is not None and index < len(row) else ""

        phone = valid_phone(cell("phone"))
        if phone is None:
            result.errors.append(f"line {line}: not a mobile number")
            continue
        place = (cell("county"), cell("township"), cell("village"))
        if not all(place):
            result.errors.append(f"line {line}: village, township and county are all needed")
            continue
        if only_county is not None and place[0] != only_county:
            result.errors.append(f"line {line}: {place[0]} is not your county")
            continue
        if place not in known_groups:
            known_groups[place] = ensure_group(db, *place)
            result.groups_created += 1
        how = cell("consent_channel") or channel
        outcome = enroll(
            db,
            vault,
            phone,
            known_groups[place],
            by=by.strip(),
            channel=how,
            consent_at=cell("consent_at") or None,
            source=source,
        )
        if outcome == "opted_out":
            result.refused_opted_out += 1
        else:
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result
