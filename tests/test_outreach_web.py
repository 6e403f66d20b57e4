"""The outreach pages for police: login required, CSV enrollment within the officer's
county, per-campaign counts, a tip push now, an urgent alert only after confirming."""

from __future__ import annotations

import io
import re

import pytest

from bot.outreach import alerts
from storage.db import connect
from tests.police_helpers import csrf_token, load_county, logged_in

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
    assert "已登记 2 人" in page and "平南县 is not your county" in page
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
    assert "紧急提醒" in overview and "township 桂平市/金田镇" in overview
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
        from bot.outreach import groups

        other = {"id": groups.ensure_group(db, "平南县", "东坝镇", "石桥村")}
    assert post(officer, "/police/outreach/run", {"group_id": str(other["id"])}).status_code == 404
    mine = next(db.query("SELECT id FROM village_groups WHERE county = '桂平市'"))
    ran = post(
        officer, "/police/outreach/run", {"group_id": str(mine["id"])}, follow_redirects=True
    )
    assert "已安排第" in ran.get_data(as_text=True)
    db.conn.close()
