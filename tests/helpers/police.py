"""Helpers for the police-side tests: a county loaded from the sample CSV, officers,
logged-in test clients. Not fixtures, so each test module picks what it needs."""

from __future__ import annotations

import re
from pathlib import Path

from accounts import officers
from reporting import jurisdiction
from storage.db import connect
from tests.helpers.sms import drain_outbox

__all__ = ["drain_outbox"]  # the one drain helper (tests/helpers/sms.py), used here too

SAMPLE = Path(__file__).resolve().parents[2] / "reporting" / "data" / "jurisdictions-sample.csv"
PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def load_county(app):
    """Import the sample county (桂平市) and add officers: jt (金田 station), sp (社坡
    station) and sup (county supervisor). Returns an open database."""
    db = connect(app.config["HOTLINE_DB"])
    jurisdiction.import_csv(db, SAMPLE)
    officers.add(db, "jt", PASSWORD, "GP-JT")
    officers.add(db, "jt2", PASSWORD, "GP-JT")
    officers.add(db, "sp", PASSWORD, "GP-SP")
    officers.add(db, "sup", PASSWORD, "GP-JT", role="supervisor")
    return db


def csrf_token(client, path: str = "/police/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post(
        "/police/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def logged_in(app, username: str):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post_form(client, path: str, data: dict, page: str = "/police/"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


ENROLL_CSV = (
    "手机号,村,乡镇,县\n13812345600,金田村,金田镇,桂平市\n13912345601,新圩村,金田镇,桂平市\n"
)


def worked_report(app, db) -> dict:
    """An SMS report of 金田村 that station officer jt viewed, revealed, assigned, noted and
    alerted about, plus villagers enrolled in 金田镇: every kind of history line. Returns
    the report row."""
    import io

    from messaging.providers import base as senders
    from messaging.providers.console import ConsoleSender
    from tests.helpers.app import SmsPhone

    sender = ConsoleSender(out=io.StringIO())
    senders.CHANNEL_SENDERS["sms"], old = (lambda _config: sender), senders.CHANNEL_SENDERS["sms"]
    try:
        phone = SmsPhone(app.test_client(), "+8613812345678")
        for text in (
            "我要举报 有人上门要验证码，电话13987654321",
            "金田村",
            "现在",
            "三个人",
            "跳过",
        ):
            phone.send(text)
    finally:
        senders.CHANNEL_SENDERS["sms"] = old
    report = list(db.query("SELECT * FROM reports ORDER BY id DESC LIMIT 1"))[0]
    page = f"/police/reports/{report['id']}"
    sup = logged_in(app, "sup")
    post_form(
        sup,
        "/police/outreach/import",
        {"file": (io.BytesIO(ENROLL_CSV.encode()), "jintian.csv")},
        page="/police/outreach/",
    )
    jt = logged_in(app, "jt")
    jt.get(page)
    post_form(jt, f"{page}/reveal", {}, page=page)
    post_form(jt, f"{page}/status", {"status": "triaged"}, page=page)
    jt2 = next(db.query("SELECT id FROM officers WHERE username = 'jt2'"))["id"]
    post_form(jt, f"{page}/assign", {"officer_id": str(jt2)}, page=page)
    post_form(jt, f"{page}/note", {"text": "已电话联系村支书"}, page=page)
    post_form(sup, f"{page}/route", {"station_code": "GP-JT"}, page=page)
    link_id = re.search(r'name="link_id" value="(\d+)"', jt.get(page).get_data(as_text=True))
    post_form(jt, f"{page}/scam-verdict", {"link_id": link_id[1], "status": "confirmed"}, page=page)
    alert = {"scope_type": "township", "scope_value": "金田镇", "text": "有人冒充医保局上门"}
    preview = post_form(jt, "/police/outreach/alert/preview", alert, page="/police/outreach/")
    code = re.search(r'name="code" value="([0-9A-F]{6})"', preview.get_data(as_text=True))[1]
    post_form(
        jt,
        "/police/outreach/alert/send",
        {**alert, "code": code, "report_id": str(report["id"])},
        page="/police/outreach/",
    )
    return dict(report)
