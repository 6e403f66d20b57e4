"""The WeChat Official Account webhook, driven the way WeChat's servers drive it."""

from __future__ import annotations

import io
import time

import pytest
import requests
import segno

from bot.channels.wechat_crypto import signature
from nlu.keywords import KeywordParser
from storage.db import connect
from tests.helpers.police import drain_outbox
from tests.helpers.wechat import (
    TOKEN,
    WeChatPush,
    fields_xml,
    sha1_sorted,
    wechat_app,
)

OPENID = "oHotlineTestUser_0123456789ab"


@pytest.fixture
def follower(wapp):
    return WeChatPush(wapp.test_client(), OPENID)


@pytest.fixture
def safe_follower(wapp):
    return WeChatPush(wapp.test_client(), OPENID, safe=True)


@pytest.fixture
def wdb(wapp):
    database = connect(wapp.config["HOTLINE_DB"])
    yield database
    database.conn.close()


def count(db, sql, params=()):
    return db.execute(sql, list(params)).fetchone()[0]


# -- server verification -------------------------------------------------------------


def test_get_verification_echoes_echostr(follower):
    ts, nonce = "1411443780", "437374425"
    ok = follower.client.get(
        "/wechat",
        query_string={
            "signature": sha1_sorted(TOKEN, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": "hello-123",
        },
    )
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "hello-123"
    bad = follower.client.get(
        "/wechat",
        query_string={"signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": "x"},
    )
    assert bad.status_code == 403


def test_safe_mode_verification_vector(tmp_path, keyword_parser, api, app_factory):
    app = app_factory(
        tmp_path,
        keyword_parser,
        WECHAT_TOKEN="123456",
        WECHAT_ENCODING_AES_KEY="kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
        WECHAT_APPID="wx49f0ab532d5d035a",
    )
    echostr = (
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
    )
    params = {
        "msg_signature": "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
        "timestamp": "1411443780",
        "nonce": "437374425",
        "echostr": echostr,
    }
    client = app.test_client()
    response = client.get("/wechat", query_string=params)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "5927782489442352469"
    assert client.get("/wechat", query_string={**params, "nonce": "1"}).status_code == 403


def test_unconfigured_token_refuses_everything(tmp_path, keyword_parser, app_factory):
    client = app_factory(tmp_path, keyword_parser).test_client()
    params = {"signature": signature("", "1", "2"), "timestamp": "1", "nonce": "2", "echostr": "x"}
    assert client.get("/wechat", query_string=params).status_code == 403
    assert client.post("/wechat", query_string=params, data="<xml/>").status_code == 403


# -- messages ---------------------------------------------------------------------------


def test_plain_text_gets_passive_answer(follower):
    replies = follower.text("村里来了一伙人说是医保局的，是真的吗")
    assert len(replies) == 1
    assert "验证码" in replies[0] and "12393" in replies[0]


def test_encrypted_round_trip(safe_follower, wdb):
    response = safe_follower.post(
        {**safe_follower.base("text"), "Content": "1", "MsgId": safe_follower.next_id()}
    )
    assert "12393" not in response.get_data(as_text=True)  # the answer travels encrypted
    replies = safe_follower.replies(response)
    assert len(replies) == 1 and "12393" in replies[0]
    assert count(wdb, "SELECT count(*) FROM messages WHERE direction = 'in'") == 1


@pytest.mark.parametrize("safe", [False, True])
def test_bad_signature_is_403_and_nothing_is_processed(wapp, wdb, safe):
    push = WeChatPush(wapp.test_client(), OPENID, safe=safe)
    fields = {**push.base("text"), "Content": "你好", "MsgId": push.next_id()}
    assert push.post(fields, bad_signature=True).status_code == 403
    wrong_token = WeChatPush(wapp.test_client(), OPENID, safe=safe, token="not-the-token")
    assert wrong_token.post(fields).status_code == 403
    assert count(wdb, "SELECT count(*) FROM messages") == 0


def test_encrypted_garbage_with_valid_signature_is_400(safe_follower):
    ts, nonce, garbage = str(int(time.time())), "42", "QUJDREVGR0hJSktMTU5PUA=="
    params = {
        "signature": sha1_sorted(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sha1_sorted(TOKEN, ts, nonce, garbage),
    }
    body = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
    assert safe_follower.post_raw(body, params).status_code == 400


XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content><MsgId>2</MsgId></xml>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS, "<xml><unclosed>", "", "<notxml/>"])
def test_hostile_or_broken_xml_is_400(follower, wdb, payload):
    ts, nonce = str(int(time.time())), "7"
    params = {"signature": sha1_sorted(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    started = time.monotonic()
    response = follower.post_raw(payload.format(openid=OPENID), params)
    assert response.status_code == 400
    assert time.monotonic() - started < 2  # refused, not expanded
    assert "root:" not in response.get_data(as_text=True)
    assert count(wdb, "SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize("safe", [False, True])
def test_same_msgid_three_times_one_answer(wapp, wdb, safe):
    push = WeChatPush(wapp.test_client(), OPENID, safe=safe)
    fields = {**push.base("text"), "Content": "1", "MsgId": push.next_id()}
    answers = [push.replies(push.post(fields)) for _ in range(3)]
    assert answers[0] and answers[0] == answers[1] == answers[2]
    assert count(wdb, "SELECT count(*) FROM messages WHERE direction = 'in'") == 1
    assert count(wdb, "SELECT count(*) FROM messages WHERE direction = 'out'") == len(answers[0])
    assert count(wdb, "SELECT count(*) FROM inbound_seen WHERE provider = 'wechat'") == 1


def test_subscribe_event_welcomes_with_menu_once(follower, wdb):
    fields = {**follower.base("event", create_time=1700000001), "Event": "subscribe"}
    first = follower.replies(follower.post(fields))
    retry = follower.replies(follower.post(fields))
    assert first == retry
    assert "欢迎关注" in first[0] and "回复数字" in first[0]
    assert count(wdb, "SELECT count(*) FROM messages WHERE direction = 'out'") == 2


def test_unsubscribe_event_stops_pushes(follower, wdb, wapp):
    assert "已为您订阅" in follower.text("6")[0]
    vault = wapp.extensions["hotline_vault"]
    row = wdb.execute(
        "SELECT status, channel FROM subscribers WHERE contact_hash = ?", [vault.hash(OPENID)]
    ).fetchone()
    assert row == ("active", "wechat")
    fields = {**follower.base("event"), "Event": "unsubscribe"}
    response = follower.post(fields)
    assert response.get_data(as_text=True) == "success"
    status = wdb.execute(
        "SELECT status FROM subscribers WHERE contact_hash = ?", [vault.hash(OPENID)]
    ).fetchone()[0]
    assert status == "opted_out"


def test_voice_uses_recognition_or_asks_for_text(follower):
    fields = {
        **follower.base("voice"),
        "MediaId": "media-1",
        "Format": "amr",
        "Recognition": "有人要借我手机",
        "MsgId": follower.next_id(),
    }
    assert "手机别借给" in follower.replies(follower.post(fields))[0]
    no_text = {**fields, "Recognition": "", "MsgId": follower.next_id()}
    assert "打字" in follower.replies(follower.post(no_text))[0]


def test_unsupported_message_type_gets_a_clear_reply(follower):
    fields = {**follower.base("location"), "Location_X": "23.1", "MsgId": follower.next_id()}
    assert "打字" in follower.replies(follower.post(fields))[0]


def test_openid_is_never_stored_in_clear(follower, wdb):
    follower.text("6")
    follower.post({**follower.base("event", create_time=5), "Event": "subscribe"})
    follower.post({**follower.base("event", create_time=6), "Event": "unsubscribe"})
    for table in wdb.table_names():
        for row in wdb[table].rows:
            assert OPENID not in repr(row), table


# -- photos ---------------------------------------------------------------------------


class ImageAdapter(requests.adapters.BaseAdapter):
    """WeChat's media host, served from memory (no network)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "image/png"
        response.raw = io.BytesIO(self.data)
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def test_image_message_gets_a_qr_verdict(follower, monkeypatch):
    png = io.BytesIO()
    segno.make("http://t.cn/A6abcdEf").save(png, kind="png", scale=6)
    adapter = ImageAdapter(png.getvalue())

    def session():
        s = requests.Session()
        s.mount("http://mmbiz.qpic.cn/", adapter)
        return s

    monkeypatch.setattr("bot.qr.download._session", session)
    fields = {
        **follower.base("image"),
        "PicUrl": "http://mmbiz.qpic.cn/mmbiz_jpg/abc/0",
        "MediaId": "m1",
        "MsgId": follower.next_id(),
    }
    replies = follower.replies(follower.post(fields))
    assert "短链接" in replies[0]
    assert adapter.urls == ["http://mmbiz.qpic.cn/mmbiz_jpg/abc/0"]


def test_image_on_a_foreign_host_is_not_fetched(follower, monkeypatch):
    def no_session():
        raise AssertionError("no request may be made")

    monkeypatch.setattr("bot.qr.download._session", no_session)
    fields = {
        **follower.base("image"),
        "PicUrl": "http://169.254.169.254/latest/meta-data",
        "MediaId": "m2",
        "MsgId": follower.next_id(),
    }
    assert "没收到" in follower.replies(follower.post(fields))[0]


# -- the 5-second rule ------------------------------------------------------------------


class SlowParser(KeywordParser):
    def parse(self, text):
        time.sleep(0.6)
        return super().parse(text)


def test_slow_answer_goes_through_customer_service_api(tmp_path, api, app_factory):
    app = wechat_app(app_factory, tmp_path, SlowParser(), api, WECHAT_REPLY_WAIT="0.05")
    push = WeChatPush(app.test_client(), OPENID)
    fields = {**push.base("text"), "Content": "村里来了一伙人说是医保局的，是真的吗"}
    fields["MsgId"] = push.next_id()
    started = time.monotonic()
    response = push.post(fields)
    assert time.monotonic() - started < 0.5
    assert response.get_data(as_text=True) == "success"
    db = connect(app.config["HOTLINE_DB"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if count(db, "SELECT count(*) FROM outbox WHERE kind = 'late_answer'"):
            break
        time.sleep(0.02)
    # The answer is an outbox row; the drain (the scheduler's, woken at once) sends it.
    drain_outbox(app)
    sent = api.wait_for_sent(1)
    assert len(sent) == 1
    assert sent[0]["touser"] == OPENID and sent[0]["msgtype"] == "text"
    assert "12393" in sent[0]["text"]["content"]
    status = db.execute("SELECT status FROM outbox WHERE kind = 'late_answer'").fetchone()
    assert status == ("sent",)
    # WeChat's retry of the same message gets `success`, not a second answer.
    assert push.post(fields).get_data(as_text=True) == "success"
    time.sleep(0.8)
    drain_outbox(app)
    assert len(api.sent) == 1
    assert count(db, "SELECT count(*) FROM messages WHERE direction = 'in'") == 1
    db.conn.close()


def test_old_signed_push_cannot_be_replayed(follower):
    # A signature seen once (logs, a proxy) signs only token + timestamp + nonce.
    stale = str(int(time.time()) - 3600)
    nonce = "42"
    params = {"signature": sha1_sorted(TOKEN, stale, nonce), "timestamp": stale, "nonce": nonce}
    body = fields_xml({**follower.base("text"), "Content": "退订", "MsgId": follower.next_id()})
    assert follower.post_raw(body, params).status_code == 403


def test_plain_push_refused_when_safe_mode_is_configured(
    tmp_path, keyword_parser, api, app_factory
):
    app = wechat_app(app_factory, tmp_path, keyword_parser, api, WECHAT_ALLOW_PLAIN="false")
    plain, safe = WeChatPush(app.test_client(), OPENID), WeChatPush(app.test_client(), OPENID, True)
    assert plain.post({**plain.base("text"), "Content": "你好", "MsgId": "1"}).status_code == 403
    assert safe.text("你好")  # the encrypted push is answered
