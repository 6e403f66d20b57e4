"""Text in photos: every photo path reads it (OCR) and judges it with scamcheck.

The pictures are drawn here with a Chinese font (fonts-wqy-microhei), never committed.
"""

from __future__ import annotations

import io

import pytest
import segno
from PIL import Image

from bench import ocr_corpus
from registry import activities
from tests.bot.test_webchat_photo import upload

pytestmark = pytest.mark.skipif(
    not any(__import__("os").path.exists(p) for p in ocr_corpus.FONT_PATHS),
    reason="no Chinese font (apt-get install fonts-wqy-microhei)",
)

FAKE_SMS = "【医保局】您的医保电子凭证即将过期，请点击 http://nhsa-gov.top/a 重新认证，逾期作废。"


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def screenshot(text: str, size: int = 28) -> Image.Image:
    return ocr_corpus.LAYOUTS["sms"](text, size)


@pytest.fixture
def chat(degraded_app, monkeypatch):
    # Speed is the bench's business (bench/ocr_bench.py); here every photo is read.
    monkeypatch.setattr("scamcheck.ocr.DEFAULT_BUDGET_S", 120)
    return degraded_app.test_client()


def test_fake_sms_screenshot_in_web_chat_is_a_scam_with_the_link_named(chat):
    response = upload(chat, png(screenshot(FAKE_SMS)), sender="browser-ocr")
    assert response.status_code == 200, response.data
    replies = response.get_json()["replies"]
    assert len(replies) == 1
    assert replies[0].startswith("这条像是诈骗") and "nhsa-gov.top" in replies[0]


def test_screenshot_with_a_qr_code_gets_both_verdicts(chat):
    shot = screenshot("【医保局】扫码领取医保补贴，逾期作废")
    out = io.BytesIO()
    segno.make("http://t.cn/A6abcdEf", micro=False).save(out, kind="png", scale=5)
    code = Image.open(out).convert("RGB")
    canvas = Image.new("RGB", (shot.width, shot.height + code.height + 40), "white")
    canvas.paste(shot, (0, 0))
    canvas.paste(code, (40, shot.height + 20))
    replies = upload(chat, png(canvas), sender="browser-ocr2").get_json()["replies"]
    assert "短链接" in replies[0]
    assert any(r.startswith("这条像是诈骗") for r in replies[1:])


def test_photo_of_an_authorised_teams_letter_gets_the_registry_verdict(chat, county, degraded_app):
    vault = degraded_app.extensions["hotline_vault"]
    today = activities.today().isoformat()
    activities.save(
        county,
        vault,
        "桂平市",
        {
            "code": "YB-450881-2025-0007",
            "organisation": "桂平市医疗保障局",
            "leader": "王建国",
            "work_ids": "GPYB0012",
            "villages": "金田村",
            "start": today,
            "end": today,
        },
        activities.Actor(name="cli:test"),
    )
    letter = ocr_corpus.LAYOUTS["letter"](
        "桂平市医疗保障局\n关于医保电子凭证宣传活动的函\n授权码：YB-450881-2025-0007\n"
        "宣传地点：金田村村委会。",
        30,
    )
    replies = upload(chat, png(letter), sender="browser-letter").get_json()["replies"]
    assert any(r.startswith("查到了") for r in replies), replies


def test_unregistered_code_on_a_letter_is_no_record(chat, county):
    letter = ocr_corpus.LAYOUTS["letter"](
        "桂平市医疗保障局\n推广活动授权书\n授权码：YB-450881-2025-0999\n地点：金田村。", 30
    )
    replies = upload(chat, png(letter), sender="browser-letter2").get_json()["replies"]
    assert any("没有" in r or "查不到" in r or "没查到" in r for r in replies), replies


def test_photo_without_text_or_qr_still_says_so(chat):
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 120, 80)).save(out, format="JPEG")
    replies = upload(chat, out.getvalue(), "image/jpeg", name="p.jpg").get_json()["replies"]
    assert "没找到二维码" in replies[0]


def test_reading_past_the_budget_answers_in_time(chat, monkeypatch):
    monkeypatch.setattr("scamcheck.ocr.DEFAULT_BUDGET_S", 0.0001)
    replies = upload(chat, png(screenshot(FAKE_SMS)), sender="browser-late").get_json()["replies"]
    assert "没看完" in replies[0] and "验证码不给人" in replies[0]


def test_multi_frame_gif_is_read_from_its_first_frame(chat):
    frames = [screenshot(FAKE_SMS).convert("P"), Image.new("P", (600, 400), 0)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    replies = upload(chat, out.getvalue(), "image/gif", name="p.gif").get_json()["replies"]
    assert replies[0].startswith("这条像是诈骗")


def test_what_is_kept_for_a_report_masks_numbers():
    from bot.photo_text import kept
    from scamcheck.signals import judge

    text = "【医保局】请致电13977665544办理，账户6222021234567890123"
    state = kept(judge(text), text)
    assert "13977665544" not in str(state) and "6222021234567890123" not in str(state)
    assert "139****5544" in state["text"]


def test_the_screenshot_in_the_readme_gets_the_answer_it_shows(chat):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    image = (root / "docs" / "img" / "fake-sms-screenshot.png").read_bytes()
    reply = upload(chat, image).get_json()["replies"][0]
    first = reply.split("\n")[0]
    assert first in (root / "README.md").read_text(encoding="utf-8")
    assert first.startswith("这条像是诈骗") and "nhsa-gov.top" in first
