"""Authorised activities: what the bureau registered, and the check against it.

The county medical-insurance bureau registers each promotion activity it authorised:
the organisation, the team leader, the members' work-ID numbers, the townships and
villages, the dates, and the authorisation code printed on the team's letter. A villager
or cadre gives what they can see (the code, a work ID, the organisation's name) and the
village and day; ``check`` answers one of four things: authorised here that day,
authorised but not for this village or day, no record (suspicious), or a code reported
forged. Every change goes to the audit log (accounts/audit.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from accounts import audit
from reporting import jurisdiction
from storage.clock import now_iso
from storage.csvfile import readable_rows
from storage.privacy import Vault
from storage.tables import new_id

BEIJING = dt.timezone(dt.timedelta(hours=8))
# YB-<6-digit county division code>-<year>-<4-digit number>, e.g. YB-450881-2025-0001
# (450881 is 桂平市). Printed on the team's letter; villagers copy it loosely, so the
# parser accepts full-width characters, spaces, lower case, other dashes or none.
CODE_FORMAT = "YB-<县级行政区划代码6位>-<年份4位>-<序号4位>"
_SEP = r"[\s\-_—–‐−.·/]*"
_CODE = re.compile(rf"(?<![A-Z0-9])YB{_SEP}(\d{{6}}){_SEP}(20\d\d){_SEP}(\d{{4}})(?!\d)")
# A work ID as printed on a badge: letters and digits, at least one digit.
_WORK_ID = re.compile(r"^(?=.*\d)[A-Z0-9]{3,24}$")
_WORK_ID_AFTER = re.compile(
    r"(?:工作证号?|工作证编号|工号|证件号|胸牌号?|胸卡号?|工牌号?)(?:码)?"
    # as a villager reads it off the badge: 胸牌上是…, 工作证上面写着…
    r"(?:上面?|上头)?(?:写着|写的|印着|印的)?[是为:：\s]*([A-Za-z0-9][A-Za-z0-9\-\s]{2,30})"
)
_LIST_SPLIT = re.compile(r"[;；、,，|\s]+")
_ORG_NOISE = re.compile(r"[\s,，。.、:：;；!！?？()（）\"'“”‘’·]+")
# Words that name the same body differently: 医疗保障局 is what villagers call 医保局.
_ORG_SYNONYMS = (("医疗保障", "医保"), ("股份有限公司", ""), ("有限责任公司", ""), ("有限公司", ""))
MAX_TEXT = 60


class ActivityError(ValueError):
    """An activity that cannot be saved as given (the message says why, in English)."""


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit log: a logged-in account, or the CLI."""

    officer: dict[str, Any] | None = None
    name: str = ""
    ip: str | None = None

    @property
    def label(self) -> str:
        return self.officer["username"] if self.officer else self.name


def _audit(db: sqlite_utils.Database, actor: Actor, action: str, detail: str) -> None:
    audit.record(db, actor.officer, action, None, detail, ip=actor.ip, username=actor.name)


# -- parsing what people write ------------------------------------------------------------


def _nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "")


def find_code(text: str | None) -> str | None:
    """The authorisation code in ``text``, canonical (YB-450881-2025-0001), or None."""
    match = _CODE.search(_nfkc(text).upper())
    return "YB-{}-{}-{}".format(*match.groups()) if match else None


def find_codes(text: str | None) -> list[str]:
    """Every authorisation code in ``text``, canonical, in order, without repeats."""
    found = ("YB-{}-{}-{}".format(*m.groups()) for m in _CODE.finditer(_nfkc(text).upper()))
    return list(dict.fromkeys(found))


def find_work_ids(text: str | None) -> list[str]:
    """Every work ID written after 工作证号/工号/胸牌 in ``text`` (a letter, a badge)."""
    found = (normalise_work_id(m.group(1)) for m in _WORK_ID_AFTER.finditer(_nfkc(text)))
    return list(dict.fromkeys(w for w in found if _WORK_ID.match(w)))


def around_code(text: str | None) -> str:
    """The letters and digits of ``text`` outside any authorisation code."""
    return re.sub(r"[\W_]+", "", _CODE.sub("", _nfkc(text).upper()))


def parse_code(text: str | None) -> str | None:
    """The code when ``text`` is nothing but a code (however written), else None."""
    code = find_code(text)
    return code if code and not around_code(text) else None


def normalise_work_id(text: str | None) -> str:
    """ab-0012 / ＡＢ００１２ / "AB 0012" → AB0012."""
    return re.sub(r"[^A-Z0-9]", "", _nfkc(text).upper())


