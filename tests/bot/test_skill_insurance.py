"""insurance_question: medical-insurance admin questions get 12393 and the village's
helper, never "帮不上忙". Until the model knows the intent, through a fake parser."""

from __future__ import annotations

import pytest

import responses
from tests.helpers.engine import FakeParser, WebChat

QUESTIONS = {
    "今年医保交多少钱": ("insurance_question", 0.93),
    "异地就医备案咋弄": ("insurance_question", 0.88),
    "俺的医保卡丢了能补不": ("insurance_question", 0.81),
    "住院报销比例是多少": ("insurance_question", 0.5),
}


@pytest.fixture
def fake_app(tmp_path, app_factory):
    return app_factory(tmp_path, FakeParser(QUESTIONS))


@pytest.mark.parametrize("channel", ["sms", "web"])
@pytest.mark.parametrize("text", list(QUESTIONS))
def test_admin_question_points_to_12393_and_the_village_helper(fake_app, channel, text, phone_for):
    client = fake_app.test_client()
    who = phone_for(client, "+8613811112222") if channel == "sms" else WebChat(client)
    reply = "\n".join(who.send(text))
    assert "12393" in reply and "医保协管员" in reply and "村卫生室" in reply
    assert "帮不上忙" not in reply and "已登记" not in reply
    assert responses.fits_sms(reply)


def test_admin_question_inside_the_report_form_is_answered_and_the_form_goes_on(
    fake_app, phone_for
):
    sms = phone_for(fake_app.test_client(), "+8613811113333")
    sms.send("我要举报")
    reply = "\n".join(sms.send("今年医保交多少钱"))
    assert "12393" in reply and "哪个村" in reply
