"""Reports: created at a reporter's first message, filled in as answers come, triaged by
the police. This module owns the ``reports`` table and the tables hanging off it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import secrets
import sqlite3
from typing import Any

import sqlite_utils

import responses
from messaging import outbox
from reporting.jurisdiction import Route, catch_all_county, default_county
from storage.clock import now_iso as now
from storage.privacy import Vault, redact_id_numbers
from storage.tables import new_id

log = logging.getLogger(__name__)

# No 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B: a reference read aloud or copied by hand survives.
REF_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"
CATEGORY_BY_INTENT = {
    "report_qr_code": "qr_code",
    "report_phone_borrowing": "phone_borrowing",
    "report_suspicious_visit": "suspicious_visit",
    "already_victim": "victim",
}
CATEGORIES = ("qr_code", "phone_borrowing", "suspicious_visit", "victim", "other")
PRIORITIES = {"urgent": 0, "high": 1, "normal": 2}
STATUSES = ("new", "triaged", "assigned", "resolved", "false_alarm", "duplicate", "withdrawn")
CLOSED = ("resolved", "false_alarm", "duplicate", "withdrawn")
# Allowed moves. A closed report can be reopened (back to triaged), nothing skips back to new.
TRANSITIONS = {
    "new": {"triaged", "assigned", "resolved", "false_alarm", "duplicate"},
    "triaged": {"assigned", "resolved", "false_alarm", "duplicate"},
    "assigned": {"triaged", "resolved", "false_alarm", "duplicate"},
    "resolved": {"triaged"},
    "false_alarm": {"triaged"},
    "duplicate": {"triaged"},
    "withdrawn": {"triaged"},
}
# An unfinished form reaches the queue after this long: a reporter who stops answering
# still gets heard.
PARTIAL_VISIBLE_AFTER = dt.timedelta(minutes=30)

_MONEY_LOST = re.compile(
    r"转账|转了钱|转了\d|钱被|钱没了|被骗了?钱|被骗走|损失|被扣|扣了钱|盗刷|被刷走|骗了\d+"
)
_HERE_NOW = re.compile(r"正在|还在|就在|此刻|这会儿|人还没走|没走|^现在$|现在在|现在就")
_CODE_GIVEN = re.compile(
    r"验证码.{0,10}(给|告诉|发|报|念|说)|(给|告诉|发|报|念|说)了?.{0,10}验证码"
)
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


class TransitionError(ValueError):
    pass


def parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def new_ref(db: sqlite_utils.Database) -> str:
    for length in (4, 4, 4, 5, 5, 6):
        ref = "R" + "".join(secrets.choice(REF_ALPHABET) for _ in range(length))
        if not db.execute("SELECT 1 FROM reports WHERE ref = ?", [ref]).fetchone():
            return ref
    raise RuntimeError("could not find a free report reference")


def priority_of(report: dict[str, Any]) -> str:
    """urgent: a victim, money lost, they are here now; high: phone borrowed, SMS code
    given, a cadre's report; normal: the rest."""
    text = " ".join(
        report.get(k) or "" for k in ("summary", "details", "occurred_text", "village_text")
    )
    occurred = (report.get("occurred_text") or "").strip()
    if (
        report.get("category") == "victim"
        or _MONEY_LOST.search(text)
        or _HERE_NOW.search(text)
        or _HERE_NOW.search(occurred)
    ):
        return "urgent"
    if report.get("category") == "phone_borrowing" or report.get("is_cadre"):
        return "high"
    if _CODE_GIVEN.search(text):
        return "high"
    return "normal"


def here_now(text: str) -> bool:
    """The suspects are there now ("还在村委会门口", "人还没走"): the report is urgent."""
    return bool(_HERE_NOW.search(text))


def get(db: sqlite_utils.Database, report_id: int) -> dict[str, Any] | None:
    rows = _rows(db, "SELECT * FROM reports WHERE id = ?", [report_id])
    return rows[0] if rows else None


