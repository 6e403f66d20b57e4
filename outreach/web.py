"""Outreach pages for police officers under /police/outreach: enroll villagers from a
CSV, see sent / delivered / failed per campaign, push a tip to a group now, and send
an urgent alert after a confirmation page.

Enters through the police sign-in (reporting/access.py, the accounts' guard), with the
app's CSRF protection; a report or incident outside the officer's reach is a 404.
An officer works within their own county. Roles: a county supervisor may enroll from a
CSV, alert the whole county and push tips anywhere in the county; a station officer
alerts and pushes tips only to the townships their station covers. Alerts sent, tip
runs started and CSV imports are written to the audit log. Village cadres have no web
login yet: they hand their CSV to the police station or use `hotline groups import`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

import responses
from accounts import audit
from accounts.web import secure_headers
from outreach import alerts, campaigns, groups, outbox
from reporting import incidents, jurisdiction
from reporting.access import police_required as login_required
from reporting.access import scoped_incident, scoped_report
from storage.db import get_db
from storage.privacy import get_vault

bp = Blueprint("outreach_web", __name__, url_prefix="/police/outreach", template_folder="templates")
bp.after_request(secure_headers)
MAX_CSV_BYTES = 5 * 1024 * 1024


# The errors of alerts.py and groups.py are written for the CLI (English); an officer
# reads them in Chinese. Unknown ones get a general line rather than English.
_COLUMN_NAMES = {"phone": "手机号", "village": "村", "township": "乡镇", "county": "县"}
OFFICER_ERRORS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"^the alert text is empty$"), "提醒内容是空的。"),
    (
        re.compile(r"^no links in alerts"),
        "提醒里不能有链接或网址：我们一直告诉村民，真的通知不带链接。",
    ),
    (re.compile(r"^send alerts to a "), "请选择发送范围（乡镇或全县）。"),
    (re.compile(r"^scope must be one of"), "请选择发送范围（乡镇或全县）。"),
    (re.compile(r"^no village group matches \w+ '?([^']*)'?$"), r"“\1”还没有登记村民的村组。"),
    (re.compile(r"^no village group"), "没有这个村组。"),
    (re.compile(r"^(\d+) villages are called '?([^':]*)'?:"), r"有\1个村都叫“\2”，请选定村组。"),
    (re.compile(r"^'?([^']*)'? exists in (\d+) counties"), r"\2个县都有“\1”，请写“县/乡镇”。"),
    (
        re.compile(r"^the alert is (\d+) SMS long; keep it to (\d+)$"),
        r"提醒太长：要\1条短信，最多\2条。",
    ),
    (re.compile(r"^say who is"), "没有发送人或登记人。"),
    (
        re.compile(r"^not confirmed"),
        "确认码不对，或内容、人数已有变化：请重新预览后再确认。",
    ),
    (
        re.compile(r"^no enrolled villagers in the incident's townships$"),
        "涉及的乡镇还没有登记的村民。",
    ),
    (
        re.compile(r"^the file is neither UTF-8 nor GBK text$"),
        "读不出这个文件：请在表格软件里另存为逗号分隔的表格文件。",
    ),
    (re.compile(r"^the file is empty$"), "文件是空的。"),
    (
        re.compile(r"^the first line is not CSV text"),
        "第一行读不出：请在表格软件里另存为逗号分隔的表格文件。",
    ),
    (
        re.compile(r"^the first row must name the columns.*\(missing: (.*)\)$"),
        lambda m: (
            "第一行要写列名：手机号、村、乡镇、县（缺少："
            + "、".join(_COLUMN_NAMES.get(c.strip(), c.strip()) for c in m[1].split(","))
            + "）。"
        ),
    ),
    (re.compile(r"^line (\d+): not a mobile number$"), r"第\1行：不是手机号。"),
    (
        re.compile(r"^line (\d+): village, township and county are all needed$"),
        r"第\1行：村、乡镇、县都要填。",
    ),
    (re.compile(r"^line (\d+): (.*) is not your county$"), r"第\1行：“\2”不是本县。"),
    (
        re.compile(r"^line (\d+): more than (\d+) rows, rest ignored$"),
        r"第\1行：超过\2行，后面的没有导入。",
    ),
    (re.compile(r"^line (\d+): not readable as CSV"), r"第\1行：读不出（格式不对）。"),
)


def officer_error(error: Exception | str) -> str:
    """An alert's or an import's error in Chinese, for a flash."""
    message = str(error).strip()
    for pattern, text in OFFICER_ERRORS:
        match = pattern.search(message)
        if match:
            return text(match) if callable(text) else match.expand(text)
    return "操作没有完成，请检查填写的内容后再试。"


def _county() -> str:
    return g.officer["county"]


def _is_supervisor() -> bool:
    return g.officer["role"] == "supervisor"


def _require_supervisor() -> None:
    if not _is_supervisor():
        abort(403)


def _own_township(township: str) -> None:
    """A station officer reaches only the townships of their station (403 otherwise)."""
    if not _is_supervisor() and township not in jurisdiction.station_townships(
        get_db(), g.officer["station_code"]
    ):
        abort(403)


def _audit(action: str, detail: str, report_id: int | None = None) -> None:
    audit.record(get_db(), g.officer, action, report_id, detail, ip=request.remote_addr)


def _render(template: str, **values: Any) -> str:
    return render_template(template, officer=g.officer, **values)


def _own_scope(scope_type: str, value: str) -> str:
    """The scope value, pinned to the officer's county (404 for anything outside it)."""
    db = get_db()
    value = value.strip()
    if scope_type == "county":
        if value != _county():
            abort(404)
        _require_supervisor()
        return value
    if scope_type == "township":
        township = value.split("/")[-1]
        _own_township(township)
        return f"{_county()}/{township}"
    if scope_type == "group":
        # str.isdigit() also takes "²" (which int() refuses) and SQLite integers end at
        # 2**63-1: only up to 18 ASCII digits can name a group.
        is_id = value.isascii() and value.isdigit() and len(value) <= 18
        group = groups.get_group(db, int(value)) if is_id else None
        if group is None or group["county"] != _county():
            abort(404)
        _own_township(group["township"])
        return str(group["id"])
    abort(400)


