""" "Did this help?" after a verdict on a forwarded message (bot/feedback.py): asked
once, within the SMS budget; 1/2 answered and stored; 没用 reaches the supervisors'
review with the judged message masked; anything else is a new message. Through the
Twilio webhook and the web chat."""

from __future__ import annotations

import datetime as dt

import pytest

import responses
from bot import feedback as bot_feedback
from scamcheck import feedback
from storage.db import connect
from tests.helpers.engine import WebChat

FAKE = "【医保局】您的医保电子凭证即将停用，请点 http://yb-rz.top/a 认证，咨询13912345678"
QUESTION = feedback.question()


@pytest.fixture(params=["sms", "web"])
def who(request, degraded_app, phone_for):
    client = degraded_app.test_client()
    if request.param == "sms":
        return phone_for(client, "+8613833336666")
    return WebChat(client)


@pytest.fixture
def db(degraded_app):
    database = connect(degraded_app.config["HOTLINE_DB"])
    yield database
    database.conn.close()


def test_a_verdict_asks_once_and_fits_the_sms_budget(who):
    reply = who.send(FAKE)
    assert reply[-1].endswith(QUESTION)
    assert all(responses.fits_sms(r) for r in reply)


def test_not_helpful_is_stored_and_sent_to_review_masked(who, db):
    who.send(FAKE)
    assert who.send("2") == [feedback.thanks(False)]
    [row] = list(db.query("SELECT helpful, verdict, text FROM scam_feedback"))
    assert row["helpful"] == 0 and row["verdict"] == "scam"
    [item] = list(db.query("SELECT text, reason FROM review_items"))
    assert item["reason"] == "not_helpful" and "yb-rz.top" in item["text"]
    assert "13912345678" not in item["text"] + (row["text"] or "")


def test_helpful_keeps_no_text_and_nothing_for_review(who, db):
    who.send(FAKE)
    assert who.send("有用") == [feedback.thanks(True)]
    assert list(db.query("SELECT helpful, text FROM scam_feedback")) == [
        {"helpful": 1, "text": None}
    ]
    assert db.execute("SELECT count(*) FROM review_items").fetchone()[0] == 0


def test_another_message_drops_the_question_and_a_later_2_is_the_menu(who, db):
    who.send(FAKE)
    reply = "\n".join(who.send("医保码怎么开通"))
    assert feedback.thanks(False) not in reply and "开通" in reply
    assert who.send("2") != [feedback.thanks(False)]
    assert db.execute("SELECT count(*) FROM scam_feedback").fetchone()[0] == 0


def test_an_answer_after_half_an_hour_is_a_new_message(who, db, monkeypatch):
    who.send(FAKE)
    later = dt.datetime.now(dt.timezone.utc) + bot_feedback.ANSWER_WITHIN + dt.timedelta(1)
    monkeypatch.setattr(bot_feedback, "now", lambda: later)
    assert who.send("2") != [feedback.thanks(False)]
    assert db.execute("SELECT count(*) FROM scam_feedback").fetchone()[0] == 0


def test_a_victim_is_not_asked_to_rate_first_aid(who):
    reply = "\n".join(who.send("【农业银行】您尾号6789卡支出5000元。这不是我花的"))
    assert "110" in reply and QUESTION not in reply


def test_the_same_pasted_message_from_two_villagers_is_counted(degraded_app, phone_for):
    first = phone_for(degraded_app.test_client(), "+8613833337777")
    second = phone_for(degraded_app.test_client(), "+8613833338888")
    first.send(FAKE)
    assert "已有2位村民" in "\n".join(second.send(FAKE.replace("认证", "认證")))
