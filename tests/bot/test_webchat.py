"""POST /api/chat and the page at /: bad input gets a clear 4xx or reply, never a 500."""

from __future__ import annotations

import re

import pytest


def chat(client, text, sender="browser-1"):
    response = client.post("/api/chat", json={"sender": sender, "text": text})
    assert response.status_code == 200, response.data
    return response.get_json()["replies"]


def test_chat_answers_in_chinese(client):
    replies = chat(client, "我已经把验证码告诉他们了 怎么办")
    assert any("110" in r and "96110" in r for r in replies)


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        ("text=hi", "application/x-www-form-urlencoded", 415),
        ("{not json", "application/json", 400),
        (b'{"sender": "a", "text": "\xff\xfe"}', "application/json", 400),
        ('["a", "b"]', "application/json", 400),
        ('{"text": "你好"}', "application/json", 400),
        ('{"sender": "", "text": "你好"}', "application/json", 400),
        ('{"sender": "a", "text": 5}', "application/json", 400),
        ('{"sender": "' + "x" * 65 + '", "text": "hi"}', "application/json", 400),
    ],
)
def test_bad_requests_are_4xx_and_next_message_works(client, body, content_type, status):
    response = client.post("/api/chat", data=body, content_type=content_type)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert chat(client, "你好")


@pytest.mark.parametrize("text", ["", "   \n\t ", "😀😀🙏", "\x00\x01"])
def test_empty_or_wordless_messages_get_a_clear_reply(client, text):
    replies = chat(client, text)
    assert replies and ("文字" in replies[0])
    assert "回复数字" in "".join(replies)


def test_ten_thousand_characters(client, db):
    replies = chat(client, "医保" * 5000)
    assert replies
    assert "太长" in replies[0]
    stored = db.execute("SELECT text FROM messages WHERE direction='in'").fetchone()[0]
    assert len(stored) >= 4000  # kept, not dropped
    assert chat(client, "谢谢")


def test_page_uses_no_external_assets(client):
    html = client.get("/").get_data(as_text=True)
    assert "村村反诈热线" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for asset in ("/static/chat.css", "/static/chat.js"):
        body = client.get(asset).get_data(as_text=True)
        assert "http://" not in body and "https://" not in body


def test_healthz_reports_live_nlu(client, degraded_app):
    health = client.get("/healthz").get_json()
    assert health == {
        "status": "ok",
        "nlu": "rasa",
        "degraded": False,
        "loading": False,
        "worker": health["worker"],  # the answering process (hotline serve --workers)
    }
    assert isinstance(health["worker"], int)
    degraded = degraded_app.test_client().get("/healthz").get_json()
    assert degraded["nlu"] == "keywords" and degraded["degraded"] is True


def test_lone_surrogate_text_is_kept_and_answered(client, db):
    response = client.post(
        "/api/chat",
        data='{"sender": "s-1", "text": "\\ud800医保局的人来了"}',
        content_type="application/json",
    )
    assert response.status_code == 200
    stored = db.execute("SELECT text FROM messages WHERE direction = 'in'").fetchone()[0]
    assert stored.endswith("医保局的人来了")


def test_unprintable_sender_is_400(client):
    response = client.post(
        "/api/chat", data='{"sender": "\\ud800", "text": "hi"}', content_type="application/json"
    )
    assert response.status_code == 400


def test_model_loading_in_background_answers_meanwhile(tmp_path, monkeypatch, app_factory):
    import threading

    from nlu import parser as nlu_parser

    release = threading.Event()

    class SlowRasa:
        name = "rasa"

        def __init__(self, _path):
            release.wait(10)

        def parse(self, text):
            return nlu_parser.Parse(text, "greet", 1.0)

    monkeypatch.setattr(nlu_parser, "product_parser", SlowRasa)
    monkeypatch.setattr(nlu_parser, "find_model", lambda _dir: "model.tar.gz")
    background = nlu_parser.BackgroundParser(tmp_path)
    client = app_factory(tmp_path, background).test_client()
    assert client.get("/healthz").get_json()["status"] == "starting"
    assert "96110" in chat(client, "我已经把验证码告诉他们了")[0]  # keywords meanwhile
    release.set()
    background.wait(10)
    assert client.get("/healthz").get_json()["status"] == "ok"