def parse_work_id(text: str | None) -> str | None:
    """A work ID given on its own ("GP0012") or after 工作证号/工号 in a sentence."""
    raw = _nfkc(text).strip()
    match = _WORK_ID_AFTER.search(raw)
    if match:
        raw = match.group(1)
    elif find_code(raw) or not re.fullmatch(r"[A-Za-z0-9\-\s]{3,30}", raw):
        return None
    value = normalise_work_id(raw)
    return value if _WORK_ID.match(value) else None


def normalise_organisation(text: str | None) -> str:
    value = _ORG_NOISE.sub("", _nfkc(text))
    for word, replacement in _ORG_SYNONYMS:
        value = value.replace(word, replacement)
    return value


def _organisation_matches(given: str, registered_norm: str) -> bool:
    norm = normalise_organisation(given)
    # "县医保局" for "桂平市医保局": the county word is dropped before comparing.
    candidates = {norm, re.sub(r"^(本县|县里|县|市里|市|区)", "", norm)}
    return any(len(c) >= 2 and (c in registered_norm or registered_norm in c) for c in candidates)


def parse_date(text: str | None) -> dt.date | None:
    """2025-05-20, 2025/5/20, 2025年5月20日, 20250520 → a date; None otherwise."""
    value = _nfkc(text).strip()
    match = re.fullmatch(r"(\d{4})\D{0,2}(\d{1,2})\D{0,2}(\d{1,2})日?", value)
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def split_list(text: str | None) -> list[str]:
    return [part for part in _LIST_SPLIT.split(_nfkc(text).strip()) if part]


def today() -> dt.date:
    """Today on the Beijing calendar (activities are registered in local dates)."""
    return dt.datetime.now(BEIJING).date()


# -- storing -------------------------------------------------------------------------------


def _mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def _work_id_key(work_id: str) -> str:
    # A prefix keeps the vault's phone-number normalisation (86… → …) off work IDs.
    return "workid:" + normalise_work_id(work_id)


def _mask_work_id(work_id: str) -> str:
    value = normalise_work_id(work_id)
    return value[:2] + "*" * max(len(value) - 4, 1) + value[-2:] if len(value) > 4 else "****"


