"""What the officers' pages (/police, /police/outreach, /police/review, /bureau) share
for display: the one navigation, listing the areas a role may open, and the Chinese
labels of stored codes (audit actions, campaign scopes, notification outcomes).

Stored values stay English codes (the audit log, the campaigns table, the CLI read
them); officers read Chinese, so every code is translated here, at display, and only
here. Registered once on the app by the police blueprint (``register``). The other
blueprints are named by endpoint only: reporting/ imports none of them, and an area
whose blueprint is not registered is simply left out of the navigation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import g, request, url_for
from werkzeug.routing import BuildError

from accounts.officers import POLICE_ROLES, ROLES
from reporting import jurisdiction
from storage.db import get_db


@dataclass(frozen=True)
class Area:
    endpoint: str
    label: str
    roles: tuple[str, ...]  # who may open it: the same rule as the view's decorator
    # Other pages that belong to it: the area is marked current there too.
    pages: tuple[str, ...] = ()


# In the order shown. The roles mirror the guards of the views (accounts/web.py Guard):
# reporting/access.py police_required (police roles) and supervisor_required,
# registry/web.py login_required (any account) and bureau_only; tests/reporting/test_police_nav*.py
# opens every area as every role to keep the two in step.
AREAS: tuple[Area, ...] = (
    Area("police.queue", "待处理举报", POLICE_ROLES, ("police.detail",)),
    Area("police.incident_list", "跨村事件", POLICE_ROLES, ("police.incident_detail",)),
    Area("police.stats", "统计", POLICE_ROLES),
    Area("outreach_web.index", "防骗提醒和紧急提醒", POLICE_ROLES, ("outreach_web.",)),
    Area("review.pending", "消息审核", ("supervisor",), ("review.",)),
    Area("bureau.index", "授权活动", ROLES),
    Area("bureau.new", "登记新活动", ("bureau",), ("bureau.edit",)),
    Area("bureau.import_csv", "导入活动表", ("bureau",)),
)
ROLE_LABELS = {"officer": "民警", "supervisor": "县局", "bureau": "医保局"}


def _belongs(area: Area, endpoint: str) -> bool:
    return any(endpoint == p or (p.endswith(".") and endpoint.startswith(p)) for p in area.pages)


def nav_areas(officer: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The areas the signed-in account may open: label, url and ``current`` ("page" on
    the area's own page, "true" on a page within it, else None)."""
    officer = officer if officer is not None else g.get("officer")
    if not officer:
        return []
    endpoint = request.endpoint or ""
    shown: list[dict[str, Any]] = []
    for area in AREAS:
        if officer["role"] not in area.roles:
            continue
        try:
            url = url_for(area.endpoint)
        except BuildError:  # that blueprint is not part of this app
            continue
        shown.append({"label": area.label, "url": url, "endpoint": area.endpoint})
    for item in shown:
        item["current"] = "page" if item["endpoint"] == endpoint else None
    if not any(item["current"] for item in shown):
        for area, item in ((a, i) for i in shown for a in AREAS if a.endpoint == i["endpoint"]):
            if _belongs(area, endpoint):
                item["current"] = "true"
                break
    return shown


AUDIT_ACTIONS = {
    "login": "登录",
    "login_invalid": "登录失败",
    "login_locked": "登录失败（账号已锁定）",
    "login_throttled": "登录过于频繁",
    "logout": "退出",
    "queue": "查看待处理列表",
    "view": "查看",
    "view_photo": "查看照片",
    "reveal_contact": "查看举报人号码",
    "status": "改状态",
    "assign": "指派",
    "note": "加备注",
    "route": "转派出所",
    "notify": "回告举报人",
    "export": "导出",
    "stats": "查看统计",
    "api_list": "接口查询",
    "incidents": "查看事件列表",
    "incident_view": "查看事件",
    "incident_status": "改事件状态",
    "incident_alert": "从事件发紧急提醒",
    "scam_confirmed": "定性：确认诈骗",
    "scam_cleared": "定性：排除",
    "outreach_import": "导入村民名单",
    "outreach_run": "发防骗提醒",
    "outreach_alert": "发紧急提醒",
    "registry_create": "登记授权活动",
    "registry_edit": "修改授权活动",
    "registry_import": "导入授权活动",
    "registry_revoke": "撤销授权活动",
    "registry_forged": "标记伪造编号",
    "review_label": "审核消息",
}
SCOPE_TYPES = {"county": "全县", "township": "乡镇", "group": "村组", "village": "村"}
NOTIFY_OUTCOMES = {"sent": "已发送", "undeliverable": "无法推送", "failed": "发送失败"}
LINK_KINDS = {"phone": "号码", "url": "链接"}


def audit_action(code: str | None) -> str:
    """The Chinese name of an audit action; an unknown code says so rather than show it."""
    return AUDIT_ACTIONS.get(code or "", "其他操作")


