"""The report form over SMS (signed Twilio webhook): saved at the first message, routed,
prioritised, partial reports reach the queue after 30 minutes, cadres rank higher."""

from __future__ import annotations

import datetime as dt
import re

import pytest

import responses
from accounts import officers
from reporting import cadres, reports
from tests.helpers.app import SmsPhone

REF = re.compile(r"R[ACDEFHJKMNPQRTUVWXY3479]{4,6}")


@pytest.fixture
def sms(degraded_app, county, phone_for) -> SmsPhone:
    return phone_for(degraded_app.test_client(), "+8613812345678")


def only_report(db) -> dict:
    rows = list(db.query("SELECT * FROM reports"))
    assert len(rows) == 1
    return rows[0]


def officer(db, username):
    return officers.get_by_username(db, username)


def test_sms_report_is_routed_and_prioritised(sms, county):
    first = sms.send("村口有人摆摊，扫二维码送鸡蛋")
    assert "先别扫" in first[0] and "回复3" in first[-1]  # advice, and the offer
    assert list(county.query("SELECT * FROM reports")) == []  # a question makes no report
    first = sms.send("3")  # the villager's words are carried into the report
    ref = REF.search(first[-1]).group(0)
    assert "哪个村" in first[-1]
    # Saved at the first message, before any answer.
    report = only_report(county)
    assert report["ref"] == ref and report["category"] == "qr_code"
    assert report["priority"] == "normal" and report["submitted_at"] is None

    assert "哪个镇" in sms.send("大坡村")[0]  # in two townships: asked, not guessed
    assert "什么时候" in sms.send("社坡")[0]
    assert "情况" in sms.send("今天上午")[0]
    assert "照片" in sms.send("三个人穿蓝马甲，开白色面包车桂R12345")[0]
    done = sms.send("跳过")
    assert ref in done[0] and "社坡派出所" in done[0]

    report = only_report(county)
    assert report["station_code"] == "GP-SP" and report["routing"] == "routed"
    assert report["village"] == "大坡村" and report["township"] == "社坡镇"
    assert report["occurred_text"] == "今天上午"
    assert "桂R12345" in report["details"]
    assert report["submitted_at"] and report["form_step"] is None
    assert report["contact_masked"] == "138****5678"
    assert "13812345678" not in str(report)  # never in clear
    # In the right station's queue, not the other one's.
    assert [r["ref"] for r in reports.queue(county, officer(county, "sp"))] == [ref]
    assert reports.queue(county, officer(county, "jt")) == []
    assert [r["ref"] for r in reports.queue(county, officer(county, "sup"))] == [ref]
    # The whole conversation is kept with the report.
    texts = [m["text"] for m in reports.messages(county, report["id"])]
    assert texts[0] == "村口有人摆摊，扫二维码送鸡蛋" and texts[-1] == done[0]
    assert texts[1] != "3" and len(texts) == 12
    # Every reply fits in 3 SMS segments.
    assert all(responses.fits_sms(m) for m in texts)


def test_status_check_lists_latest_reports(sms, county):
    assert sms.send("7")[0] == responses.text("report_form.status_none")
    sms.send("举报")
    ref = REF.search(sms.send("村口有人发传单扫码")[-1]).group(0)
    sms.send("取消")
    status = sms.send("7")[0]
    assert ref in status and "已取消" in status


def test_victim_gets_urgent_advice_then_form(sms, county):
    replies = sms.send("我已经把验证码告诉他们了")
    assert "110" in replies[0] and "96110" in replies[0] and "回复3" in replies[-1]
    assert list(county.query("SELECT * FROM reports")) == []
    replies = sms.send("3")
    assert REF.search(replies[-1])
    report = only_report(county)
    assert report["category"] == "victim" and report["priority"] == "urgent"
    # "回复0看下一步" still works inside the form, and the question is asked again.
    more = sms.send("0")
    assert "一证通查" in more[0] and "哪个村" in more[-1]
    assert "什么时候" in sms.send("金田村")[0]
    assert only_report(county)["station_code"] == "GP-JT"


def test_phone_borrowing_is_high_and_here_now_is_urgent(degraded_app, county, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613900002222")
    phone.send("有人借手机打电话")
    phone.send("3")
    report = only_report(county)
    assert report["category"] == "phone_borrowing" and report["priority"] == "high"
    phone.send("紫荆村")
    phone.send("现在")  # they are here now
    assert only_report(county)["priority"] == "urgent"


def test_prefill_from_entities_and_skip(sms, county):
    sms.send("举报 有人用13900001111打电话让我扫码")
    report = only_report(county)
    assert "13900001111" in report["details"] and report["suspect_phones"] == "13900001111"
    assert "什么时候" in sms.send("跳过")[0]  # no village: the county queue holds it
    report = only_report(county)
    assert report["station_code"] is None and report["county"] == "桂平市"


def test_cancel_withdraws_and_frees_the_conversation(sms, county):
    sms.send("3")
    sms.send("新圩村")
    assert sms.send("取消")[0] == responses.text("report_form.cancelled")
    report = only_report(county)
    assert report["status"] == "withdrawn"
    assert (
        reports.queue(
            county,
            officer(county, "sup"),
            at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
        )
        == []
    )
    # The next message is read as a new one, not as an answer.
    assert "从没授权" in sms.send("村里来了一伙人说是医保局的，是真的吗")[0]


def test_partial_report_reaches_queue_after_30_minutes(sms, county):
    sms.send("有人挨家挨户上门说帮开通医保码")
    sms.send("3")
    sms.send("金田村")  # then the reporter stops answering
    jt = officer(county, "jt")
    now = dt.datetime.now(dt.timezone.utc)
    assert reports.queue(county, jt, at=now) == []
    later = reports.queue(county, jt, at=now + dt.timedelta(minutes=31))
    assert len(later) == 1 and later[0]["submitted_at"] is None
    assert later[0]["station_code"] == "GP-JT"


def test_stale_form_lets_a_new_message_through(sms, county, degraded_app):
    from storage.db import connect

    sms.send("举报 村口有人发传单扫码")
    db = connect(degraded_app.config["HOTLINE_DB"])
    row = db.execute("SELECT sender_hash, state FROM conversations").fetchone()
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)).isoformat()
    state = row[1].replace('"at": "', '"at": "' + old + '", "old_at": "')
    db.execute("UPDATE conversations SET state = ? WHERE sender_hash = ?", [state, row[0]])
    db.conn.commit()
    assert "从没授权" in sms.send("村里来了一伙人说是医保局的，是真的吗")[0]
    assert only_report(county)["submitted_at"]  # the partial report was handed over


