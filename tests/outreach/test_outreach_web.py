"""The outreach pages for police: login required, CSV enrollment within the officer's
county, per-campaign counts, a tip push now, an urgent alert only after confirming."""

from __future__ import annotations

import io
import re

import pytest

from outreach import alerts
from storage.db import connect
from tests.helpers.police import csrf_token, load_county, logged_in

PAGE = "/police/outreach/"
CSV = (
    "phone,village,township,county\n"
    "13812345678,金田村,金田镇,桂平市\n"
    "13912345679,新圩村,金田镇,桂平市\n"
    "13712345670,石桥村,东坝镇,平南县\n"
)


@pytest.fixture
def officer(degraded_app):
    db = load_county(degraded_app)
    yield logged_in(degraded_app, "jt")
    db.conn.close()


def post(client, path, data, **kwargs):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, PAGE)}, **kwargs)


def test_pages_need_a_police_login(degraded_app):
    client = degraded_app.test_client()
    response = client.get(PAGE)
    assert response.status_code == 302 and "/police/login" in response.headers["Location"]
    assert client.post("/police/outreach/alert/send", data={}).status_code in (302, 400)


def test_post_without_csrf_token_is_refused(officer):
    assert officer.post("/police/outreach/run", data={"group_id": "1"}).status_code == 400


