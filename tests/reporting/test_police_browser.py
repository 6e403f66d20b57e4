"""In a real headless Chromium: an officer logs in, opens an SMS report, resolves it,
the reporter gets the update; an officer of another station cannot see it."""

from __future__ import annotations

import io

import pytest

from messaging.providers import base as senders
from messaging.providers.console import ConsoleSender
from tests.helpers.police import PASSWORD, drain_outbox, load_county

pytestmark = pytest.mark.browser


def login(page, base: str, username: str) -> None:
    page.goto(base + "/police/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_officer_resolves_report_and_reporter_hears(
    degraded_app, degraded_server, browser, monkeypatch, phone_for
):
    server = degraded_server
    db = load_county(degraded_app)
    sender = ConsoleSender(out=io.StringIO())
    monkeypatch.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: sender)
    phone = phone_for(degraded_app.test_client(), "+8613812345678")
    for text in ("我要举报 有人上门要验证码", "金田村", "现在", "<b>三个人</b>", "跳过"):
        phone.send(text)
    report = list(db.query("SELECT * FROM reports"))[0]
    assert report["station_code"] == "GP-JT" and report["priority"] == "urgent"

    page = browser.new_page()
    login(page, server, "jt")
    row = page.locator("table.queue tbody tr").first
    assert report["ref"] in row.inner_text() and "紧急" in row.inner_text()
    page.click(f"text={report['ref']}")
    assert page.locator("#details").inner_text() == "<b>三个人</b>"  # shown literally
    page.select_option("#new-status", "resolved")
    page.click("#change-status")
    page.wait_for_selector("#status")
    assert page.locator("#status").inner_text() == "已处理"
    assert "排队发送中" in page.locator("#notify").inner_text()
    assert drain_outbox(degraded_app).sent == 1  # the scheduler's drain, after the request
    page.reload()
    assert "已发送" in page.locator("#notify").inner_text()
    assert sender.sent == [
        (
            "13812345678",
            f"您的举报{report['ref']}已由民警处理完毕，谢谢您！验证码不给人，手机不借人。",
        )
    ]
    detail_url = page.url
    page.close()

    other = browser.new_page()
    login(other, server, "sp")
    assert report["ref"] not in other.content()
    response = other.goto(detail_url)
    assert response.status == 404
    other.goto(server + "/police/?status=all")
    assert report["ref"] not in other.content()
    other.close()
    db.conn.close()


def test_officer_confirms_a_number_and_the_villager_who_asked_hears(
    degraded_app, degraded_server, browser, monkeypatch, phone_for
):
    monkeypatch.setattr("outreach.outbox.in_quiet_hours", lambda moment: False)
    db = load_county(degraded_app)
    sender = ConsoleSender(out=io.StringIO())
    monkeypatch.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: sender)
    asker = phone_for(degraded_app.test_client(), "+8613700001234")
    asker.send("13955554444 这个号码是骗子吗")  # a lookup: the ask is remembered
    reporter = phone_for(degraded_app.test_client(), "+8613812345678")
    for text in ("我要举报 有人打13955554444说医保冻结要转钱", "金田村", "跳过", "跳过", "跳过"):
        reporter.send(text)
    report = list(db.query("SELECT * FROM reports"))[0]

    page = browser.new_page()
    login(page, degraded_server, "jt")
    page.goto(f"{degraded_server}/police/reports/{report['id']}")
    row = page.locator("#scam-verdicts tr[data-kind=phone]")
    assert "139****4444" in row.inner_text() and "1 人" in row.inner_text()
    row.locator("button[value=confirmed]").click()
    page.wait_for_selector("#scam-verdicts")
    row = page.locator("#scam-verdicts tr[data-kind=phone]")
    assert "已确认诈骗" in row.locator(".verdict").inner_text()
    page.close()

    assert drain_outbox(degraded_app).sent == 1
    [(to, notice)] = [(t, m) for t, m in sender.sent if "确认是诈骗" in m]
    assert to.endswith("13700001234") and "139****4444" in notice and "13955554444" not in notice
    assert asker.send("13955554444 这个号码是骗子吗")[0].startswith("警方已确认")
    db.conn.close()
