"""Photos in the web chat: POST /api/chat/photo runs the same QR check as MMS/WeChat."""

from __future__ import annotations

import io

import pytest
import segno
from PIL import Image

from storage.db import connect


def qr_png(content: str) -> bytes:
    out = io.BytesIO()
    segno.make(content, micro=False).save(out, kind="png", scale=6)
    return out.getvalue()


def upload(client, data: bytes, mimetype="image/png", sender="browser-photo", name="p.png"):
    return client.post(
        "/api/chat/photo",
        data={"sender": sender, "image": (io.BytesIO(data), name, mimetype)},
        content_type="multipart/form-data",
    )


@pytest.fixture
def chat(degraded_app):
    return degraded_app.test_client()


@pytest.mark.parametrize(
    "content,words",
    [
        ("https://www.nhsa.gov.cn/", "官方"),
        ("http://t.cn/A6abcdEf", "短链接"),
        ("http://121.40.1.2/reg", "数字地址"),
        ("wxp://f2f0e4kTrCzL5H8xhEO9", "付款码"),
    ],
)
def test_photo_gets_a_verdict(chat, content, words):
    response = upload(chat, qr_png(content))
    assert response.status_code == 200, response.data
    replies = response.get_json()["replies"]
    assert len(replies) == 1 and words in replies[0]


def test_photo_is_kept_and_logged(chat, degraded_app):
    assert upload(chat, qr_png("http://t.cn/x1")).status_code == 200
    uploads = list((degraded_app.config["HOTLINE_VAR"] / "uploads").iterdir())
    assert len(uploads) == 1 and uploads[0].suffix == ".png"
    db = connect(degraded_app.config["HOTLINE_DB"])
    assert db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0] == 1
    db.conn.close()


def test_photo_without_qr(chat):
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 120, 80)).save(out, format="JPEG")
    replies = upload(chat, out.getvalue(), "image/jpeg", name="p.jpg").get_json()["replies"]
    assert "没找到二维码" in replies[0]


@pytest.mark.parametrize(
    "data,mimetype,status",
    [
        (b"%PDF-1.4 pretending", "image/png", 415),  # says image, is not
        (b"hello", "text/plain", 415),
        (qr_png("http://t.cn/x") + b"\0" * (5 * 1024 * 1024), "image/png", 413),
    ],
)
def test_bad_files_are_refused_and_chat_goes_on(chat, data, mimetype, status):
    response = upload(chat, data, mimetype)
    assert response.status_code == status
    assert "error" in response.get_json()
    again = chat.post("/api/chat", json={"sender": "browser-photo", "text": "你好"})
    assert again.status_code == 200


def test_missing_fields_are_400(chat):
    no_image = chat.post("/api/chat/photo", data={"sender": "a"})
    assert no_image.status_code == 400
    no_sender = chat.post(
        "/api/chat/photo",
        data={"image": (io.BytesIO(qr_png("x")), "p.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert no_sender.status_code == 400


def test_upload_names_cannot_reach_other_files(degraded_app):
    from bot.qr import read_upload

    with degraded_app.app_context():
        for url in ("upload:../keys.json", "upload:/etc/passwd", "upload:" + "a" * 32 + ".sh"):
            assert read_upload(url) is None


# -- in the browser -----------------------------------------------------------------


@pytest.mark.browser
def test_photo_button_uploads_and_shows_verdict(page, degraded_server, tmp_path):
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith((degraded_server, "blob:", "data:"))
            else None
        ),
    )
    image = tmp_path / "flyer.png"
    image.write_bytes(qr_png("http://t.cn/A6abcdEf"))
    page.goto(degraded_server + "/")
    assert page.get_by_role("button", name="发照片查二维码").is_visible()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="发照片查二维码").click()
    chooser.value.set_files(str(image))
    page.locator(".row.me .bubble.photo img").wait_for(timeout=10_000)
    answer = page.locator(".row.bot .bubble").nth(1)
    answer.wait_for(timeout=10_000)
    assert "短链接" in answer.inner_text()
    # A file that is not a photo gets a clear bubble, not silence.
    text_file = tmp_path / "note.txt"
    text_file.write_text("not a photo")
    page.set_input_files("#photo", str(text_file))
    error = page.locator(".row.bot.error .bubble").first
    error.wait_for(timeout=10_000)
    assert "不是照片" in error.inner_text()
    assert outside == []
