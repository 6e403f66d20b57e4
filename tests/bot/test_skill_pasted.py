"""Pasted messages (bot/skills.py PastedMessageSkill, judged by scamcheck/), and cadres'
「转发：」 (CadreForwardSkill), through the Twilio webhook and the web chat."""

from __future__ import annotations

import pytest

from reporting import cadres
from tests.helpers.app import SmsPhone
from tests.helpers.engine import WebChat


@pytest.fixture(params=["sms", "web"])
def who(request, degraded_app, phone_for):
    client = degraded_app.test_client()
    if request.param == "sms":
        return phone_for(client, "+8613833334444")
    return WebChat(client)


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("【医保中心】您的医保账户异常，点击 http://nhsa-gov.top/a 处理，否则冻结", "别点"),
        ("【农业银行】您尾号6789卡支出5000元。我根本没花过这钱", "110"),
        ("您好，请把收到的验证码123456告诉工作人员，完成医保认证。【医保服务】", "验证码"),
    ],
)
def test_a_pasted_message_is_judged_on_its_content(who, text, wanted):
    reply = "\n".join(who.send(text))
    assert wanted in reply
    assert "请把要查的电话号码" not in reply and "没太听明白" not in reply


def test_money_gone_in_a_paste_offers_a_victims_report(degraded_app, county, phone_for):
    sms = phone_for(degraded_app.test_client(), "+8613833335555")
    sms.send("【邮储银行】您账户转出8000.00元 这不是我转的")
    assert "哪个村" in sms.send("3")[-1]
    [row] = list(county.query("SELECT category, summary FROM reports"))
    assert row["category"] == "victim" and "8000" in row["summary"]


def test_a_registered_cadres_forward_opens_a_report_with_the_village(
    degraded_app, county, phone_for
):
    vault = degraded_app.extensions["hotline_vault"]
    cadres.add(county, vault, "13700008888", "三江口村")
    cadre = phone_for(degraded_app.test_client(), "+8613700008888")
    reply = "\n".join(cadre.send("转发：今天有人在村委会门口登记老人身份证，说办医保码送米"))
    assert "村干部" in reply and "民警" in reply and "哪个村" not in reply
    [row] = list(county.query("SELECT village, is_cadre, summary FROM reports"))
    assert row["village"] == "三江口村" and row["is_cadre"] == 1 and "送米" in row["summary"]


def test_a_villagers_forward_is_judged_not_reported(who, county):
    reply = "\n".join(who.send("转发：【医保局】恭喜获得补贴，点击 https://t.cn/abc 领取"))
    assert "别点" in reply
    assert list(county.query("SELECT * FROM reports")) == []


def _report_after_paste(app, number: str, text: str, village: str) -> None:
    phone = SmsPhone(app.test_client(), number)
    phone.send(text)
    for answer in ("3", village, "跳过", "两个人发短信让点链接", "跳过"):
        phone.send(answer)


def test_reports_about_the_same_forwarded_message_share_a_key(degraded_app, county):
    fake = "【医保局】您的医保电子凭证即将停用，请点 http://yb-rz.top/a 认证，逾期作废"
    _report_after_paste(degraded_app, "+8613833331111", fake, "三江口村")
    # The same message with one character changed, from another village.
    _report_after_paste(degraded_app, "+8613833332222", fake.replace("即将", "马上"), "新圩村")
    notes = list(
        county.query("SELECT report_id FROM report_messages WHERE direction = 'scamcheck'")
    )
    assert sorted(n["report_id"] for n in notes) == [1, 2]
    keys = list(county.query("SELECT report_id, key FROM report_links WHERE kind = 'message'"))
    assert len(keys) == 2 and keys[0]["key"] == keys[1]["key"]


def test_a_different_message_gets_a_different_key(degraded_app, county):
    _report_after_paste(
        degraded_app,
        "+8613833331111",
        "【社保中心】社保卡需年审，点 http://sb-nsh.top 办理",
        "三江口村",
    )
    _report_after_paste(
        degraded_app, "+8613833332222", "【医保局】医保码冻结，加微信yb2026解冻", "新圩村"
    )
    keys = list(county.query("SELECT key FROM report_links WHERE kind = 'message'"))
    assert len({k["key"] for k in keys}) == len(keys) == 2
