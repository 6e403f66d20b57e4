"""The officers' pages without a browser: one navigation listing exactly the areas a
role may open, the current one marked; form defaults; stored codes shown in Chinese."""

from __future__ import annotations

import re

import pytest

from outreach.web import OFFICER_ERRORS, officer_error
from registry import staff
from reporting import officer_pages
from tests.helpers.police import PASSWORD, csrf_token, logged_in, post_form, worked_report

NAV = re.compile(r'<nav class="areas".*?</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"( aria-current="(\w+)")?>([^<]+)</a>')
# ASCII words an officer may see: codes and tokens, not English.
ALLOWED = {"SMS", "QR", "ID", "CSV"}


def nav_links(html: str) -> list[tuple[str, str | None, str]]:
    """(url, aria-current, label) of the navigation's links."""
    block = NAV.search(html)
    assert block, "no navigation on the page"
    return [(url, current or None, label) for url, _a, current, label in LINK.findall(block[0])]


def bureau_client(app):
    client = app.test_client()
    token = csrf_token(client, "/bureau/login")
    client.post(
        "/bureau/login", data={"username": "ybj", "password": PASSWORD, "csrf_token": token}
    )
    return client


@pytest.fixture
def clients(degraded_app, county):
    staff.add(county, "ybj", PASSWORD, "桂平市")
    return {
        "officer": logged_in(degraded_app, "jt"),
        "supervisor": logged_in(degraded_app, "sup"),
        "bureau": bureau_client(degraded_app),
    }


@pytest.mark.parametrize("role", ["officer", "supervisor", "bureau"])
def test_the_navigation_lists_exactly_the_areas_the_role_may_open(clients, role):
    client = clients[role]
    home = "/bureau/" if role == "bureau" else "/police/"
    listed = {url for url, _current, _label in nav_links(client.get(home).get_data(as_text=True))}
    with client.application.test_request_context():
        from flask import url_for

        every = {url_for(area.endpoint) for area in officer_pages.AREAS}
    assert listed and listed <= every
    for url in every:
        response = client.get(url)
        if url in listed:
            assert response.status_code == 200, url
            assert nav_links(response.get_data(as_text=True)), f"{url} has no navigation"
        else:  # refused, or sent back to the account's own pages
            assert response.status_code in (302, 403), url
    outreach = "/police/outreach/"
    assert (outreach in listed) == (role != "bureau")
    assert ("/police/review/" in listed) == (role == "supervisor")
    assert ("/bureau/activities/new" in listed) == (role == "bureau")


def test_the_current_area_is_marked(degraded_app, county):
    report = worked_report(degraded_app, county)
    jt = logged_in(degraded_app, "jt")
    marked = {
        path: [
            (label, current)
            for _url, current, label in nav_links(jt.get(path).get_data(as_text=True))
            if current
        ]
        for path in (
            "/police/",
            f"/police/reports/{report['id']}",
            "/police/outreach/",
            "/police/stats",
        )
    }
    assert marked == {
        "/police/": [("待处理举报", "page")],
        f"/police/reports/{report['id']}": [("待处理举报", "true")],
        "/police/outreach/": [("防骗提醒和紧急提醒", "page")],
        "/police/stats": [("统计", "page")],
    }


def selected(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select, name
    return re.findall(r'<option value="([^"]*)"[^>]* selected', select[0])


def test_a_new_report_s_status_dropdown_shows_its_current_status(degraded_app, county, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613812345678")
    for text in ("我要举报 有人上门要验证码", "金田村", "现在", "三个人", "跳过"):
        phone.send(text)
    report = next(county.query("SELECT * FROM reports"))
    assert report["status"] == "new"
    page = f"/police/reports/{report['id']}"
    jt = logged_in(degraded_app, "jt")
    html = jt.get(page).get_data(as_text=True)
    assert selected(html, "status") == ["new"]
    assert "新报告（当前）" in html
    assert selected(html, "officer_id") == [""]  # nobody picked for the officer
    # Sending the form as it is changes nothing and says why.
    unchanged = post_form(jt, f"{page}/status", {"status": "new"}, page=page)
    assert unchanged.status_code == 400 and "请选择新的状态" in unchanged.get_data(as_text=True)
    assert next(county.query("SELECT status FROM reports"))["status"] == "new"

    jt2 = next(county.query("SELECT id FROM officers WHERE username = 'jt2'"))["id"]
    post_form(jt, f"{page}/assign", {"officer_id": str(jt2)}, page=page)
    html = jt.get(page).get_data(as_text=True)
    assert selected(html, "status") == ["assigned"]
    assert selected(html, "officer_id") == [str(jt2)]


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def english_words(text: str, allowed: set[str]) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text) if w not in allowed}