def get_by_ref(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    rows = _rows(db, "SELECT * FROM reports WHERE ref = ?", [ref.strip().upper()])
    return rows[0] if rows else None


def create(
    db: sqlite_utils.Database,
    vault: Vault,
    *,
    channel: str,
    contact: str,
    intent: str,
    summary: str,
    cadre: dict[str, Any] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """A new report from the reporter's first message; saved before any question.

    ``source`` ("provider:message id") makes it idempotent: the same message handled
    again (a provider's retry after a crash) returns the report it already opened."""
    if source:
        existing = by_source(db, source)
        if existing:
            return existing
    stamp = now()
    report: dict[str, Any] = {
        "ref": new_ref(db),
        "category": CATEGORY_BY_INTENT.get(intent, "other"),
        "intent": intent,
        "status": "new",
        "channel": channel,
        **vault.protect(contact),
        "is_cadre": 1 if cadre else 0,
        "summary": redact_id_numbers(summary),
        "routing": "pending",
        # Until the village is known, the county queue (the supervisor) holds it.
        "county": default_county(db),
        "created_at": stamp,
        "updated_at": stamp,
    }
    report["suspect_phones"] = " ".join(sorted(set(_PHONE.findall(summary)))) or None
    report["priority"] = priority_of(report)
    report["priority_rank"] = PRIORITIES[report["priority"]]
    report["source"] = source
    try:
        with db.atomic():
            report["id"] = _insert(db, "reports", report)
    except sqlite3.IntegrityError:
        existing = by_source(db, source) if source else None
        if existing is None:
            raise
        return existing  # the same message, handled at the same moment by another worker
    return report


# Reports are written on the answer path (a report opened, a question answered): plain
# statements, not sqlite-utils' table methods, which read the table list and the
# table's columns and primary key (sqlite_master, PRAGMA table_info) on every call and
# read the row back before an update: several statements for each one written
# (docs/benchmarks.md). Column names are the code's own, quoted; values bound.


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _stored(value: Any) -> Any:
    # What sqlite-utils stores for these (jsonify_if_needed): JSON and ISO text.
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=repr, ensure_ascii=False)
    if isinstance(value, (dt.date, dt.time)):  # datetime too (a date subclass)
        return value.isoformat()
    return value


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """The rows of a SELECT as dicts, as ``db.query`` gives them, without the savepoint
    sqlite-utils puts around every query (two more statements)."""
    cursor = db.execute(sql, params)
    keys = [column[0] for column in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def _insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """INSERT ``row`` into ``table`` (an integer ``id`` primary key); its new id."""
    columns = ", ".join(_ident(c) for c in row)
    marks = ", ".join("?" for _ in row)
    sql = f"INSERT INTO {_ident(table)} ({columns}) VALUES ({marks}) RETURNING id"  # noqa: S608 - quoted names, bound values
    # fetchall: the statement is finished before the transaction commits.
    ((new,),) = db.execute(sql, [_stored(v) for v in row.values()]).fetchall()
    if not isinstance(new, int):
        raise TypeError(f"insert into {table} gave no integer id: {new!r}")
    return new


def _update(db: sqlite_utils.Database, table: str, row_id: int, fields: dict[str, Any]) -> None:
    if not fields:
        return
    sets = ", ".join(f"{_ident(c)} = ?" for c in fields)
    db.execute(
        f"UPDATE {_ident(table)} SET {sets} WHERE id = ?",  # noqa: S608 - quoted names, bound values
        [*(_stored(v) for v in fields.values()), row_id],
    )


def by_source(db: sqlite_utils.Database, source: str) -> dict[str, Any] | None:
    rows = _rows(db, "SELECT * FROM reports WHERE source = ?", [source])
    return rows[0] if rows else None


def update(db: sqlite_utils.Database, report_id: int, **fields: Any) -> dict[str, Any]:
    """Change fields of a report and recompute its priority (never lowered by an answer:
    "they are here now" said once stays urgent).

    Only the given fields (and the derived priority, phones, updated_at) are written: a
    villager's answer arriving during an officer's status change (or a purge) must not
    put back the columns the other wrote in between."""
    report = get(db, report_id)
    if report is None:
        raise KeyError(report_id)
    for key in ("details", "village_text", "occurred_text", "summary"):
        if fields.get(key):
            fields[key] = redact_id_numbers(fields[key])
    before = dict(report)
    report.update(fields)
    phones = set((report.get("suspect_phones") or "").split())
    phones |= set(_PHONE.findall(" ".join(report.get(k) or "" for k in ("details", "summary"))))
    report["suspect_phones"] = " ".join(sorted(phones)) or None
    priority = priority_of(report)
    rank = report.get("priority_rank")
    if PRIORITIES[priority] > (rank if rank is not None else 2):
        priority = report["priority"]
    report["priority"], report["priority_rank"] = priority, PRIORITIES[priority]
    report["updated_at"] = now()
    derived = ("suspect_phones", "priority", "priority_rank")
    changed = {k: report[k] for k in derived if report[k] != before.get(k)}
    changed.update({k: v for k, v in fields.items() if k != "id"})
    changed["updated_at"] = report["updated_at"]
    with db.atomic():
        _update(db, "reports", report_id, changed)
    return report


def append_details(db: sqlite_utils.Database, report_id: int, text: str) -> dict[str, Any]:
    report = get(db, report_id) or {}
    details = "\n".join(t for t in (report.get("details"), text) if t)
    return update(db, report_id, details=details)


def apply_route(
    db: sqlite_utils.Database, report_id: int, route: Route, village_text: str | None = None
) -> dict[str, Any]:
    fields: dict[str, Any] = {"routing": route.status, "routing_note": route.note or None}
    if village_text is not None:
        fields["village_text"] = village_text
    if route.status == "routed" and route.match:
        fields.update(
            village=route.match["village"],
            township=route.match["township"],
            county=route.match["county"],
            station_code=route.match["station_code"],
        )
    else:
        # Unrouted (or waiting for the township): the county queue holds it.
        fields.update(village=None, township=None, county=route.county, station_code=None)
    return update(db, report_id, **fields)


def submit(db: sqlite_utils.Database, report_id: int) -> dict[str, Any]:
    """The form is finished: the report enters the queue now rather than in 30 minutes.
    (``incidents.submit`` does this and links the report to others: what the bot calls.)"""
    report = get(db, report_id) or {}
    fields: dict[str, Any] = {
        "form_step": None,
        "submitted_at": report.get("submitted_at") or now(),
    }
    if report.get("routing") in ("pending", "ambiguous") and not report.get("station_code"):
        fields["routing"] = "unrouted"
    return update(db, report_id, **fields)


def withdraw(db: sqlite_utils.Database, report_id: int) -> bool:
    """The reporter said 取消: kept (nothing sent is lost) but out of the default queue.

    Only a report still ``new``: once the police work on it, it stays theirs (the
    reporter's wish is noted instead). One conditional UPDATE, so an officer's status
    change at the same moment wins or loses cleanly. True when withdrawn."""
    stamp = now()
    with db.atomic():
        cursor = db.execute(
            "UPDATE reports SET status = 'withdrawn', form_step = NULL, closed_at = ?,"
            " updated_at = ? WHERE id = ? AND status = 'new'",
            [stamp, stamp, report_id],
        )
    return cursor.rowcount == 1


def add_message(db: sqlite_utils.Database, report_id: int, direction: str, text: str) -> None:
    with db.atomic():
        _insert(
            db,
            "report_messages",
            {
                "report_id": report_id,
                "direction": direction,
                "text": redact_id_numbers(text[:4000]),
                "created_at": now(),
            },
        )


def add_attachment(db: sqlite_utils.Database, report_id: int, url: str, content_type: str) -> int:
    with db.atomic():
        return new_id(
            db.table("attachments").insert(
                {
                    "report_id": report_id,
                    "url": url[:2000],
                    "content_type": (content_type or "")[:100],
                    "created_at": now(),
                }
            )
        )


def messages(db: sqlite_utils.Database, report_id: int) -> list[dict[str, Any]]:
    return _rows(db, "SELECT * FROM report_messages WHERE report_id = ? ORDER BY id", [report_id])


def keep_attachment_copy(
    db: sqlite_utils.Database, attachment_id: int, url: str, content_type: str
) -> None:
    """Point an attachment at our own copy of the photo (the provider's URL is dropped:
    it may carry a token and soon stops working)."""
    with db.atomic():
        db.table("attachments").update(
            attachment_id, {"url": url[:2000], "content_type": content_type}
        )


def attachment(db: sqlite_utils.Database, report_id: int, attachment_id: int) -> dict | None:
    rows = list(
        db.query(
            "SELECT * FROM attachments WHERE id = ? AND report_id = ?", [attachment_id, report_id]
        )
    )
    return rows[0] if rows else None


def attachments(db: sqlite_utils.Database, report_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM attachments WHERE report_id = ? ORDER BY id", [report_id]))


def notes(db: sqlite_utils.Database, report_id: int) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT n.*, o.username FROM report_notes n LEFT JOIN officers o"
            " ON o.id = n.officer_id WHERE n.report_id = ? ORDER BY n.id",
            [report_id],
        )
    )


def add_note(db: sqlite_utils.Database, report_id: int, officer_id: int, text: str) -> None:
    with db.atomic():
        db.table("report_notes").insert(
            {
                "report_id": report_id,
                "officer_id": officer_id,
                "text": text[:4000],
                "created_at": now(),
            }
        )
        db.table("reports").update(report_id, {"updated_at": now()})


def latest_for_contact(
    db: sqlite_utils.Database, contact_hash: str, limit: int = 3
) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT * FROM reports WHERE contact_hash = ? ORDER BY id DESC LIMIT ?",
            [contact_hash, limit],
        )
    )


