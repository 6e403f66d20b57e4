"""Which police station covers a village: the jurisdiction table and the matching rules.

Village names repeat across China and villagers spell them loosely ("新圩" for 新圩村,
a wrong character). The rule is to route only when one answer is clearly right: a name
found in two townships is asked about, a near-spelling is accepted only when it is one
character off a single village, and everything else goes to the county queue marked
unrouted. A report is never sent to a station by guessing.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

CSV_COLUMNS = ("province", "city", "county", "township", "village", "station_code", "station_name")

# Longest first: 村民委员会 must go before 村.
# One spelling rule for village names, shared with village groups (outreach/groups.py).
VILLAGE_SUFFIXES = (
    "村民委员会",
    "居民委员会",
    "村委会",
    "居委会",
    "社区",
    "村",
    "屯",
    "庄",
    "寨",
    "组",
)
TOWNSHIP_SUFFIXES = ("街道办事处", "人民政府", "街道", "镇", "乡")
_NOISE = re.compile(r"[\s,，。.、:：;；!！?？()（）\"'“”‘’]+")
# A near-spelling must be this long (after the suffix is removed) and differ by one
# character: "新圩" vs "新墟" (2 characters, 50% different) is not accepted.
MIN_FUZZY_LENGTH = 3
MAX_FUZZY_DISTANCE = 1


def _clean(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text or ""))


def _strip_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def normalise(village: str) -> str:
    """石桥村 / 石桥村委会 / 石桥 → 石桥; 清水社区 → 清水."""
    return _strip_suffix(_clean(village), VILLAGE_SUFFIXES)


def normalise_township(township: str) -> str:
    return _strip_suffix(_clean(township), TOWNSHIP_SUFFIXES)


class JurisdictionError(ValueError):
    """A jurisdiction CSV that cannot be loaded (missing column, empty field)."""


def read_csv(text: str) -> list[dict[str, str]]:
    """Parse and check a jurisdiction CSV (see docs/jurisdictions.md)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise JurisdictionError(f"missing column(s): {', '.join(missing)}")
    rows = []
    for number, row in enumerate(reader, start=2):
        values = {c: unicodedata.normalize("NFKC", (row.get(c) or "")).strip() for c in CSV_COLUMNS}
        empty = [c for c in CSV_COLUMNS if not values[c]]
        if empty:
            raise JurisdictionError(f"line {number}: empty {', '.join(empty)}")
        rows.append(values)
    return rows


def import_csv(db: sqlite_utils.Database, path: str | Path) -> dict[str, int]:
    """Load (or update) stations and jurisdictions from a CSV file; idempotent."""
    rows = read_csv(Path(path).read_text(encoding="utf-8"))
    stations: dict[str, dict[str, str]] = {}
    with db.atomic():
        for row in rows:
            stations[row["station_code"]] = {
                "code": row["station_code"],
                "name": row["station_name"],
                "province": row["province"],
                "city": row["city"],
                "county": row["county"],
            }
        db.table("stations").upsert_all(stations.values(), pk="code")
        for row in rows:
            db.execute(
                "INSERT INTO jurisdictions (province, city, county, township, township_norm,"
                " village, village_norm, station_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (county, township, village) DO UPDATE SET"
                " station_code = excluded.station_code, province = excluded.province,"
                " city = excluded.city",
                [
                    row["province"],
                    row["city"],
                    row["county"],
                    row["township"],
                    normalise_township(row["township"]),
                    row["village"],
                    normalise(row["village"]),
                    row["station_code"],
                ],
            )
    return {"rows": len(rows), "stations": len(stations)}