def test_history_campaigns_and_errors_are_in_chinese(degraded_app, county):
    report = worked_report(degraded_app, county)
    jt = logged_in(degraded_app, "jt")
    detail = jt.get(f"/police/reports/{report['id']}").get_data(as_text=True)
    history = re.search(r'<ul class="history".*?</ul>', detail, re.S)[0]
    for line in (
        "jt 查看举报人号码",
        "jt 改状态 → 已查看",
        "jt 指派 jt2",
        "sup 转派出所 金田派出所 → 金田派出所",
        "jt 定性：确认诈骗 号码 139****4321，通知 0 人",
        "jt 发紧急提醒 提醒1：乡镇 金田镇，2 人",
    ):
        assert line in visible_text(history), line
    # The log itself keeps its codes.
    actions = {r["action"] for r in county.query("SELECT action FROM audit_log")}
    assert {"reveal_contact", "status", "scam_confirmed", "outreach_alert"} <= actions
    usernames = {"jt", "jt2", "sup"}
    for path in ("/police/", f"/police/reports/{report['id']}", "/police/outreach/"):
        text = visible_text(jt.get(path).get_data(as_text=True))
        assert not english_words(text, ALLOWED | usernames | {report["ref"]}), path

    outreach = jt.get("/police/outreach/").get_data(as_text=True)
    assert "乡镇 金田镇" in outreach and "township" not in visible_text(outreach)
    bad = post_form(
        jt,
        "/police/outreach/alert/preview",
        {"scope_type": "township", "scope_value": "金田镇", "text": "详情见 http://yb.example.com"},
        page="/police/outreach/",
    )
    flashed = jt.get("/police/outreach/").get_data(as_text=True)
    assert bad.status_code == 302 and "不能发送：提醒里不能有链接" in flashed
    assert "no links" not in flashed


@pytest.mark.parametrize(
    "message",
    [
        "the alert text is empty",
        "no links in alerts: villagers are told real messages never have one",
        "send alerts to a township / county / group",
        "no village group matches township '金田镇'",
        "2 villages are called '新村': use the group id or county/township/village",
        "'金田镇' exists in 2 counties: use county/township",
        "the alert is 4 SMS long; keep it to 3",
        "not confirmed: the confirmation code does not match this alert",
        "no enrolled villagers in the incident's townships",
        "the file is neither UTF-8 nor GBK text",
        "the first row must name the columns phone, village, township, county"
        " (missing: phone, county)",
        "line 5: not a mobile number",
        "line 6: village, township and county are all needed",
        "line 7: 平南县 is not your county",
        "line 2: not readable as CSV (field larger than field limit (131072))",
        "something nobody wrote a translation for",
    ],
)
def test_outreach_errors_read_in_chinese(message):
    text = officer_error(message)
    assert text and not english_words(text, ALLOWED), text
    assert len(OFFICER_ERRORS) > 10


def test_labels_of_stored_codes():
    assert officer_pages.audit_action("reveal_contact") == "查看举报人号码"
    assert officer_pages.audit_action("no_such_action") == "其他操作"
    assert (
        officer_pages.audit_detail(
            {"action": "status", "detail": "→ resolved"}, {"resolved": "已处理"}
        )
        == "→ 已处理"
    )
    assert officer_pages.audit_detail({"action": "note", "detail": "some English"}) == ""
    assert officer_pages.scope_text("township", "桂平市/金田镇") == "乡镇 金田镇"
    assert officer_pages.scope_text("county", "桂平市") == "全县 桂平市"
    assert officer_pages.scope_text("group", "12") == "村组 12号"
    assert officer_pages.routing_note("no village given") == "举报人没说村名"
    assert (
        officer_pages.routing_note("near-spelling: 金天村 → 金田村")
        == "按相近写法匹配：金天村 → 金田村"
    )
    assert officer_pages.routing_note("a note nobody translated") == ""


def test_every_audit_action_written_has_a_label():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    written: set[str] = set()
    pattern = re.compile(
        r'(?:audit\.record\(\s*[^,]+,\s*[^,]+,\s*|_audit\(\s*(?:[^,]+,\s*)?)"([a-z_]+)"'
    )
    for folder in ("accounts", "reporting", "bot", "outreach", "registry", "review", "scamcheck"):
        for path in (root / folder).rglob("*.py"):
            written |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert {"view", "reveal_contact", "outreach_alert", "review_label"} <= written
    assert written - set(officer_pages.AUDIT_ACTIONS) == set()