# --- what an officer may see ------------------------------------------------------------


def scope(officer: dict[str, Any]) -> tuple[str, list[Any]]:
    """SQL condition limiting reports to the officer's station (a supervisor: the county;
    the supervisor of the catch-all county also gets reports whose county is not known,
    so nothing unroutable is dropped -- see ``with_catch_all``)."""
    if officer["role"] == "supervisor":
        if officer.get("catch_all"):
            return "(r.county = ? OR r.county IS NULL)", [officer["county"]]
        return "r.county = ?", [officer["county"]]
    return "r.station_code = ?", [officer["station_code"]]


def with_catch_all(
    db: sqlite_utils.Database, officer: dict[str, Any], configured: str | None = None
) -> dict[str, Any]:
    """The officer, marked ``catch_all`` when their county's queue holds reports with no
    county (``jurisdiction.catch_all_county``: HOTLINE_DEFAULT_COUNTY, or the only county)."""
    county = catch_all_county(db, configured)
    return {**officer, "catch_all": bool(county) and officer["county"] == county}


def _visible() -> str:
    # An unfinished form is shown 30 minutes after it started (PARTIAL_VISIBLE_AFTER).
    return "(r.submitted_at IS NOT NULL OR r.created_at <= ?)"


def visible_since(moment: dt.datetime | None = None) -> str:
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return (moment - PARTIAL_VISIBLE_AFTER).isoformat(timespec="seconds")


