"""Property-based fuzzing of every webhook: random Unicode and control characters, long
bodies, hostile XML, injection strings, media URLs pointing inside. Never a 500, never a
fetch from a host that is not the provider's, never a raw phone number stored."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from tests.helpers.app import PUBLIC_URL, TWILIO_TOKEN
from tests.helpers.sms import quiet_gateways
from tests.helpers.wechat import WeChatPush

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HOSTILE = [
    "'; DROP TABLE messages; --",
    "1 OR 1=1",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}${7*7}",
    "\x00\x01\x1b[31m",
    "A" * 100_000,
    "验证码" * 5000,
]
INTERNAL_URLS = [
    "http://127.0.0.1/x.png",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "http://localhost:5000/healthz",
    "http://[::1]/a.jpg",
    "gopher://127.0.0.1:25/",
    "http://127.0.0.1\\.qpic.cn/a.jpg",
    "https://api.twilio.com@127.0.0.1/a.png",
]
# No lone surrogates here: the test client cannot encode them (tried raw, below).
chars = st.characters(exclude_categories=["Cs"])
texts = st.one_of(st.text(chars, max_size=300), st.sampled_from(HOSTILE))
PHONE = "+8613812345678"


@pytest.fixture
def no_foreign_fetch(monkeypatch):
    """Fail the test if anything tries to download from a host not on the allowlist."""
    from bot.qr import download

    fetched: list[str] = []
    real_allowed = download.host_allowed

    def guard(url, allowlist):
        ok = real_allowed(url, allowlist)
        return ok

    class NoNetwork:
        def get(self, url, *args, **kwargs):
            fetched.append(url)
            raise AssertionError(f"fetched {url}")

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(download, "host_allowed", guard)
    monkeypatch.setattr(download, "_session", lambda: NoNetwork())
    return fetched


def raw_number_stored(app) -> bool:
    from storage.db import connect

    db = connect(app.config["HOTLINE_DB"])
    try:
        for table in ("messages", "conversations", "inbound_seen", "reports"):
            for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 (fixed names)
                if any(isinstance(v, str) and "13812345678" in v for v in row):
                    return True
        return False
    finally:
        db.conn.close()


def twilio_post(client, params: dict[str, str]):
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + "/sms/twilio", params)
    return client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature})


@FUZZ
@given(
    body=texts,
    media=st.one_of(st.none(), st.sampled_from(INTERNAL_URLS), st.text(max_size=50)),
    num_media=st.one_of(st.just("1"), st.text(max_size=5)),
    extra=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3),
)
def test_twilio_webhook_fuzz(degraded_app, no_foreign_fetch, body, media, num_media, extra):
    params = {**extra, "MessageSid": "SMfuzz", "From": PHONE, "Body": body}
    params["MessageSid"] = f"SM{abs(hash((body, media, num_media))) % 10**12}"
    params["NumMedia"] = num_media
    if media is not None:
        params["MediaUrl0"] = media
        params["MediaContentType0"] = "image/png"
    response = twilio_post(degraded_app.test_client(), params)
    assert response.status_code < 500
    assert no_foreign_fetch == []
    assert not raw_number_stored(degraded_app)


@FUZZ
@given(
    payload=st.one_of(
        st.dictionaries(st.sampled_from(["sender", "text", "x"]), texts, max_size=3),
        st.lists(texts, max_size=3),
        texts,
        st.none(),
        st.integers(),
    )
)
def test_webchat_json_fuzz(degraded_app, payload):
    client = degraded_app.test_client()
    assert client.post("/api/chat", json=payload).status_code < 500
    for raw in (b'{"sender": "s1", "text": "\\ud800"}', b"\xff\xfe{", b'{"text": 1e999}'):
        response = client.post("/api/chat", data=raw, content_type="application/json")
        assert response.status_code < 500


@FUZZ
@given(data=st.binary(max_size=2000), sender=texts, ctype=st.sampled_from(["image/png", "x/y", ""]))
def test_webchat_photo_fuzz(degraded_app, data, sender, ctype):
    import io

    client = degraded_app.test_client()
    response = client.post(
        "/api/chat/photo",
        data={"sender": sender, "photo": (io.BytesIO(data), "a.png", ctype or None)},
        content_type="multipart/form-data",
    )
    assert response.status_code < 500


HOSTILE_XML = [
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<xml><Content>&e;</Content></xml>",
    '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
    '&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml>&c;</xml>',
    "<xml><MsgType>text</MsgType><Content>",
    "<xml>" * 5000,
    "\x00\xff<xml/>",
    "",
]


@FUZZ
@given(
    content=texts,
    msg_type=st.sampled_from(["text", "image", "voice", "event", "location", "", "<x>"]),
    pic_url=st.sampled_from(INTERNAL_URLS),
    raw=st.one_of(st.none(), st.sampled_from(HOSTILE_XML), st.text(max_size=200)),
    safe=st.booleans(),
)
def test_wechat_xml_fuzz(wapp, no_foreign_fetch, content, msg_type, pic_url, raw, safe):
    push = WeChatPush(wapp.test_client(), "oFuzzUser_0123456789abcdef", safe=safe)
    if raw is None:
        fields = {**push.base(msg_type), "Content": content, "PicUrl": pic_url}
        fields["MsgId"] = push.next_id()
        # fields_xml puts values in CDATA; a "]]>" in them is the sender's problem, but
        # must not crash us either.
        response = push.post(fields)
    else:
        import time

        from tests.helpers.wechat import sha1_sorted

        ts, nonce = str(int(time.time())), "1"
        params = {"signature": sha1_sorted(push.token, ts, nonce), "timestamp": ts, "nonce": nonce}
        response = push.post_raw(raw.encode("utf-8"), params)
    assert response.status_code < 500
    assert no_foreign_fetch == []
    assert "root:" not in response.get_data(as_text=True)


@FUZZ
@given(
    items=st.one_of(
        st.lists(
            st.fixed_dictionaries(
                {"phone_number": st.sampled_from(["13812345678", "", "x" * 50])},
                optional={"content": texts, "sequence_id": st.integers(), "send_time": texts},
            ),
            max_size=3,
        ),
        st.dictionaries(st.text(max_size=10), texts, max_size=4),
        texts,
        st.integers(),
    ),
    gateway=st.sampled_from(["aliyun", "tencent"]),
)
def test_gateway_push_fuzz(degraded_app, monkeypatch, items, gateway):
    quiet_gateways(degraded_app, monkeypatch)
    client = degraded_app.test_client()
    response = client.post(f"/sms/{gateway}?token=s", json=items)
    assert response.status_code < 500
    assert not raw_number_stored(degraded_app)


@FUZZ
@given(
    field=st.sampled_from(["signature", "msg_signature", "timestamp", "nonce"]),
    value=st.text(chars, min_size=1, max_size=80),
    safe=st.booleans(),
    method=st.sampled_from(["GET", "POST"]),
)
def test_wechat_signature_params_fuzz(wapp, field, value, safe, method):
    import time

    ts = str(int(time.time()))
    params = {"signature": "0" * 40, "timestamp": ts, "nonce": "1", "echostr": "e"}
    if safe:
        params.update(encrypt_type="aes", msg_signature="0" * 40)
    params[field] = value  # non-ASCII signatures once made compare_digest raise: a 500
    client = wapp.test_client()
    response = client.open(
        "/wechat", method=method, query_string=params, data=b"<xml/>", content_type="text/xml"
    )
    assert response.status_code < 500