def test_enroll_by_csv_then_alert_after_confirmation(officer, degraded_app):
    # Enrolling is the county supervisor's; the station officer then alerts a township.
    response = post(
        logged_in(degraded_app, "sup"),
        "/police/outreach/import",
        {"file": (io.BytesIO(CSV.encode()), "jintian.csv"), "consent_channel": "村民大会签字"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "已登记 2 人" in page and "“平南县”不是本县" in page
    assert "金田村" in page and "石桥村" not in page

    preview = post(
        officer,
        "/police/outreach/alert/preview",
        {
            "scope_type": "township",
            "scope_value": "金田镇",
            "text": "今天有人冒充医保局在金田镇活动",
            "urgent": "1",
        },
    )
    text = preview.get_data(as_text=True)
    assert "2 位订阅村民" in text and "【村村反诈】紧急提醒：今天有人冒充医保局在金田镇活动" in text
    db = connect(degraded_app.config["HOTLINE_DB"])
    assert alerts.recent(db) == []  # nothing sent before the confirmation
    code = re.search(r'name="code" value="([0-9A-F]{6})"', text).group(1)
    sent = post(
        officer,
        "/police/outreach/alert/send",
        {
            "scope_type": "township",
            "scope_value": "金田镇",
            "text": "今天有人冒充医保局在金田镇活动",
            "urgent": "1",
            "code": code,
        },
        follow_redirects=True,
    )
    assert "已确认，发给 2 人" in sent.get_data(as_text=True)
    log = alerts.recent(db)[0]
    assert (log["sent_by"], log["scope_value"], log["recipients"]) == ("jt", "桂平市/金田镇", 2)
    consent = next(db.query("SELECT channel, by, source FROM consents ORDER BY id LIMIT 1"))
    assert consent == {"channel": "村民大会签字", "by": "sup", "source": "jintian.csv"}
    overview = officer.get(PAGE).get_data(as_text=True)
    assert "紧急提醒" in overview and "乡镇 金田镇" in overview
    db.conn.close()


def test_a_wrong_code_sends_nothing_and_other_counties_are_404(officer, degraded_app):
    post(
        logged_in(degraded_app, "sup"),
        "/police/outreach/import",
        {"file": (io.BytesIO(CSV.encode()), "x.csv")},
        content_type="multipart/form-data",
    )
    data = {
        "scope_type": "township",
        "scope_value": "金田镇",
        "text": "有人冒充医保局",
        "code": "000000",
    }
    page = post(officer, "/police/outreach/alert/send", data, follow_redirects=True)
    assert "未发送" in page.get_data(as_text=True)
    db = connect(degraded_app.config["HOTLINE_DB"])
    assert alerts.recent(db) == []
    other = next(db.query("SELECT id FROM village_groups WHERE county = '平南县'"), None)
    if other is None:  # created by the CLI path in real use; make one here
        from outreach import groups

        other = {"id": groups.ensure_group(db, "平南县", "东坝镇", "石桥村")}
    assert post(officer, "/police/outreach/run", {"group_id": str(other["id"])}).status_code == 404
    mine = next(db.query("SELECT id FROM village_groups WHERE county = '桂平市'"))
    ran = post(
        officer, "/police/outreach/run", {"group_id": str(mine["id"])}, follow_redirects=True
    )
    assert "已安排第" in ran.get_data(as_text=True)
    db.conn.close()


def test_roles_scope_and_audit(officer, degraded_app, phone_for):
    """A station officer: no CSV import, no county alert, tips and alerts only to their
    station's townships, only reports they may open; every action is audited."""
    sup = logged_in(degraded_app, "sup")
    csv = CSV + "13612345671,紫荆村,紫荆镇,桂平市\n"
    refused = post(
        officer,
        "/police/outreach/import",
        {"file": (io.BytesIO(csv.encode()), "x.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 403
    done = post(
        sup,
        "/police/outreach/import",
        {"file": (io.BytesIO(csv.encode()), "x.csv")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    page = officer.get(PAGE).get_data(as_text=True)
    assert "导入村民名单" not in page and "全县" not in page
    assert "导入村民名单" in sup.get(PAGE).get_data(as_text=True)

    county_alert = {"scope_type": "county", "text": "有人冒充医保局", "code": "000000"}
    assert post(officer, "/police/outreach/alert/preview", county_alert).status_code == 403
    assert post(officer, "/police/outreach/alert/send", county_alert).status_code == 403
    other_town = {"scope_type": "township", "scope_value": "紫荆镇", "text": "有人冒充医保局"}
    assert post(officer, "/police/outreach/alert/preview", other_town).status_code == 403
    assert post(sup, "/police/outreach/alert/preview", county_alert).status_code == 200

    db = connect(degraded_app.config["HOTLINE_DB"])
    zijing = next(db.query("SELECT id FROM village_groups WHERE township = '紫荆镇'"))["id"]
    jintian = next(db.query("SELECT id FROM village_groups WHERE township = '金田镇'"))["id"]
    assert post(officer, "/police/outreach/run", {"group_id": str(zijing)}).status_code == 403
    assert post(officer, "/police/outreach/run", {"group_id": str(jintian)}).status_code == 302
    assert post(sup, "/police/outreach/run", {"group_id": str(zijing)}).status_code == 302

    # An alert may name only a report the officer can open.
    from reporting import reports as report_store

    phone = phone_for(degraded_app.test_client(), "+8613812345678")
    for text in ("我要举报有人让扫二维码", "社坡镇大坡村", "昨天", "两个人", "跳过"):
        phone.send(text)
    sp_report = report_store.get_by_ref(db, next(db.query("SELECT ref FROM reports"))["ref"])
    preview = post(
        officer,
        "/police/outreach/alert/preview",
        {"scope_type": "township", "scope_value": "金田镇", "text": "有人冒充医保局"},
    ).get_data(as_text=True)
    code = re.search(r'name="code" value="([0-9A-F]{6})"', preview).group(1)
    alert = {"scope_type": "township", "scope_value": "金田镇", "text": "有人冒充医保局"}
    for report_id in (str(sp_report["id"]), str(2**63), "99999999999999999999999"):
        sent = post(
            officer, "/police/outreach/alert/send", {**alert, "code": code, "report_id": report_id}
        )
        assert sent.status_code == 404, report_id
    assert alerts.recent(db) == []
    sent = post(officer, "/police/outreach/alert/send", {**alert, "code": code})
    assert sent.status_code == 302 and len(alerts.recent(db)) == 1

    audit_rows = list(db.query("SELECT username, action, detail, ip FROM audit_log"))
    actions = [(r["username"], r["action"]) for r in audit_rows if r["action"].startswith("out")]
    assert actions == [
        ("sup", "outreach_import"),
        ("jt", "outreach_run"),
        ("sup", "outreach_run"),
        ("jt", "outreach_alert"),
    ]
    assert all(r["ip"] for r in audit_rows if r["action"].startswith("outreach"))
    db.conn.close()
