"""What villagers get back: the answers that matter, the menu, opt-out, SMS size."""

from __future__ import annotations

import pytest

import responses
from nlu.keywords import KeywordParser


def test_verify_team_answer(phone):
    reply = phone.send("村里来了一伙人说是医保局的，是真的吗")[0]
    assert "从没授权" in reply
    assert "12393" in reply


def test_victim_gets_urgent_steps(phone):
    reply = phone.send("我已经把验证码告诉他们了 怎么办")[0]
    assert "110" in reply and "96110" in reply


@pytest.mark.parametrize("word", ["T", "t", " TD ", "r", "退订", "取消订阅", "STOP", "Unsubscribe"])
def test_opt_out_words_always_unsubscribe(degraded_app, word, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613900001111")
    phone.send("订阅")
    assert phone.send(word)[0] == responses.answer("unsubscribe")[0]
    # Confirmed once: a second opt-out says there is nothing to stop.
    assert phone.send(word)[0] == responses.text("already_unsubscribed")


def test_subscribe_then_rejoin(phone, db, vault):
    assert phone.send("订阅")[0].startswith("已为您订阅")
    assert phone.send("订阅")[0] == responses.text("already_subscribed")
    phone.send("T")
    assert phone.send("START")[0].startswith("已为您订阅")
    rows = db.execute("SELECT status FROM subscribers").fetchall()
    assert rows == [("active",)]


def test_menu_digit_and_more(phone):
    first = phone.send("1")[0]
    assert first == responses.answer("verify_team")[0]
    more = phone.send("0")[0]
    assert more == responses.answer("verify_team")[1]
    assert phone.send("0")[0].startswith(responses.text("no_more"))


def test_full_width_digit_is_a_menu_choice(phone):
    assert phone.send("２")[0].startswith(responses.answer("already_victim")[0])


def test_help_shows_menu(phone):
    reply = "".join(phone.send("你能干啥"))
    assert "回复数字" in reply


def test_off_topic_is_polite_and_shows_menu(phone):
    reply = "".join(phone.send("今天化肥多少钱一袋"))
    assert "回复数字" in reply


def test_every_reply_fits_three_sms_segments(phone):
    messages = [
        "你好",
        "1",
        "0",
        "2",
        "0",
        "4",
        "5",
        "0",
        "谢谢",
        "今天天气咋样",
        "我妈把手机借给一个穿制服的人了",
        "有人叫扫码送鸡蛋",
        "订阅",
        "T",
        "😀",
    ]
    for text in messages:
        for reply in phone.send(text):
            assert responses.fits_sms(reply), (text, reply)


def test_keyword_fallback_covers_core_intents():
    parser = KeywordParser()
    assert parser.parse("村里来的医保局的人是真的吗").intent == "verify_team"
    assert parser.parse("俺已经把验证码给他们了").intent == "already_victim"
    assert parser.parse("有人在村口叫扫二维码").intent == "report_qr_code"
    assert parser.parse("我不想再收了 退订").intent == "unsubscribe"
    assert parser.parse("菜单").intent == "help"
    found = parser.parse("他们用13812345678打电话").entities
    assert [(e.entity, e.value) for e in found] == [("phone_number", "13812345678")]


def test_degraded_hotline_still_answers(degraded_app, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613700002222")
    assert "96110" in phone.send("我已经把验证码告诉他们了")[0]


def test_dialogue_failure_gets_apology_and_message_is_kept(tmp_path, db, app_factory, phone_for):
    class Broken:
        name = "broken"

        def parse(self, text):
            raise RuntimeError("model exploded")

    app = app_factory(tmp_path, Broken())
    phone = phone_for(app.test_client(), "+8613600003333")
    assert phone.send("村里来了人")[0] == responses.text("system_busy")
    from storage.db import connect

    stored = (
        connect(app.config["HOTLINE_DB"])
        .execute("SELECT text FROM messages WHERE direction = 'in'")
        .fetchall()
    )
    assert stored == [("村里来了人",)]


def test_how_to_tell_real_messages_works_even_degraded(degraded_app, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613500004444")
    reply = "".join(phone.send("怎么辨别真假短信"))
    assert "尾号" in reply