def _county_campaigns() -> list[dict[str, Any]]:
    db = get_db()
    mine = []
    for c in outbox.overview(db, limit=200):
        try:
            ids = groups.resolve_scope(db, c["scope_type"], c["scope_value"])
        except groups.ScopeError:
            continue
        group = groups.get_group(db, ids[0]) if ids else None
        if group is not None and group["county"] == _county():
            mine.append(c)
    return mine[:30]


@bp.get("/")
@login_required
def index() -> str:
    db = get_db()
    mine = [r for r in groups.list_groups(db) if r["county"] == _county()]
    townships = {r["township"] for r in mine}
    if not _is_supervisor():
        townships &= jurisdiction.station_townships(db, g.officer["station_code"])
    return _render(
        "outreach/index.html",
        groups=mine,
        townships=sorted(townships),
        is_supervisor=_is_supervisor(),
        campaigns=_county_campaigns(),
        recent_alerts=[
            a for a in alerts.recent(db, 50) if a["scope_value"].split("/")[0] == _county()
        ][:10],
    )


@bp.post("/import")
@login_required
def import_csv() -> ResponseReturnValue:
    _require_supervisor()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择 CSV 文件。", "error")
        return redirect(url_for(".index"))
    data = upload.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        flash("文件太大（最多5兆）。", "error")
        return redirect(url_for(".index"))
    db = get_db()
    try:
        result = groups.import_csv(
            db,
            get_vault(),
            data,
            by=g.officer["username"],
            channel=request.form.get("consent_channel", "").strip()[:40] or "web-upload",
            source=upload.filename[:100],
            only_county=_county(),
        )
    except (groups.EnrollmentFileError, ValueError) as exc:
        flash(f"无法导入：{officer_error(exc)}", "error")
        return redirect(url_for(".index"))
    _audit(
        "outreach_import",
        f"{upload.filename[:100]}: {result.enrolled} enrolled, {result.moved} moved,"
        f" {len(result.errors)} errors",
    )
    message = (
        f"已登记 {result.enrolled} 人，已在名单 {result.already} 人，换村 {result.moved} 人，"
        f"已退订不再登记 {result.refused_opted_out} 人，新建村组 {result.groups_created} 个，"
        f"错误 {len(result.errors)} 行"
    )
    flash(message, "ok")
    for error in result.errors[:20]:
        flash(officer_error(error), "error")
    return redirect(url_for(".index"))