def _county_rows(db: sqlite_utils.Database, county: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM jurisdictions WHERE county = ? ORDER BY id", [county]))


def _resolve_places(
    db: sqlite_utils.Database, county: str, townships: list[str], villages: list[str]
) -> tuple[list[str], list[dict[str, str]]]:
    """Check the places against the county's jurisdiction table; return the townships
    and the villages as the table spells them."""
    rows = _county_rows(db, county)
    if not rows:
        raise ActivityError(f"county {county!r} is not in the jurisdiction table")
    known_towns = {r["township_norm"]: r["township"] for r in rows}
    towns = []
    for town in townships:
        norm = jurisdiction.normalise_township(town)
        if norm not in known_towns:
            raise ActivityError(f"township {town!r} is not in {county}")
        towns.append(known_towns[norm])
    places: list[dict[str, str]] = []
    for name in villages:
        found, how = jurisdiction.find_villages(db, name)
        found = [r for r in found if r["county"] == county]
        if towns and len(found) > 1:
            found = [r for r in found if r["township"] in towns] or found
        if not found or how not in ("exact", "contains"):
            raise ActivityError(f"village {name!r} is not in {county}")
        if len(found) > 1:
            where = "、".join(r["township"] for r in found)
            raise ActivityError(f"{name} is in several townships ({where}): write 镇名+村名")
        row = found[0]
        place = {"township": row["township"], "village": row["village"]}
        if place not in places:
            places.append(place)
    if not towns and not places:
        raise ActivityError("give the townships or the villages of the activity")
    for place in places:
        if place["township"] not in towns:
            towns.append(place["township"])
    return towns, places


def _validated(
    db: sqlite_utils.Database, county: str, values: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The row to store and the work IDs, from form / CSV / CLI values (all strings)."""
    code = parse_code(values.get("code"))
    if not code:
        raise ActivityError(f"authorisation code must look like {CODE_FORMAT}")
    organisation = _nfkc(values.get("organisation")).strip()
    leader = _nfkc(values.get("leader")).strip()
    authorised_by = _nfkc(values.get("authorised_by")).strip() or f"{county}医疗保障局"
    for label, value in (("organisation", organisation), ("leader", leader)):
        if not value:
            raise ActivityError(f"{label} is required")
        if len(value) > MAX_TEXT:
            raise ActivityError(f"{label} is longer than {MAX_TEXT} characters")
    if len(authorised_by) > MAX_TEXT:
        raise ActivityError(f"authorised_by is longer than {MAX_TEXT} characters")
    start, end = parse_date(values.get("start")), parse_date(values.get("end"))
    if not start or not end:
        raise ActivityError("start and end must be dates (2025-05-20)")
    if end < start:
        raise ActivityError("end is before start")
    work_ids = []
    for raw in split_list(values.get("work_ids")):
        work_id = normalise_work_id(raw)
        if not _WORK_ID.match(work_id):
            raise ActivityError(f"work ID {raw!r}: 3 to 24 letters and digits")
        if work_id not in work_ids:
            work_ids.append(work_id)
    towns, places = _resolve_places(
        db, county, split_list(values.get("townships")), split_list(values.get("villages"))
    )
    row = {
        "code": code,
        "county": county,
        "organisation": organisation,
        "organisation_norm": normalise_organisation(organisation),
        "leader": leader,
        "townships": json.dumps(towns, ensure_ascii=False),
        "villages": json.dumps(places, ensure_ascii=False),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "authorised_by": authorised_by,
    }
    return row, work_ids


def save(
    db: sqlite_utils.Database,
    vault: Vault,
    county: str,
    values: dict[str, Any],
    actor: Actor,
    activity_id: int | None = None,
) -> dict[str, Any]:
    """Create an activity (or, with ``activity_id``, replace its fields); audited.

    ``values``: code, organisation, leader, work_ids, townships, villages, start, end,
    authorised_by (lists as text separated by 、 ; or spaces)."""
    row, work_ids = _validated(db, county, values)
    leader = row.pop("leader")
    row.update(leader_enc=vault.encrypt(leader), leader_masked=_mask_name(leader))
    stamp = now_iso()
    clash = get_by_code(db, row["code"])
    if clash and clash["id"] != activity_id:
        raise ActivityError(f"code {row['code']} is already registered")
    with db.atomic():
        if activity_id is None:
            row.update(created_at=stamp, created_by=actor.label)
            activity_id = new_id(db.table("registry_activities").insert(row))
            action = "registry_create"
        else:
            current = get(db, activity_id)
            if current is None or current["county"] != county:
                raise ActivityError(f"no activity {activity_id} in {county}")
            row.update(updated_at=stamp, updated_by=actor.label)
            db.table("registry_activities").update(activity_id, row)
            db.execute("DELETE FROM registry_members WHERE activity_id = ?", [activity_id])
            action = "registry_edit"
        db.table("registry_members").insert_all(
            {
                "activity_id": activity_id,
                "work_id_hash": vault.hash(_work_id_key(w)),
                "work_id_enc": vault.encrypt(_work_id_key(w)),
                "work_id_masked": _mask_work_id(w),
            }
            for w in work_ids
        )
    dates = f"{row['start_date']}..{row['end_date']}"
    _audit(db, actor, action, f"{row['code']} #{activity_id} {dates}")
    return get(db, activity_id) or {}


def get(db: sqlite_utils.Database, activity_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM registry_activities WHERE id = ?", [activity_id]))
    return _decoded(rows[0]) if rows else None


def get_by_code(db: sqlite_utils.Database, code: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM registry_activities WHERE code = ?", [code]))
    return _decoded(rows[0]) if rows else None


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "townships": json.loads(row["townships"] or "[]"),
        "villages": json.loads(row["villages"] or "[]"),
    }


def for_county(db: sqlite_utils.Database, county: str) -> list[dict[str, Any]]:
    """The county's activities, the latest ending first, with their masked work IDs."""
    rows = [
        _decoded(r)
        for r in db.query(
            "SELECT * FROM registry_activities WHERE county = ? ORDER BY end_date DESC, id DESC",
            [county],
        )
    ]
    masked: dict[int, list[str]] = {}
    for member in db.query(
        "SELECT m.activity_id, m.work_id_masked FROM registry_members m"
        " JOIN registry_activities a ON a.id = m.activity_id WHERE a.county = ? ORDER BY m.id",
        [county],
    ):
        masked.setdefault(member["activity_id"], []).append(member["work_id_masked"])
    for row in rows:
        row["work_ids_masked"] = masked.get(row["id"], [])
    return rows


def form_values(db: sqlite_utils.Database, vault: Vault, activity: dict[str, Any]) -> dict:
    """The activity as the edit form shows it (leader and work IDs decrypted)."""
    work_ids = [
        (vault.decrypt(m["work_id_enc"]) or "").removeprefix("workid:")
        for m in db.query(
            "SELECT work_id_enc FROM registry_members WHERE activity_id = ? ORDER BY id",
            [activity["id"]],
        )
    ]
    places = activity["villages"]
    return {
        "code": activity["code"],
        "organisation": activity["organisation"],
        "leader": vault.decrypt(activity["leader_enc"]) or "",
        "work_ids": " ".join(work_ids),
        "townships": " ".join(activity["townships"]) if not places else "",
        "villages": " ".join(p["township"] + p["village"] for p in places),
        "start": activity["start_date"],
        "end": activity["end_date"],
        "authorised_by": activity["authorised_by"],
    }


def status(activity: dict[str, Any], day: dt.date | None = None) -> str:
    """revoked / upcoming / running / ended."""
    day = day or today()
    if activity.get("revoked_at"):
        return "revoked"
    if day.isoformat() < activity["start_date"]:
        return "upcoming"
    return "ended" if day.isoformat() > activity["end_date"] else "running"


def revoke(
    db: sqlite_utils.Database, activity_id: int, county: str, reason: str, actor: Actor
) -> dict[str, Any]:
    activity = get(db, activity_id)
    if activity is None or activity["county"] != county:
        raise ActivityError(f"no activity {activity_id} in {county}")
    if activity["revoked_at"]:
        raise ActivityError(f"{activity['code']} is already revoked")
    reason = _nfkc(reason).strip()[:200]
    with db.atomic():
        db.table("registry_activities").update(
            activity_id,
            {"revoked_at": now_iso(), "revoked_by": actor.label, "revoke_reason": reason},
        )
    _audit(db, actor, "registry_revoke", f"{activity['code']} #{activity_id}: {reason}")
    return get(db, activity_id) or {}


def mark_forged(
    db: sqlite_utils.Database, code_text: str, reason: str, county: str, actor: Actor
) -> str:
    """Record that letters with this code are forged; the check then says so at once."""
    code = parse_code(code_text)
    if not code:
        raise ActivityError(f"authorisation code must look like {CODE_FORMAT}")
    reason = _nfkc(reason).strip()[:200]
    if not reason:
        raise ActivityError("give a reason (where the forged letter was seen)")
    with db.atomic():
        db.table("registry_forged_codes").upsert(
            {
                "code": code,
                "county": county,
                "reason": reason,
                "reported_by": actor.label,
                "reported_at": now_iso(),
            },
            pk="code",
        )
    _audit(db, actor, "registry_forged", f"{code}: {reason}")
    return code


def forged(db: sqlite_utils.Database, code: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM registry_forged_codes WHERE code = ?", [code]))
    return rows[0] if rows else None


def forged_for_county(db: sqlite_utils.Database, county: str) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT * FROM registry_forged_codes WHERE county = ? ORDER BY reported_at DESC",
            [county],
        )
    )


# -- CSV import ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "code",
    "organisation",
    "leader",
    "work_ids",
    "townships",
    "villages",
    "start",
    "end",
    "authorised_by",
)
REQUIRED_COLUMNS = ("code", "organisation", "leader", "start", "end")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, why)