def get_scoped(
    db: sqlite_utils.Database, officer: dict[str, Any], report_id: int
) -> dict[str, Any] | None:
    """The report if this officer may see it, else None (the page answers 404)."""
    where, params = scope(officer)
    rows = list(
        db.query(
            f"SELECT r.* FROM reports r WHERE r.id = ? AND {where} AND {_visible()}",  # noqa: S608
            [report_id, *params, visible_since()],
        )
    )
    return rows[0] if rows else None


def queue(
    db: sqlite_utils.Database,
    officer: dict[str, Any],
    *,
    status: str | None = None,
    category: str | None = None,
    village: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    at: dt.datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The officer's queue, most urgent first, then longest waiting.

    Partial reports (form not finished) appear once they are 30 minutes old; withdrawn
    and closed reports only when their status is asked for ("open" is the default).
    """
    where, params = scope(officer)
    clauses = [where, _visible()]
    params.append(visible_since(at))
    if status in STATUSES:
        clauses.append("r.status = ?")
        params.append(status)
    elif status != "all":
        clauses.append("r.status IN ('new', 'triaged', 'assigned')")
    if category in CATEGORIES:
        clauses.append("r.category = ?")
        params.append(category)
    if village:
        clauses.append("(r.village LIKE ? OR r.village_text LIKE ?)")
        params += [f"%{village}%", f"%{village}%"]
    # Dates are the Beijing calendar day the report came in.
    if date_from:
        clauses.append("date(r.created_at, '+8 hours') >= ?")
        params.append(date_from)
    if date_to:
        clauses.append("date(r.created_at, '+8 hours') <= ?")
        params.append(date_to)
    # Only the fixed clauses above are joined in; every value is a bound parameter.
    where_sql = " AND ".join(clauses)
    sql = (
        "SELECT r.*, o.username AS assigned_username FROM reports r"  # noqa: S608
        f" LEFT JOIN officers o ON o.id = r.assigned_to WHERE {where_sql}"
        " ORDER BY r.priority_rank, r.created_at LIMIT ?"
    )
    return list(db.query(sql, [*params, limit]))


def waited(report: dict[str, Any], at: dt.datetime | None = None) -> dt.timedelta:
    """How long the report has waited: until it was closed, or until now."""
    start = parse_time(report["created_at"])
    end = parse_time(report.get("closed_at")) or at or dt.datetime.now(dt.timezone.utc)
    return end - start if start else dt.timedelta(0)


def set_status(
    db: sqlite_utils.Database,
    report: dict[str, Any],
    status: str,
    merged_into: int | None = None,
) -> dict[str, Any]:
    current = report["status"]
    if status not in TRANSITIONS.get(current, set()):
        raise TransitionError(f"{current} → {status} is not allowed")
    fields: dict[str, Any] = {"status": status}
    if status == "duplicate":
        if not merged_into or merged_into == report["id"]:
            raise TransitionError("a duplicate needs the report it duplicates")
        fields["merged_into"] = merged_into
    else:
        fields["merged_into"] = None
    fields["closed_at"] = now() if status in CLOSED else None
    return update(db, report["id"], **fields)


def assign(db: sqlite_utils.Database, report: dict[str, Any], officer_id: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"assigned_to": officer_id}
    if report["status"] in ("new", "triaged"):
        fields["status"] = "assigned"
    return update(db, report["id"], **fields)


def record_notification(db: sqlite_utils.Database, report_id: int, status: str) -> None:
    """What became of the reporter's notice (queued, then sent / delivered / failed /
    unknown / undeliverable: the outbox drain records each final outcome here)."""
    with db.atomic():  # a report deleted meanwhile is no error: the notice is recorded
        db.execute(
            "UPDATE reports SET notify_status = ?, notify_at = ? WHERE id = ?",
            [status, now(), report_id],
        )


def queue_notification(db: sqlite_utils.Database, vault: Vault, report: dict[str, Any]) -> str:
    """Tell the reporter their report was closed (resolved / false alarm): one outbox row,
    sent by the drain through their channel (a WeChat reporter outside the 48-hour window
    by SMS, when a number of theirs is known). Returns the notice's status now:
    ``queued``, or ``undeliverable`` (web chat cannot be pushed to; address purged)."""
    key = "notify_resolved" if report["status"] == "resolved" else "notify_false_alarm"
    text = responses.text(f"report_form.{key}", ref=report["ref"])
    contact = vault.decrypt(report["contact_enc"]) if report.get("contact_enc") else None
    with db.atomic():
        status = "undeliverable"
        if contact:
            _row, state = outbox.enqueue(
                db,
                vault,
                kind="report_update",
                channel=report["channel"],
                contact=contact,
                text=text,
                # One notice per closing: a report reopened and closed again says so again.
                idem_key=f"report_update:{report['id']}:{report['status']}:{report['closed_at']}",
                # A reply to the villager's own report, as it was when sent at once.
                urgent=True,
                contact_hash=report.get("contact_hash"),
                source=f"report:{report['id']}",
            )
            status = "queued" if state == "pending" else state
        record_notification(db, report["id"], status)
    return status


def similar(
    db: sqlite_utils.Database, officer: dict[str, Any], report: dict[str, Any]
) -> list[dict[str, Any]]:
    """Reports this officer may see that share a phone number (the reporter's or one the
    visitors used) or the same village on the same day."""
    where, params = scope(officer)
    conditions, values = [], []
    if report.get("contact_hash"):
        conditions.append("r.contact_hash = ?")
        values.append(report["contact_hash"])
    for number in (report.get("suspect_phones") or "").split():
        conditions.append("(' ' || r.suspect_phones || ' ') LIKE ?")
        values.append(f"% {number} %")
    if report.get("village"):
        conditions.append(
            "(r.village = ? AND date(r.created_at, '+8 hours') = date(?, '+8 hours'))"
        )
        values += [report["village"], report["created_at"]]
    if not conditions:
        return []
    sql = (
        f"SELECT r.* FROM reports r WHERE r.id != ? AND {where} AND {_visible()}"  # noqa: S608
        f" AND ({' OR '.join(conditions)}) ORDER BY r.id DESC LIMIT 20"
    )
    return list(db.query(sql, [report["id"], *params, visible_since(), *values]))


EXPORT_COLUMNS = (
    "ref",
    "created_at",
    "priority",
    "status",
    "category",
    "is_cadre",
    "county",
    "township",
    "village",
    "village_text",
    "station_code",
    "routing",
    "occurred_text",
    "details",
    "contact_masked",
    "assigned_username",
    "closed_at",
)


# What makes a spreadsheet read a cell as a formula (OWASP CSV injection), in ASCII and
# full width (a Chinese input method types ＝ and ＋).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
# Spaces and invisible marks a formula may hide behind.
_BLANKS = " \u3000\u00a0\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202d\u202e"


def _csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ runs as a formula in Excel: a villager's text must not,
    # nor one whose formula follows spaces, zero-width or direction marks.
    if isinstance(value, str) and (
        value[:1] in _FORMULA_START or value.lstrip(_BLANKS)[:1] in _FORMULA_START
    ):
        return "'" + value
    return value


def export_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_csv_safe(row.get(c)) for c in EXPORT_COLUMNS])
    # The BOM lets Excel on a police PC open the Chinese text as UTF-8.
    return "\ufeff" + out.getvalue()


def stats(
    db: sqlite_utils.Database, officer: dict[str, Any], days: int = 30
) -> dict[str, list[tuple[str, int]]]:
    """Reports per Beijing day and per village over the last ``days`` days (kept after
    purging: these columns are not personal)."""
    where, params = scope(officer)
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
    per_day = db.execute(
        f"SELECT date(r.created_at, '+8 hours') d, count(*) FROM reports r WHERE {where}"  # noqa: S608
        " AND r.created_at >= ? AND r.status != 'withdrawn' GROUP BY d ORDER BY d",
        [*params, since],
    ).fetchall()
    per_village = db.execute(
        f"SELECT coalesce(r.village, '(未匹配)') v, count(*) c FROM reports r WHERE {where}"  # noqa: S608
        " AND r.created_at >= ? AND r.status != 'withdrawn' GROUP BY v ORDER BY c DESC, v"
        " LIMIT 20",
        [*params, since],
    ).fetchall()
    return {"per_day": [tuple(r) for r in per_day], "per_village": [tuple(r) for r in per_village]}