@bp.post("/run")
@login_required
def run_now() -> ResponseReturnValue:
    scope = _own_scope("group", request.form.get("group_id", ""))
    planned = campaigns.plan(
        get_db(),
        kind="tip",
        scope_type="group",
        scope_value=scope,
        created_by=g.officer["username"],
    )
    _audit("outreach_run", f"campaign {planned.campaign_id}: group {scope}, {planned.recipients}")
    flash(
        f"已安排第 {planned.campaign_id} 批提醒，共 {planned.recipients} 人；"
        "发送程序一分钟内开始发送（21:00–08:00 的提醒等到早上 8 点）。",
        "ok",
    )
    return redirect(url_for(".index"))


def _alert_form() -> tuple[str, str, str, bool]:
    scope_type = request.form.get("scope_type", "township")
    if scope_type not in ("township", "county"):
        abort(400)
    raw = request.form.get("scope_value", "") if scope_type == "township" else _county()
    return (
        scope_type,
        _own_scope(scope_type, raw),
        request.form.get("text", ""),
        bool(request.form.get("urgent")),
    )


@bp.post("/alert/preview")
@login_required
def alert_preview() -> ResponseReturnValue:
    scope_type, scope_value, text, urgent = _alert_form()
    try:
        shown = alerts.preview(get_db(), scope_type, scope_value, text, urgent=urgent)
    except alerts.AlertError as exc:
        flash(f"不能发送：{officer_error(exc)}", "error")
        return redirect(url_for(".index"))
    return _render("outreach/confirm.html", shown=shown)


@bp.post("/alert/send")
@login_required
def alert_send() -> ResponseReturnValue:
    scope_type, scope_value, text, urgent = _alert_form()
    report_id = request.form.get("report_id", type=int)
    # Only a report this officer may open can be named (404 like the report pages).
    if report_id is not None:
        scoped_report(report_id)
    try:
        alert_id, planned = alerts.send(
            get_db(),
            scope_type,
            scope_value,
            text,
            confirm=request.form.get("code", ""),
            sent_by=g.officer["username"],
            urgent=urgent,
            report_id=report_id,
        )
    except alerts.AlertError as exc:
        flash(f"未发送：{officer_error(exc)}", "error")
        return redirect(url_for(".index"))
    _audit(
        "outreach_alert",
        f"alert {alert_id}: {scope_type} {scope_value}, {planned.recipients} recipients",
        report_id,
    )
    flash(f"紧急提醒 {alert_id} 已确认，发给 {planned.recipients} 人，已记录发送人。", "ok")
    return redirect(url_for(".index"))


# --- an urgent alert from an incident (reporting/incidents.py) ----------------------------
# Who: any officer who sees the incident (it touches their station; a supervisor: their
# county). Where: the townships of the incident's reports, all their villages (the
# incident's own and their neighbours), limited to the sender's reach like any alert: a
# station officer the townships of their station, a supervisor the county. Townships
# outside it are listed for the officer to hand on. One alert per township, all
# confirmed by one code.
INCIDENT = "<int(max=9223372036854775807):incident_id>"


def _incident_targets(incident: dict[str, Any]) -> tuple[list[str], list[str]]:
    """("county/township" this officer may alert, townships outside their reach)."""
    db = get_db()
    reach = (
        None if _is_supervisor() else jurisdiction.station_townships(db, g.officer["station_code"])
    )
    mine, others = [], []
    for county, township in incidents.townships(db, incident):
        if county == _county() and (reach is None or township in reach):
            mine.append(f"{county}/{township}")
        else:
            others.append(township)
    return mine, others