def test_cadre_report_has_village_and_ranks_higher(degraded_app, county, phone_for):
    vault = degraded_app.extensions["hotline_vault"]
    cadres.add(county, vault, "13700007777", "三江口村")
    phone = phone_for(degraded_app.test_client(), "+86 137-0000-7777")
    replies = phone.send("举报 有人上门收身份证")
    assert "什么时候" in replies[-1]  # the village is not asked
    report = only_report(county)
    assert report["is_cadre"] == 1 and report["priority"] == "high"
    assert report["station_code"] == "GP-ZJ" and report["village"] == "三江口村"


def test_duplicate_cadre_village_needs_township(county, degraded_app):
    vault = degraded_app.extensions["hotline_vault"]
    with pytest.raises(cadres.CadreError, match="several townships"):
        cadres.add(county, vault, "13700007777", "石桥村")
    assert cadres.add(county, vault, "13700007777", "石桥村", "蒙圩镇")["township"] == "蒙圩镇"


def test_photo_is_stored_and_hooks_run(sms, county, monkeypatch, degraded_app):
    seen = []
    form = next(s for s in degraded_app.extensions["hotline_skills"] if s.name == "report")
    monkeypatch.setattr(
        form, "photo_hooks", [lambda d, t, r, a, m: seen.append((r["id"], a, m.url))]
    )
    sms.send("我要举报，有人让扫二维码")
    for answer in ("木乐镇石桥村", "昨天", "两个人"):
        sms.send(answer)
    response = sms.post(
        "", NumMedia="1", MediaUrl0="https://api.twilio.com/m/ME1", MediaContentType0="image/jpeg"
    )
    assert "照片收到了" in response.get_data(as_text=True)
    report = only_report(county)
    assert report["station_code"] == "GP-ML" and report["submitted_at"]
    attachments = reports.attachments(county, report["id"])
    assert [(a["url"], a["content_type"]) for a in attachments] == [
        ("https://api.twilio.com/m/ME1", "image/jpeg")
    ]
    assert seen == [(report["id"], attachments[0]["id"], "https://api.twilio.com/m/ME1")]


def test_village_named_in_first_message_is_not_asked_again(sms, county):
    first = sms.send("举报：新圩村有人叫扫码送鸡蛋")
    assert "什么时候" in first[-1]  # straight to the next question
    report = only_report(county)
    assert report["station_code"] == "GP-JT" and report["routing"] == "routed"


def test_answer_that_is_no_village_is_asked_once_more(sms, county):
    sms.send("村口有人摆摊，扫二维码送鸡蛋")
    sms.send("3")
    again = sms.send("大队部门口")
    assert again == [responses.text("report_form.village_again")]
    assert "什么时候" in sms.send("新圩村")[0]
    assert only_report(county)["station_code"] == "GP-JT"


def test_cancel_after_the_police_took_it_up_keeps_the_report(sms, county):
    sms.send("快来人 有人让扫二维码，他们还在村里")
    report = only_report(county)
    reports.set_status(county, report, "assigned")  # an officer is on it
    reply = sms.send("取消")
    assert reply == [responses.text("report_form.cancel_too_late", ref=report["ref"])]
    assert responses.segments(reply[0]) == 1
    report = only_report(county)
    assert report["status"] == "assigned" and report["closed_at"] is None
    assert report["submitted_at"] and report["form_step"] is None
    log = [(m["direction"], m["text"]) for m in reports.messages(county, report["id"])]
    assert ("in", "取消") in log and any(d == "note" and "cancelled" in t for d, t in log)
    # The form is over: the next message is read as a new one.
    assert "从没授权" in sms.send("村里来了一伙人说是医保局的，是真的吗")[0]
    # Only a new report can be withdrawn; an officer's later move is not undone.
    assert reports.withdraw(county, report["id"]) is False


@pytest.mark.parametrize(
    "text", ["能扫不", "中不中", "借给他没事吧", "靠谱不", "啥时候能有警察来啊", "那是哪个村呢"]
)
def test_questions_the_dialect_way_are_questions(text):
    from bot.report_form import is_question

    assert is_question(text)


@pytest.mark.parametrize(
    "text", ["他们还在村委会门口呢", "金田村", "两个男的 开白色面包车", "不知不觉就来了"]
)
def test_statements_are_not_questions(text):
    from bot.report_form import is_question

    assert not is_question(text)


@pytest.mark.parametrize("text", ["那个送鸡蛋的让俺扫码 俺没扫 还要举报不", "用报警不"])
def test_asking_whether_to_report_the_dialect_way_is_no_report(text):
    from bot.report_form import explicit_report

    assert not explicit_report(text)