_STATUS_DETAIL = re.compile(r"^→ (\w+)$")
_ROUTE_DETAIL = re.compile(r"^(\S*) → (\S+)$")
_VERDICT_DETAIL = re.compile(r"^(phone|url) (.*); (\d+) to tell$")
_ALERT_DETAIL = re.compile(r"^alert (\d+): (\w+) (\S+), (\d+) recipients$")
_RUN_DETAIL = re.compile(r"^campaign (\d+): group (\S+), (\d+)$")
_ROWS_DETAIL = re.compile(r"^(\d+) rows$")
# Anything else in English would be shown to an officer: left out instead.
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def audit_detail(entry: dict[str, Any], status_labels: dict[str, str] | None = None) -> str:
    """The detail of an audit entry in Chinese. Details are stored as written for the
    log (English codes, numbers); the known shapes are translated, the unknown ones
    shown only when they carry no English words (a username, a station code).
    ``status_labels``: the report statuses' names (the queue's, reporting/web.py)."""
    detail = (entry.get("detail") or "").strip()
    action = entry.get("action")
    if not detail:
        return ""
    if action == "status" and (m := _STATUS_DETAIL.match(detail)):
        return f"→ {(status_labels or {}).get(m[1], '')}"
    if action == "route" and (m := _ROUTE_DETAIL.match(detail)):
        before = station_name(m[1]) if m[1] != "None" else "未分派"
        return f"{before} → {station_name(m[2])}"
    if action == "assign":  # the colleague's username
        return detail
    if action == "notify":
        return NOTIFY_OUTCOMES.get(detail, "")
    if action and action.startswith("scam_") and (m := _VERDICT_DETAIL.match(detail)):
        return f"{LINK_KINDS[m[1]]} {m[2]}，通知 {m[3]} 人"
    if m := _ALERT_DETAIL.match(detail):
        return f"提醒{m[1]}：{scope_text(m[2], m[3])}，{m[4]} 人"
    if m := _RUN_DETAIL.match(detail):
        return f"第{m[1]}批：村组{m[2]}，{m[3]} 人"
    if m := _ROWS_DETAIL.match(detail):
        return f"{m[1]} 条"
    return "" if _LATIN_WORD.search(detail) else detail


def scope_text(scope_type: str | None, scope_value: str | None) -> str:
    """A campaign's or alert's target for officers: "乡镇 金田镇", "全县 桂平市"."""
    value = (scope_value or "").strip()
    if scope_type == "township":
        value = value.split("/")[-1]
    elif scope_type == "group" and value.isdigit():
        value = f"{value}号"
    else:
        value = value.replace("/", " ")
    return f"{SCOPE_TYPES.get(scope_type or '', '范围')} {value}".strip()


# Routing notes are stored as reporting/jurisdiction.py and bot/report_form.py write them.
_ROUTING_NOTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^no village given$"), "举报人没说村名"),
    (re.compile(r"^unknown village$"), "地点表里没有这个村"),
    (re.compile(r"^several near-spellings, none taken$"), "有几个写法相近的村，未自动选择"),
    (re.compile(r"^near-spelling: (.*) → (.*)$"), r"按相近写法匹配：\1 → \2"),
    (re.compile(r"^village in several townships: (.*)$"), r"几个乡镇都有这个村：\1"),
    (re.compile(r"^township not given \((.*)\), same station$"), r"没说乡镇（\1），同一派出所"),
    (re.compile(r"^township not given: (.*)$"), r"没说乡镇：\1"),
    (re.compile(r"^cadre's registered village$"), "村干部登记的村"),
    (re.compile(r"^cadre's village no longer in table$"), "村干部登记的村已不在地点表"),
    (re.compile(r"^routed by (.*)$"), r"由 \1 转派"),
)


def routing_note(note: str | None) -> str:
    """A report's routing note in Chinese; an unknown (English) one is left out."""
    note = (note or "").strip()
    for pattern, text in _ROUTING_NOTES:
        if pattern.match(note):
            return pattern.sub(text, note)
    return "" if _LATIN_WORD.search(note) else note


CHANNELS = {"sms": "短信", "wechat": "微信", "web": "网页聊天"}


def channel_label(code: str | None) -> str:
    return CHANNELS.get(code or "", "其他渠道")


def station_name(code: str | None) -> str:
    """A station's short name for a page ("金田派出所"), not its code; once per request."""
    if not code:
        return ""
    names = g.setdefault("station_names", {})
    if code not in names:
        station = jurisdiction.station(get_db(), code)
        name = station["name"] if station else code
        # "桂平市公安局金田派出所": the county's bureau is the same on every row.
        names[code] = name.split("公安局")[-1] or name
    return names[code]


def scope_of(target: Any) -> str:
    """``scope_text`` of a campaign or alert row (a dict) or an alert preview (an object)."""
    if isinstance(target, dict):
        return scope_text(target.get("scope_type"), target.get("scope_value"))
    return scope_text(getattr(target, "scope_type", None), getattr(target, "scope_value", None))


def register(state: Any) -> None:
    """Blueprint.record_once hook: the filters and the navigation for every template."""
    app = state.app
    app.add_template_filter(audit_action, "audit_action")
    app.add_template_filter(audit_detail, "audit_detail")
    app.add_template_filter(scope_of, "scope")
    app.add_template_filter(channel_label, "channel")
    app.add_template_filter(routing_note, "routing_note")
    app.add_template_global(nav_areas, "nav_areas")
    app.add_template_global(station_name, "station_name")
    app.add_template_global(ROLE_LABELS, "ROLE_LABELS")