def _incident_text(incident: dict[str, Any], targets: list[str]) -> str:
    texts = responses.catalogue("incidents")
    kinds = incidents.categories(get_db(), incident)[:2]
    what = "、".join(dict.fromkeys(texts["what"].get(k, texts["what"]["other"]) for k in kinds))
    place = "、".join(t.split("/")[-1] for t in targets)
    return texts["alert_text"].strip().format(place=place, what=what)


def _incident_previews(
    targets: list[str], text: str
) -> tuple[list[alerts.AlertPreview], list[str], str]:
    """Previews of the townships that have enrolled villagers, the ones without, and
    the one code that confirms them all (raises AlertError for a bad text)."""
    db = get_db()
    shown, empty = [], []
    for scope in targets:
        try:
            groups.resolve_scope(db, "township", scope)
        except groups.ScopeError:
            empty.append(scope.split("/")[-1])
            continue
        shown.append(alerts.preview(db, "township", scope, text, urgent=True))
    code = hashlib.sha256("|".join(p.code for p in shown).encode()).hexdigest()[:6].upper()
    return shown, empty, code


@bp.get(f"/alerts/from-incident/{INCIDENT}")
@login_required
def incident_alert(incident_id: int) -> str:
    incident = scoped_incident(incident_id, follow_merged=False)
    targets, others = _incident_targets(incident)
    return _render(
        "outreach/incident_alert.html",
        incident=incident,
        targets=[t.split("/")[-1] for t in targets],
        others=others,
        text=_incident_text(incident, targets),
        shown=None,
    )


@bp.post(f"/alerts/from-incident/{INCIDENT}/preview")
@login_required
def incident_alert_preview(incident_id: int) -> Any:
    incident = scoped_incident(incident_id, follow_merged=False)
    targets, others = _incident_targets(incident)
    text = request.form.get("text", "")[:1000]
    values = {"incident": incident, "targets": [t.split("/")[-1] for t in targets]}
    try:
        shown, empty, code = _incident_previews(targets, text)
        if not shown:
            raise alerts.AlertError("no enrolled villagers in the incident's townships")
    except alerts.AlertError as exc:
        flash(f"不能发送：{officer_error(exc)}", "error")
        return _render(
            "outreach/incident_alert.html", **values, others=others, text=text, shown=None
        ), 400
    return _render(
        "outreach/incident_alert.html",
        **values,
        others=others,
        text=" ".join(text.split()),
        shown=shown,
        empty=empty,
        code=code,
    )


@bp.post(f"/alerts/from-incident/{INCIDENT}/send")
@login_required
def incident_alert_send(incident_id: int) -> Any:
    db = get_db()
    incident = scoped_incident(incident_id, follow_merged=False)
    targets, _others = _incident_targets(incident)
    text = request.form.get("text", "")[:1000]
    back = redirect(url_for("police.incident_detail", incident_id=incident_id))
    try:
        shown, _empty, code = _incident_previews(targets, text)
        if not shown:
            raise alerts.AlertError("no enrolled villagers in the incident's townships")
        if request.form.get("code", "").strip().upper() != code:
            raise alerts.AlertError("not confirmed: the confirmation code does not match")
        sent = []
        for preview in shown:
            alert_id, planned = alerts.send(
                db,
                "township",
                preview.scope_value,
                text,
                confirm=preview.code,
                sent_by=g.officer["username"],
                urgent=True,
            )
            new = incidents.record_alert(
                db,
                incident_id,
                alert_id,
                preview.scope_value,
                planned.recipients,
                g.officer["username"],
            )
            if new:  # a second click on the same confirmation plans (and logs) nothing
                _audit(
                    "incident_alert",
                    f"incident {incident_id}: alert {alert_id} to {preview.scope_value},"
                    f" {planned.recipients} recipients",
                )
            sent.append(planned.recipients)
    except alerts.AlertError as exc:
        flash(f"未发送：{officer_error(exc)}", "error")
        return back
    flash(f"紧急提醒已确认，发给 {len(sent)} 个乡镇共 {sum(sent)} 人，已记入事件。", "ok")
    return back