def import_csv(
    db: sqlite_utils.Database, vault: Vault, text: str, county: str, actor: Actor
) -> ImportResult:
    """Load activities from CSV text (columns: CSV_COLUMNS). A row whose code is already
    registered in the county updates it. A bad row is reported with its line number and
    skipped; the good rows are saved. Raises ActivityError only when columns are missing."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        fields = [(f or "").strip() for f in reader.fieldnames or []]
    except csv.Error as exc:  # a NUL byte, a field over 128 KB: no header to read
        raise ActivityError(f"the first line is not CSV text ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in fields]
    if missing:
        raise ActivityError(f"missing column(s): {', '.join(missing)}")
    reader.fieldnames = fields
    result = ImportResult()

    def bad_line(line: int, reason: str) -> None:
        result.errors.append((line, reason))

    for line, row in enumerate(readable_rows(reader, bad_line), start=2):
        if row is None:
            continue
        values = {k: (v or "") for k, v in row.items() if k}
        if not any(v.strip() for v in values.values()):
            continue
        try:
            existing = get_by_code(db, parse_code(values.get("code")) or "")
            if existing and existing["county"] != county:
                raise ActivityError(f"code is registered in {existing['county']}")
            save(db, vault, county, values, actor, existing["id"] if existing else None)
        except ActivityError as exc:
            result.errors.append((line, str(exc)))
            continue
        if existing:
            result.updated += 1
        else:
            result.created += 1
    detail = f"{result.created} created, {result.updated} updated, {len(result.errors)} errors"
    _audit(db, actor, "registry_import", detail)
    return result


# -- the check -----------------------------------------------------------------------------


@dataclass
class Verdict:
    """The answer to "is this team real?".

    status: authorised (here, that day) / elsewhere (registered, but not for this
    village or day: ``reason`` not_here, expired or not_started) / no_record (also when
    the activity was revoked, ``reason`` revoked, or the code is real but the work ID is
    not on its list, ``reason`` unknown_member) / forged."""

    status: str
    reason: str = ""
    activity: dict[str, Any] | None = None
    matched_by: str = ""  # code / work_id / organisation
    forged: dict[str, Any] | None = None


def _village_keys(db: sqlite_utils.Database, village: str) -> tuple[set[tuple[str, str]], str]:
    """(township, village) pairs the villager's place can mean, and its bare name."""
    rows, how = jurisdiction.find_villages(db, village)
    pairs = {(r["township"], r["village"]) for r in rows} if how != "near-ambiguous" else set()
    return pairs, jurisdiction.normalise(village)