@dataclass
class Route:
    """The outcome of matching a reporter's "where"."""

    status: str  # routed / ambiguous / unrouted
    match: dict[str, Any] | None = None  # the jurisdiction row when routed
    candidates: list[dict[str, Any]] = field(default_factory=list)  # when ambiguous
    note: str = ""
    county: str | None = None  # known even when unrouted, if only one county is served


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _rows(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM jurisdictions ORDER BY id"))


def default_county(db: sqlite_utils.Database) -> str | None:
    """The county whose queue gets unroutable reports: known when only one is served."""
    counties = [r[0] for r in db.execute("SELECT DISTINCT county FROM jurisdictions").fetchall()]
    return counties[0] if len(counties) == 1 else None


def catch_all_county(db: sqlite_utils.Database, configured: str | None = None) -> str | None:
    """The county whose supervisors see reports with no county yet (pending or
    unroutable): ``HOTLINE_DEFAULT_COUNTY`` when set, else the only county served.
    With several counties and no setting, none: they must not all see them."""
    return (configured or "").strip() or default_county(db)


def _common_county(rows: list[dict[str, Any]]) -> str | None:
    counties = {r["county"] for r in rows}
    return counties.pop() if len(counties) == 1 else None


def _mentioned_townships(text: str, rows: list[dict[str, Any]]) -> set[str]:
    cleaned = _clean(text)
    # Only the full name (金田镇): the bare 金田 is also the village 金田村.
    return {r["township"] for r in rows if r["township"] in cleaned}


def find_villages(db: sqlite_utils.Database, text: str) -> tuple[list[dict[str, Any]], str]:
    """Jurisdiction rows the text can mean, and how they were found."""
    rows = _rows(db)
    cleaned = _clean(text)
    norm = normalise(text)
    if not norm:
        return [], ""
    exact = [r for r in rows if r["village_norm"] == norm]
    how = "exact"
    if not exact:
        # "我们金田镇新圩村来了一伙人": the village name inside a sentence. Township names
        # are taken out first, or 社坡镇 would also match the village 社坡社区.
        rest = cleaned
        for township in sorted(_mentioned_townships(text, rows), key=len, reverse=True):
            rest = rest.replace(township, " ")
        inside = [
            r
            for r in rows
            if r["village"] in rest or (len(r["village_norm"]) >= 2 and r["village_norm"] in rest)
        ]
        if inside:
            longest = max(len(r["village_norm"]) for r in inside)
            exact = [r for r in inside if len(r["village_norm"]) == longest]
            how = "contains"
    # The township, when named, narrows duplicates ("金田镇 新圩村").
    if exact:
        townships = _mentioned_townships(text, exact)
        if townships:
            exact = [r for r in exact if r["township"] in townships]
        return exact, how
    if len(norm) < MIN_FUZZY_LENGTH:
        return [], ""
    near = [
        r
        for r in rows
        if abs(len(r["village_norm"]) - len(norm)) <= MAX_FUZZY_DISTANCE
        and len(r["village_norm"]) >= MIN_FUZZY_LENGTH
        and _levenshtein(r["village_norm"], norm) <= MAX_FUZZY_DISTANCE
    ]
    townships = _mentioned_townships(text, near)
    if townships:
        near = [r for r in near if r["township"] in townships]
    # Two different villages one character away: neither is taken.
    if len({r["village_norm"] for r in near}) == 1:
        return near, "near"
    return [], "near-ambiguous" if near else ""


def route(db: sqlite_utils.Database, text: str) -> Route:
    """Match a village as the reporter wrote it."""
    if not text or not text.strip():
        return Route("unrouted", note="no village given", county=default_county(db))
    rows, how = find_villages(db, text)
    if len(rows) == 1:
        row = rows[0]
        note = f"near-spelling: {text.strip()} → {row['village']}" if how == "near" else ""
        return Route("routed", row, note=note, county=row["county"])
    if len(rows) > 1:
        return Route(
            "ambiguous",
            candidates=rows,
            note="village in several townships: " + "、".join(r["township"] for r in rows),
            county=_common_county(rows) or default_county(db),
        )
    note = "several near-spellings, none taken" if how == "near-ambiguous" else "unknown village"
    return Route("unrouted", note=note, county=default_county(db))


def choose_township(candidates: list[dict[str, Any]], answer: str) -> dict[str, Any] | None:
    """The candidate the reporter meant by ``answer``: its number in the list we sent,
    or the township's name (with or without 镇/乡). None when still unclear."""
    answer = _clean(answer)
    if answer.isdigit() and 1 <= int(answer) <= len(candidates):
        return candidates[int(answer) - 1]
    norm = normalise_township(answer)
    picked = [
        c
        for c in candidates
        if norm and (norm == c["township_norm"] or c["township_norm"] in answer)
    ]
    return picked[0] if len(picked) == 1 else None


def station(db: sqlite_utils.Database, code: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM stations WHERE code = ?", [code]))
    return rows[0] if rows else None


def station_townships(db: sqlite_utils.Database, code: str) -> set[str]:
    """The townships a station covers (all or part of), from the jurisdiction table."""
    rows = db.execute(
        "SELECT DISTINCT township FROM jurisdictions WHERE station_code = ?", [code]
    ).fetchall()
    return {r[0] for r in rows}


def stations_in_county(db: sqlite_utils.Database, county: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM stations WHERE county = ? ORDER BY code", [county]))


def exact(
    db: sqlite_utils.Database, county: str, township: str, village: str
) -> dict[str, Any] | None:
    rows = list(
        db.query(
            "SELECT * FROM jurisdictions WHERE county = ? AND township = ? AND village = ?",
            [county, township, village],
        )
    )
    return rows[0] if rows else None


def unresolved(candidates: list[dict[str, Any]]) -> Route:
    """The reporter could not say which township. One station covering every candidate
    still gets the report; otherwise the county queue does (never a guess)."""
    stations = {c["station_code"] for c in candidates}
    towns = "、".join(c["township"] for c in candidates)
    county = _common_county(candidates)
    if len(stations) == 1:
        first = dict(candidates[0])
        first["township"] = None
        return Route(
            "routed", first, note=f"township not given ({towns}), same station", county=county
        )
    return Route("unrouted", note=f"township not given: {towns}", county=county)
