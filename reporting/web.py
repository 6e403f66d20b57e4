"""The police triage queue under /police: login, queue, report detail, actions, export.

Every page needs a signed-in officer (reporting/access.py, the accounts' one sign-in);
every query goes through ``reports.scope`` so an officer sees only their station (a
supervisor: their county), and a report outside it is a 404, not a 403 (which would
confirm it exists). Views and changes are audited.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.routing import BuildError

from accounts import audit, officers
from accounts.web import client_ip, login_page, safe_next, secure_headers, sign_out
from messaging import outbox
from reporting import incidents, jurisdiction, officer_pages, reports, scam_verdicts
from reporting.access import police_required as login_required
from reporting.access import scoped_incident, scoped_report
from storage import uploads
from storage.db import get_db
from storage.privacy import get_vault
from weburl import same_site_path

log = logging.getLogger(__name__)
bp = Blueprint(
    "police",
    __name__,
    url_prefix="/police",
    template_folder="templates",
)

STATUS_LABELS = {
    "new": "新报告",
    "triaged": "已查看",
    "assigned": "已指派",
    "resolved": "已处理",
    "false_alarm": "误报",
    "duplicate": "重复",
    "withdrawn": "举报人取消",
}
CATEGORY_LABELS = {
    "qr_code": "扫码领礼品",
    "phone_borrowing": "借手机",
    "suspicious_visit": "可疑上门",
    "victim": "已受骗",
    "other": "其他",
}
PRIORITY_LABELS = {"urgent": "紧急", "high": "高", "normal": "一般"}
ROUTING_LABELS = {
    "routed": "已分派",
    "ambiguous": "待确认乡镇",
    "unrouted": "未匹配（县局）",
    "pending": "待填写地点",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BEIJING = dt.timezone(dt.timedelta(hours=8))
# Report ids are SQLite integers: a larger number in the URL is a 404, not an overflow.
REPORT = "<int(max=9223372036854775807):report_id>"


bp.record_once(officer_pages.register)  # the navigation and labels of all officers' pages


@bp.app_template_filter("bj")
def beijing_time(value: str | None) -> str:
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("waited")
def waited_text(report: dict[str, Any]) -> str:
    minutes = int(reports.waited(report).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}小时{minutes}分"
    return f"{hours // 24}天{hours % 24}小时"


@bp.context_processor
def labels() -> dict[str, Any]:
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "CATEGORY_LABELS": CATEGORY_LABELS,
        "PRIORITY_LABELS": PRIORITY_LABELS,
        "ROUTING_LABELS": ROUTING_LABELS,
        "officer": g.get("officer"),
    }


bp.after_request(secure_headers)
_ip = client_ip


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    return login_page(
        "police/base.html",
        "民警登录",
        lambda: safe_next(request.args.get("next"), url_for("police.queue")),
    )


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    sign_out()
    return redirect(url_for("police.login"))


def _filters() -> dict[str, Any]:
    args = request.args
    filters = {
        "status": args.get("status") or None,
        "category": args.get("category") or None,
        "village": (args.get("village") or "").strip()[:50] or None,
        "date_from": args.get("date_from") if _DATE.match(args.get("date_from", "")) else None,
        "date_to": args.get("date_to") if _DATE.match(args.get("date_to", "")) else None,
    }
    return filters


@bp.get("/")
@login_required
def queue() -> ResponseReturnValue:
    filters = _filters()
    rows = reports.queue(get_db(), g.officer, **filters)
    audit.record(get_db(), g.officer, "queue", detail=f"{len(rows)} rows", ip=_ip())
    return render_template(
        "police/queue.html",
        reports=rows,
        filters=filters,
        # The export link carries the filters read, never the raw query: url_for takes
        # _external, _scheme, _anchor and _method from its keywords (a 500, or a link
        # to another scheme built from a crafted URL).
        export_args={k: v for k, v in filters.items() if v},
        statuses=reports.STATUSES,
        open_incidents=incidents.visible(get_db(), g.officer),
    )


@bp.get(f"/reports/{REPORT}")
@login_required
def detail(
    report_id: int, revealed: str | None = None, error: str | None = None
) -> ResponseReturnValue:
    db = get_db()
    report = scoped_report(report_id)
    audit.record(db, g.officer, "view", report_id, ip=_ip())
    merged = reports.get(db, report["merged_into"]) if report.get("merged_into") else None
    station = (
        jurisdiction.station(db, report["station_code"]) if report.get("station_code") else None
    )
    assigned = officers.get(db, report["assigned_to"]) if report.get("assigned_to") else None
    return render_template(
        "police/detail.html",
        report=report,
        station=station,
        merged=merged,
        assigned=assigned,
        messages=reports.messages(db, report_id),
        attachments=[_photo(a) for a in reports.attachments(db, report_id)],
        notes=reports.notes(db, report_id),
        similar=reports.similar(db, g.officer, report),
        history=audit.for_report(db, report_id)[:50],
        colleagues=officers.colleagues(db, g.officer),
        next_statuses=sorted(reports.TRANSITIONS.get(report["status"], ())),
        county_stations=(
            jurisdiction.stations_in_county(db, g.officer["county"])
            if g.officer["role"] == "supervisor"
            else []
        ),
        revealed=revealed,
        error=error,
        scam_keys=scam_verdicts.report_keys(db, report_id),
    ), (400 if error else 200)


def _photo(attachment: dict[str, Any]) -> dict[str, Any]:
    url = attachment.get("url") or ""
    if uploads.name_of(url):  # our own copy: served by `photo` below, behind the login
        link = url_for(
            "police.photo", report_id=attachment["report_id"], attachment_id=attachment["id"]
        )
        return {**attachment, "safe_url": link, "is_image": True}
    # A URL we did not store (a provider's, or one whose download was refused) is
    # never loaded or linked: an <img> of it would tell its owner an officer looked.
    return {**attachment, "safe_url": None, "is_image": False}


@bp.get(f"/reports/{REPORT}/photos/<int(max=9223372036854775807):attachment_id>")
@login_required
def photo(report_id: int, attachment_id: int) -> ResponseReturnValue:
    db = get_db()
    scoped_report(report_id)
    attachment = reports.attachment(db, report_id, attachment_id)
    ref = (attachment or {}).get("url") or ""
    folder = uploads.folder(current_app.config["HOTLINE_VAR"])
    path = uploads.path(folder, ref)
    if path is None or not path.is_file():
        abort(404)  # purged, or a provider URL we never copied
    data = uploads.read(path, get_vault().fernet_key)  # kept encrypted (storage/uploads.py)
    if data is None:
        abort(404)  # written under another key
    audit.record(db, g.officer, "view_photo", report_id, detail=str(attachment_id), ip=_ip())
    response = Response(data, mimetype=uploads.mime_type(ref))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post(f"/reports/{REPORT}/reveal")
@login_required
def reveal(report_id: int) -> ResponseReturnValue:
    report = scoped_report(report_id)
    contact = get_vault().decrypt(report["contact_enc"]) if report.get("contact_enc") else None
    audit.record(get_db(), g.officer, "reveal_contact", report_id, ip=_ip())
    return detail(report_id, revealed=contact or "（已清除）")


@bp.post(f"/reports/{REPORT}/status")
@login_required
def change_status(report_id: int) -> ResponseReturnValue:
    db = get_db()
    report = scoped_report(report_id)
    status = request.form.get("status", "")
    if status == report["status"]:  # the form's default: the current status, unchanged
        return detail(report_id, error="请选择新的状态。")
    merged_into = None
    if status == "duplicate":
        target = reports.get_by_ref(db, request.form.get("merged_into", "")[:10])
        if target is None or reports.get_scoped(db, g.officer, target["id"]) is None:
            return detail(report_id, error="请填写重复的那份举报的编号（如R7Q4K）。")
        merged_into = target["id"]
    try:
        report = reports.set_status(db, report, status, merged_into)
    except reports.TransitionError:
        return detail(report_id, error="这个状态变化不允许。")
    audit.record(db, g.officer, "status", report_id, f"→ {status}", ip=_ip())
    if status in ("resolved", "false_alarm"):
        _notify_reporter(report)
    return redirect(url_for("police.detail", report_id=report_id))


def _notify_reporter(report: dict[str, Any]) -> None:
    """Queue the reporter's notice in the outbox; the drain sends it after this request
    (never inside it), retries it, and records the outcome on the report. The officer's
    action never fails for it."""
    db = get_db()
    try:
        outcome = reports.queue_notification(db, get_vault(), report)
    except Exception:  # e.g. the write lock: the status change stands, the officer sees it
        log.exception("queueing the notice of %s failed", report["ref"])
        outcome = "failed"
        reports.record_notification(db, report["id"], outcome)
    audit.record(db, g.officer, "notify", report["id"], outcome, ip=_ip())
    if outcome == "queued":
        outbox.wake()


@bp.post(f"/reports/{REPORT}/assign")
@login_required
def assign(report_id: int) -> ResponseReturnValue:
    db = get_db()
    report = scoped_report(report_id)
    try:
        officer_id = int(request.form.get("officer_id", ""))
    except ValueError:
        return detail(report_id, error="请选择民警。")
    allowed = {o["id"]: o for o in officers.colleagues(db, g.officer)}
    if officer_id not in allowed:
        return detail(report_id, error="只能指派给本所（本县）的民警。")
    reports.assign(db, report, officer_id)
    audit.record(db, g.officer, "assign", report_id, allowed[officer_id]["username"], ip=_ip())
    return redirect(url_for("police.detail", report_id=report_id))


@bp.post(f"/reports/{REPORT}/note")
@login_required
def note(report_id: int) -> ResponseReturnValue:
    db = get_db()
    scoped_report(report_id)
    text = request.form.get("text", "").strip()
    if not text:
        return detail(report_id, error="备注是空的。")
    reports.add_note(db, report_id, g.officer["id"], text)
    audit.record(db, g.officer, "note", report_id, ip=_ip())
    return redirect(url_for("police.detail", report_id=report_id))


@bp.post(f"/reports/{REPORT}/route")
@login_required
def reroute(report_id: int) -> ResponseReturnValue:
    """A supervisor sends a report (typically an unrouted one) to a station of the county."""
    db = get_db()
    report = scoped_report(report_id)
    if g.officer["role"] != "supervisor":
        abort(403)
    code = request.form.get("station_code", "")
    station = jurisdiction.station(db, code)
    if station is None or station["county"] != g.officer["county"]:
        return detail(report_id, error="请选择本县的派出所。")
    reports.update(
        db,
        report_id,
        station_code=code,
        county=station["county"],
        routing="routed",
        routing_note=f"routed by {g.officer['username']}",
    )
    audit.record(
        db, g.officer, "route", report_id, f"{report.get('station_code')} → {code}", ip=_ip()
    )
    return redirect(url_for("police.detail", report_id=report_id))


@bp.get("/export.csv")
@login_required
def export() -> ResponseReturnValue:
    rows = reports.queue(get_db(), g.officer, **_filters(), limit=100000)
    audit.record(get_db(), g.officer, "export", detail=f"{len(rows)} rows", ip=_ip())
    stamp = dt.datetime.now(BEIJING).strftime("%Y%m%d-%H%M")
    return Response(
        reports.export_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=reports-{stamp}.csv"},
    )


def _bars(pairs: list[tuple[str, int]], width: int = 640, bar: int = 18) -> dict[str, Any]:
    """Geometry of a horizontal bar chart, drawn as inline SVG by the template."""
    top = max((count for _label, count in pairs), default=0) or 1
    label_w, gap = 130, 4
    rows = [
        {
            "label": label,
            "count": count,
            "y": i * (bar + gap),
            "w": max(1, round((width - label_w - 40) * count / top)),
        }
        for i, (label, count) in enumerate(pairs)
    ]
    return {
        "rows": rows,
        "width": width,
        "height": max(len(rows), 1) * (bar + gap),
        "label_w": label_w,
        "bar": bar,
    }


@bp.get("/stats")
@login_required
def stats() -> ResponseReturnValue:
    try:
        days = min(max(int(request.args.get("days", 30)), 1), 366)
    except ValueError:
        days = 30
    data = reports.stats(get_db(), g.officer, days)
    audit.record(get_db(), g.officer, "stats", detail=f"{days} days", ip=_ip())
    return render_template(
        "police/stats.html",
        days=days,
        per_day=_bars(data["per_day"]),
        per_village=_bars(data["per_village"]),
    )


API_FIELDS = (
    "id",
    "ref",
    "created_at",
    "submitted_at",
    "priority",
    "status",
    "category",
    "is_cadre",
    "county",
    "township",
    "village",
    "station_code",
    "routing",
    "contact_masked",
    "assigned_username",
)


@bp.get("/api/reports")
@login_required
def api_reports() -> ResponseReturnValue:
    rows = reports.queue(get_db(), g.officer, **_filters())
    audit.record(get_db(), g.officer, "api_list", detail=f"{len(rows)} rows", ip=_ip())
    return jsonify(
        {
            "reports": [
                {
                    **{k: row.get(k) for k in API_FIELDS},
                    "waited_minutes": int(reports.waited(row).total_seconds() // 60),
                }
                for row in rows
            ]
        }
    )


# --- incidents: linked reports from several villages (reporting/incidents.py) -----------

INCIDENT = "<int(max=9223372036854775807):incident_id>"
KIND_LABELS = {
    "phone": "电话",
    "url": "链接",
    "org": "自称单位",
    "plate": "车牌",
    "township": "同一乡镇（72小时内）",
    "message": "同一条转发消息",
}


@bp.get("/incidents")
@login_required
def incident_list() -> ResponseReturnValue:
    status = request.args.get("status", "open")
    status = status if status in (*incidents.STATUSES, "all") else "open"
    rows = incidents.visible(get_db(), g.officer, None if status == "all" else status)
    audit.record(get_db(), g.officer, "incidents", detail=f"{status}: {len(rows)} rows", ip=_ip())
    return render_template("police/incidents.html", incidents=rows, status=status)


def _alert_url(incident_id: int) -> str | None:
    # The alert page belongs to the outreach blueprint (bot/), which reporting/ must not
    # import; without it (reporting used alone) the page simply has no alert button.
    try:
        return url_for("outreach_web.incident_alert", incident_id=incident_id)
    except BuildError:
        return None


@bp.get(f"/incidents/{INCIDENT}")
@login_required
def incident_detail(incident_id: int) -> ResponseReturnValue:
    db = get_db()
    incident = scoped_incident(incident_id)
    if incident["id"] != incident_id:  # merged into another: show that one
        return redirect(url_for("police.incident_detail", incident_id=incident["id"]))
    audit.record(db, g.officer, "incident_view", detail=f"incident {incident_id}", ip=_ip())
    return render_template(
        "police/incident.html",
        incident=incident,
        timeline=incidents.timeline(db, g.officer, incident),
        keys=incidents.shared_keys(db, incident),
        scam_keys=scam_verdicts.incident_keys(db, incidents.report_ids(db, incident)),
        townships=incidents.townships(db, incident),
        alerts=incidents.alerts_of(db, incident_id),
        alert_url=_alert_url(incident_id),
        KIND_LABELS=KIND_LABELS,
    )


@bp.post(f"/incidents/{INCIDENT}/status")
@login_required
def incident_status(incident_id: int) -> ResponseReturnValue:
    db = get_db()
    incident = scoped_incident(incident_id)
    status = request.form.get("status", "")
    if status not in incidents.STATUSES:
        abort(400)
    incidents.set_status(db, incident, status, g.officer["username"])
    audit.record(
        db, g.officer, "incident_status", detail=f"incident {incident['id']} → {status}", ip=_ip()
    )
    return redirect(url_for("police.incident_detail", incident_id=incident["id"]))


@bp.post(f"/reports/{REPORT}/scam-verdict")
@login_required
def scam_verdict(report_id: int) -> ResponseReturnValue:
    """Mark one of the report's numbers or links confirmed fraud or cleared (audited);
    everyone who asked about it in the last 30 days is told once (outside quiet hours)."""
    db = get_db()
    scoped_report(report_id)
    status = request.form.get("status", "")
    try:
        link_id = int(request.form.get("link_id", ""))
    except ValueError:
        return detail(report_id, error="请选择要定性的号码或链接。")
    key = scam_verdicts.key_of_link(db, report_id, link_id)
    if key is None or status not in scam_verdicts.STATUSES:
        return detail(report_id, error="请选择要定性的号码或链接。")
    scam_verdicts.mark(db, key, status, g.officer, report_id=report_id, ip=_ip())
    try:
        if scam_verdicts.enqueue_notices(db, get_vault()):
            outbox.wake()
    except Exception:  # the verdict stands; the scheduler's drain tick queues them later
        log.exception("verdict notices not queued")
    back = same_site_path(request.form.get("next"))
    return redirect(back or url_for("police.detail", report_id=report_id))