def covers(db: sqlite_utils.Database, activity: dict[str, Any], village: str) -> bool:
    """Whether the activity was authorised in ``village`` (as a villager writes it)."""
    pairs, norm = _village_keys(db, village)
    places = activity["villages"]
    if places:
        for place in places:
            if pairs and (place["township"], place["village"]) in pairs:
                return True
            if not pairs and jurisdiction.normalise(place["village"]) == norm:
                return True
        return False
    return any(town in activity["townships"] for town, _village in pairs)


def _candidates(
    db: sqlite_utils.Database,
    vault: Vault,
    code: str | None,
    work_id: str | None,
    organisation: str | None,
) -> tuple[list[dict[str, Any]], str]:
    if code:
        found = get_by_code(db, code)
        return ([found] if found else []), "code"
    if work_id:
        ids = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT activity_id FROM registry_members WHERE work_id_hash = ?",
                [vault.hash(_work_id_key(work_id))],
            ).fetchall()
        ]
        return [a for a in (get(db, i) for i in ids) if a], "work_id"
    if organisation and len(normalise_organisation(organisation)) >= 2:
        rows = [_decoded(r) for r in db.query("SELECT * FROM registry_activities ORDER BY id")]
        return [r for r in rows if _organisation_matches(organisation, r["organisation_norm"])], (
            "organisation"
        )
    return [], ""


def _has_member(db: sqlite_utils.Database, vault: Vault, activity_id: int, work_id: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM registry_members WHERE activity_id = ? AND work_id_hash = ?",
            [activity_id, vault.hash(_work_id_key(work_id))],
        ).fetchone()
    )


def check(
    db: sqlite_utils.Database,
    vault: Vault,
    *,
    code: str | None = None,
    work_id: str | None = None,
    organisation: str | None = None,
    village: str | None = None,
    day: dt.date | None = None,
) -> Verdict:
    """Is a team showing this code / work ID / organisation authorised in ``village``
    on ``day`` (default: today in Beijing)? The strongest evidence given is used: the
    code, else the work ID, else the organisation's name (the weakest: anyone can say it)."""
    day = day or today()
    code = find_code(code) if code else None
    work_id = normalise_work_id(work_id) if work_id else None
    if code:
        reported = forged(db, code)
        if reported:
            return Verdict("forged", matched_by="code", forged=reported)
    candidates, matched_by = _candidates(db, vault, code, work_id, organisation)
    live = [a for a in candidates if not a["revoked_at"]]
    if not candidates:
        return Verdict("no_record", matched_by=matched_by)
    if not live:
        return Verdict("no_record", "revoked", candidates[0], matched_by)
    if code and work_id and not _has_member(db, vault, live[0]["id"], work_id):
        # A real code copied onto a forged letter: the badge is not on its list.
        return Verdict("no_record", "unknown_member", live[0], matched_by)
    here = [a for a in live if village and covers(db, a, village)]
    for activity in here:
        if status(activity, day) == "running":
            return Verdict("authorised", activity=activity, matched_by=matched_by)
    if here:
        activity = here[0]
        reason = "expired" if day.isoformat() > activity["end_date"] else "not_started"
        return Verdict("elsewhere", reason, activity, matched_by)
    running = [a for a in live if status(a, day) == "running"]
    return Verdict("elsewhere", "not_here", (running or live)[0], matched_by)
