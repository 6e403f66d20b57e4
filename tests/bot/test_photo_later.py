"""A photo whose text is still being read when the webhook must answer: the villager is
told the answer follows, and it does, as one outbox row (kind ``late_answer``) sent
once by the drain (bot/photo_text.answer_later). Web chat, which cannot be pushed to,
is asked to paste the text instead."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from defusedxml import ElementTree

from scamcheck import ocr
from storage.db import connect
from tests.bot.test_qr import serve_twilio_media
from tests.bot.test_webchat_photo import upload
from tests.helpers.app import SmsPhone
from tests.helpers.outreach import FakeProvider
from tests.helpers.police import drain_outbox

FAKE = "【医保局】您的医保电子凭证即将过期，请点击 http://nhsa-gov.top/a 重新认证"
NUMBER = "+8613900004444"


@pytest.fixture
def slow_ocr(monkeypatch):
    """OCR that is never done within the webhook's budget; the test finishes it."""
    futures: list[Future] = []

    def read(image, *, budget_s=0.0):
        future: Future = Future()
        futures.append(future)
        return ocr.Reading("late", seconds=budget_s, pending=future)

    monkeypatch.setattr(ocr, "read", read)
    return futures


def _mms(degraded_app, monkeypatch) -> list[str]:
    serve_twilio_media(monkeypatch, _blank_png())
    phone = SmsPhone(degraded_app.test_client(), NUMBER)
    response = phone.post(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM9/Media/ME9",
        MediaContentType0="image/png",
    )
    assert response.status_code == 200
    return [m.text for m in ElementTree.fromstring(response.data).iter("Message")]


def _blank_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (250, 250, 250)).save(out, format="PNG")
    return out.getvalue()


def _late_rows(app) -> list[dict]:
    db = connect(app.config["HOTLINE_DB"])
    try:
        return list(db.query("SELECT * FROM outbox WHERE kind = 'late_answer'"))
    finally:
        db.conn.close()


def test_a_late_reading_is_answered_through_the_outbox_once(degraded_app, monkeypatch, slow_ocr):
    replies = _mms(degraded_app, monkeypatch)
    assert "看完马上发给您" in replies[0] and "验证码不给人" in replies[0]
    assert _late_rows(degraded_app) == []  # nothing yet: the reading is not done
    slow_ocr[0].set_result(ocr.Reading("ok", (FAKE,)))
    [row] = _late_rows(degraded_app)
    vault = degraded_app.extensions["hotline_vault"]
    assert row["urgent"] == 1 and vault.decrypt(row["contact_enc"]).endswith(NUMBER[3:])
    assert NUMBER[3:] not in (row["contact_masked"] or "")
    provider = FakeProvider()
    drain_outbox(degraded_app, {"sms": provider})
    drain_outbox(degraded_app, {"sms": provider})
    [(to, text)] = provider.deliveries
    assert to.endswith(NUMBER[3:]) and text.startswith("刚才的照片看完了") and "别点" in text
    assert _late_rows(degraded_app)[0]["status"] == "sent"


def test_a_late_reading_with_no_text_still_tells_the_villager(degraded_app, monkeypatch, slow_ocr):
    _mms(degraded_app, monkeypatch)
    slow_ocr[0].set_result(ocr.Reading("no_text"))
    [row] = _late_rows(degraded_app)
    assert "复制" in row["text"]  # asked to paste the message's text


def test_web_chat_cannot_be_pushed_and_is_asked_to_paste(degraded_app, slow_ocr):
    replies = upload(degraded_app.test_client(), _blank_png()).get_json()["replies"]
    assert "没看完" in replies[0]
    slow_ocr[0].set_result(ocr.Reading("ok", (FAKE,)))
    assert _late_rows(degraded_app) == []
