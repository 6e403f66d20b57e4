"""Registered village cadres: their reports carry their village and rank higher."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import sqlite_utils

from reporting import jurisdiction
from storage.clock import now_iso
from storage.privacy import Vault


class CadreError(ValueError):
    pass


def add(
    db: sqlite_utils.Database, vault: Vault, phone: str, village: str, township: str | None = None
) -> dict[str, Any]:
    """Register (or move) a cadre. The village must be in the jurisdiction table, and
    name one village: a name found in two townships needs ``township``."""
    rows, _how = jurisdiction.find_villages(db, f"{township or ''}{village}")
    rows = [
        r
        for r in rows
        if not township or jurisdiction.normalise_township(township) == r["township_norm"]
    ]
    if not rows:
        raise CadreError(f"village {village!r} is not in the jurisdiction table")
    if len(rows) > 1:
        towns = "、".join(r["township"] for r in rows)
        raise CadreError(f"{village} exists in several townships ({towns}): give --township")
    row = rows[0]
    record = {
        **vault.protect(phone, "phone"),
        "county": row["county"],
        "township": row["township"],
        "village": row["village"],
        "created_at": now_iso(),
    }
    with db.atomic():
        db.table("cadres").upsert(record, pk="phone_hash")
    return record


def import_csv(db: sqlite_utils.Database, vault: Vault, path: str | Path) -> int:
    """Columns: phone, village, township (township may be empty when the name is unique)."""
    data = Path(path).read_bytes()
    try:  # UTF-8 (with or without Excel's BOM), else GB18030, which Chinese Excel writes
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise CadreError(f"{path}: the file is neither UTF-8 nor GBK text") from None
    count = 0
    reader = csv.DictReader(io.StringIO(text))
    try:
        for number, row in enumerate(reader, start=2):
            try:
                add(
                    db, vault, row["phone"] or "", row["village"] or "", row.get("township") or None
                )
            except (CadreError, KeyError) as exc:
                raise CadreError(f"line {number}: {exc}") from exc
            count += 1
    except csv.Error as exc:  # a NUL byte, an unterminated quote at the end
        raise CadreError(f"line {reader.line_num}: {exc}") from exc
    return count


def lookup(db: sqlite_utils.Database, contact_hash: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM cadres WHERE phone_hash = ?", [contact_hash]))
    return rows[0] if rows else None
