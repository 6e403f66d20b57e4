"""Mainland-China SMS gateways: Aliyun / Tencent reply pushes in, replies and pushes out."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

import responses
from bot.channels.aliyun_sms import AliyunSms
from bot.channels.tencent_sms import TencentSms
from messaging import outbox as messaging_outbox
from messaging.providers import base as senders
from messaging.providers.aliyun import AliyunSender
from messaging.providers.base import SendResult, make_sender
from messaging.providers.gateway import contains_url, strip_signature
from messaging.providers.tencent import TencentSender
from storage.db import connect
from tests.helpers.sms import (
    ALIYUN_CONFIG,
    ALIYUN_SECRET,
    PHONE,
    TENCENT_CONFIG,
    TENCENT_SECRET,
    FakeGateway,
    RecordingSender,
    aliyun_item,
    aliyun_ok,
    drain_outbox,
    tencent_error,
    tencent_item,
    tencent_ok,
)

# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def gw_app(degraded_app):
    degraded_app.config["ALIYUN_SMS_WEBHOOK_SECRET"] = ALIYUN_SECRET
    degraded_app.config["TENCENT_SMS_WEBHOOK_SECRET"] = TENCENT_SECRET
    return degraded_app


@pytest.fixture
def gw_client(gw_app):
    return gw_app.test_client()


@pytest.fixture
def gw_db(gw_app):
    database = connect(gw_app.config["HOTLINE_DB"])
    yield database
    database.conn.close()


@pytest.fixture
def drains(degraded_app):
    """What the scheduler does when the webhook wakes it (jobs.runner.run_now of the
    drain tick): drain the outbox, here at once in the test's thread. Yields the wakes."""
    wakes: list[int] = []

    def drain_now() -> None:
        wakes.append(1)
        drain_outbox(degraded_app)

    messaging_outbox.set_waker(drain_now)
    yield wakes
    messaging_outbox.set_waker(None)


@pytest.fixture
def outbox(monkeypatch, drains):
    """Replies to gateway pushes are outbox rows, sent by the woken drain through this
    sender instead of a real gateway."""
    sender = RecordingSender("aliyun")
    monkeypatch.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: sender)
    return sender


def reply_rows(db) -> list[dict]:
    return list(db.query("SELECT * FROM outbox WHERE kind = 'reply' ORDER BY id"))


@pytest.fixture
def fake_gateway():
    gateway = FakeGateway()
    yield gateway
    gateway.close()


def aliyun_push(client, items, token: str | None = ALIYUN_SECRET):
    url = "/sms/aliyun" + (f"?token={token}" if token is not None else "")
    return client.post(url, json=items)


def tencent_push(client, body, token: str | None = TENCENT_SECRET):
    url = "/sms/tencent" + (f"?token={token}" if token is not None else "")
    return client.post(url, json=body)


def inbound_texts(db, vault, phone: str = PHONE) -> list[str]:
    rows = db.execute(
        "SELECT text FROM messages WHERE sender_hash = ? AND direction = 'in' ORDER BY id",
        [vault.hash(phone)],
    ).fetchall()
    return [r[0] for r in rows]


def subscriber_status(db, vault, phone: str = PHONE) -> str | None:
    row = db.execute(
        "SELECT status FROM subscribers WHERE contact_hash = ?", [vault.hash(phone)]
    ).fetchone()
    return row[0] if row else None


# --- Aliyun reply push --------------------------------------------------------------


def test_aliyun_push_is_answered_by_sms(gw_client, gw_app, gw_db, outbox):
    response = aliyun_push(gw_client, [aliyun_item("我已经把验证码告诉他们了 怎么办", 101)])
    assert response.status_code == 200
    assert response.get_json() == {"code": 0, "msg": "接收成功"}
    assert outbox.sent, "the reply goes out through the SMS sender"
    to, text = outbox.sent[0]
    assert to == PHONE
    assert "110" in text and "96110" in text
    vault = gw_app.extensions["hotline_vault"]
    assert inbound_texts(gw_db, vault) == ["我已经把验证码告诉他们了 怎么办"]


def test_aliyun_batch_answers_every_message(gw_client, outbox):
    response = aliyun_push(
        gw_client,
        [aliyun_item("1", 201), aliyun_item("1", 202, phone="13900001111")],
    )
    assert response.get_json()["code"] == 0
    assert sorted(to for to, _ in outbox.sent) == ["13812345678", "13900001111"]
    assert outbox.sent[0][1] == responses.answer("verify_team")[0]


def test_aliyun_repeated_push_is_stored_and_answered_once(gw_client, gw_app, gw_db, outbox):
    item = aliyun_item("村里来了一伙人说是医保局的，是真的吗", 301)
    first = aliyun_push(gw_client, [item])
    sent_after_first = list(outbox.sent)
    second = aliyun_push(gw_client, [item])
    assert first.status_code == second.status_code == 200
    assert second.get_json() == {"code": 0, "msg": "接收成功"}
    assert outbox.sent == sent_after_first and len(sent_after_first) >= 1
    vault = gw_app.extensions["hotline_vault"]
    assert inbound_texts(gw_db, vault) == ["村里来了一伙人说是医保局的，是真的吗"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"phone_number": "13812345678"}',
        b"[1, 2]",
        b'[{"phone_number": "13812345678", "content": "hi"}]',
        b'[{"phone_number": null, "content": "hi", "sequence_id": 5}]',
        b'"just a string"',
    ],
)
def test_aliyun_malformed_push_is_400_json(gw_client, outbox, body):
    response = gw_client.post(
        f"/sms/aliyun?token={ALIYUN_SECRET}", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["code"] != 0
    assert outbox.sent == []


def test_aliyun_malformed_element_skipped_rest_answered(gw_client, outbox):
    response = aliyun_push(gw_client, [{"content": "no phone"}, aliyun_item("1", 401)])
    assert response.get_json()["code"] == 0
    assert len(outbox.sent) == 1


@pytest.mark.parametrize("token", [None, "", "wrong-secret", ALIYUN_SECRET + "x"])
def test_aliyun_missing_or_wrong_secret_is_403(gw_client, outbox, token):
    response = aliyun_push(gw_client, [aliyun_item("你好", 501)], token=token)
    assert response.status_code == 403
    assert response.get_json()["code"] != 0
    assert outbox.sent == []


def test_aliyun_secret_not_configured_refuses_and_logs(degraded_app, outbox, caplog):
    degraded_app.config["ALIYUN_SMS_WEBHOOK_SECRET"] = None
    with caplog.at_level(logging.ERROR):
        response = aliyun_push(degraded_app.test_client(), [aliyun_item("你好", 502)], token="x")
    assert response.status_code == 403
    assert "ALIYUN_SMS_WEBHOOK_SECRET is not set" in caplog.text


def test_aliyun_opt_out_word_unsubscribes(gw_client, gw_app, gw_db, outbox):
    vault = gw_app.extensions["hotline_vault"]
    aliyun_push(gw_client, [aliyun_item("订阅", 601)])
    assert subscriber_status(gw_db, vault) == "active"
    aliyun_push(gw_client, [aliyun_item("T", 602)])
    assert subscriber_status(gw_db, vault) == "opted_out"
    # The same person as Twilio spells them (+86...) is opted out too.
    assert subscriber_status(gw_db, vault, "+86" + PHONE) == "opted_out"
    assert outbox.sent[-1] == (PHONE, responses.answer("unsubscribe")[0])


# --- Tencent reply push -------------------------------------------------------------


def test_tencent_push_is_answered_by_sms(gw_client, gw_app, gw_db, outbox):
    response = tencent_push(gw_client, tencent_item("我已经把验证码告诉他们了 怎么办"))
    assert response.status_code == 200
    assert response.get_json() == {"result": 0, "errmsg": "OK"}
    to, text = outbox.sent[0]
    assert to in ("+86" + PHONE, PHONE)
    assert "96110" in text
    vault = gw_app.extensions["hotline_vault"]
    assert inbound_texts(gw_db, vault) == ["我已经把验证码告诉他们了 怎么办"]


def test_tencent_accepts_a_list(gw_client, outbox):
    response = tencent_push(gw_client, [tencent_item("1"), tencent_item("1", mobile="13900001111")])
    assert response.get_json() == {"result": 0, "errmsg": "OK"}
    assert len(outbox.sent) == 2


def test_tencent_repeated_push_is_stored_and_answered_once(gw_client, gw_app, gw_db, outbox):
    item = tencent_item("村里来了一伙人说是医保局的，是真的吗", when=1714528900)
    tencent_push(gw_client, item)
    sent = list(outbox.sent)
    assert tencent_push(gw_client, item).get_json()["result"] == 0
    assert outbox.sent == sent and sent
    vault = gw_app.extensions["hotline_vault"]
    assert inbound_texts(gw_db, vault) == ["村里来了一伙人说是医保局的，是真的吗"]
    # Same words at another time: a new message.
    tencent_push(gw_client, {**item, "time": 1714529000})
    assert len(inbound_texts(gw_db, vault)) == 2


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"mobile": "13812345678", "text": "hi"}',
        b'{"mobile": "", "text": "hi", "time": 1}',
        b"[]",
        b"42",
    ],
)
def test_tencent_malformed_push_is_400_json(gw_client, outbox, body):
    response = gw_client.post(
        f"/sms/tencent?token={TENCENT_SECRET}", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["result"] != 0
    assert outbox.sent == []


@pytest.mark.parametrize("token", [None, "", "nope"])
def test_tencent_missing_or_wrong_secret_is_403(gw_client, outbox, token):
    response = tencent_push(gw_client, tencent_item("你好"), token=token)
    assert response.status_code == 403
    assert outbox.sent == []


def test_tencent_secret_not_configured_refuses_and_logs(degraded_app, outbox, caplog):
    with caplog.at_level(logging.ERROR):
        response = tencent_push(degraded_app.test_client(), tencent_item("你好"), token="")
    assert response.status_code == 403
    assert "TENCENT_SMS_WEBHOOK_SECRET is not set" in caplog.text


def test_tencent_opt_out_word_unsubscribes(gw_client, gw_app, gw_db, outbox):
    vault = gw_app.extensions["hotline_vault"]
    tencent_push(gw_client, tencent_item("订阅", when=1))
    tencent_push(gw_client, tencent_item("td", when=2))
    assert subscriber_status(gw_db, vault) == "opted_out"


# --- Aliyun sender (official SDK: alibabacloud-dysmsapi20170525) ----------------------


def aliyun_sender(gateway: FakeGateway, **extra: str) -> AliyunSms:
    return AliyunSms({**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url, **extra})


def acs3_encode(value: str) -> str:
    """RFC 3986 percent-encoding as Alibaba Cloud's signature v3 documents it."""
    return quote(value, safe="-_.~")


def acs3_authorization(req: dict, key_id: str, secret: str) -> str:
    """ACS3-HMAC-SHA256 recomputed from the received request, apart from the SDK
    (Alibaba Cloud "V3 request signature": canonical request, then HMAC-SHA256)."""
    headers = {k.lower(): v.strip() for k, v in req["headers"].items()}
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    url = urlsplit(req["path"])
    query = sorted(parse_qsl(url.query, keep_blank_values=True))
    canonical = "\n".join(
        [
            "POST",
            url.path or "/",
            "&".join(f"{acs3_encode(k)}={acs3_encode(v)}" for k, v in query),
            "".join(f"{name}:{headers[name]}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(req["body"]).hexdigest(),
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"ACS3-HMAC-SHA256 Credential={key_id},SignedHeaders={';'.join(signed)},"
        f"Signature={signature}"
    )


def sent_params(req: dict) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(req["path"]).query, keep_blank_values=True))


def test_aliyun_send_request_shape_and_signature(fake_gateway, caplog):
    fake_gateway.answer((200, aliyun_ok("900^0")))
    text = "【村村反诈】陌生人说医保卡要升级，是骗子。拨打96110。 a*b~c"
    with caplog.at_level(logging.DEBUG):
        result = aliyun_sender(fake_gateway).send("+86 138-1234-5678", text)
    assert result == SendResult(True, "900^0")
    (req,) = fake_gateway.requests
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["x-acs-action"] == "SendSms"
    assert headers["x-acs-version"] == "2017-05-25"
    sent_at = dt.datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs((now - sent_at).total_seconds()) < 300
    params = sent_params(req)
    assert params["PhoneNumbers"] == PHONE
    assert params["SignName"] == "村村反诈"
    assert params["TemplateCode"] == "SMS_123"
    # The gateway adds 【村村反诈】 itself: the text's own copy is dropped, not doubled.
    assert json.loads(params["TemplateParam"]) == {
        "content": "陌生人说医保卡要升级，是骗子。拨打96110。 a*b~c"
    }
    assert headers["authorization"] == acs3_authorization(req, "LTAItest", "secret-key")
    assert {"host", "x-acs-date", "x-acs-signature-nonce"} <= set(
        headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    )
    # A fresh nonce per request (Aliyun refuses a replayed one).
    aliyun_sender(fake_gateway).send(PHONE, "再发一条")
    second = {k.lower(): v for k, v in fake_gateway.requests[1]["headers"].items()}
    assert second["x-acs-signature-nonce"] != headers["x-acs-signature-nonce"]
    assert PHONE not in caplog.text


def test_aliyun_template_send(fake_gateway):
    fake_gateway.answer((200, aliyun_ok("901^0")))
    result = aliyun_sender(fake_gateway).send_template(
        PHONE, "SMS_987", {"village": "石桥村", "count": 3}
    )
    assert result == SendResult(True, "901^0")
    params = sent_params(fake_gateway.requests[0])
    assert params["TemplateCode"] == "SMS_987"
    assert params["SignName"] == "村村反诈"
    # Aliyun takes string values only.
    assert json.loads(params["TemplateParam"]) == {"village": "石桥村", "count": "3"}


def test_aliyun_template_needs_named_params(fake_gateway):
    result = aliyun_sender(fake_gateway).send_template(PHONE, "SMS_987", ["石桥村"])
    assert (result.ok, result.error_code, result.outcome) == (
        False,
        "template_params_not_named",
        "give_up",
    )
    assert fake_gateway.requests == []


@pytest.mark.parametrize(
    ("status", "body", "code", "outcome"),
    [
        (
            200,
            {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"},
            "isv.MOBILE_NUMBER_ILLEGAL",
            "give_up",
        ),
        (
            200,
            {"Code": "isv.PARAM_NOT_SUPPORT_URL", "Message": "不支持url"},
            "isv.PARAM_NOT_SUPPORT_URL",
            "give_up",
        ),
        (
            200,
            {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"},
            "isv.BUSINESS_LIMIT_CONTROL",
            "retry",
        ),
        (
            200,
            {"Code": "isv.DAY_LIMIT_CONTROL", "Message": "日限"},
            "isv.DAY_LIMIT_CONTROL",
            "retry",
        ),
        (200, {"Code": "isp.SYSTEM_ERROR", "Message": "x"}, "isp.SYSTEM_ERROR", "retry"),
        # 4xx / 5xx answers reach us as the SDK's TeaException, with the API's code.
        (
            400,
            {"Code": "Throttling.User", "Message": "Request was denied"},
            "Throttling.User",
            "retry",
        ),
        (
            400,
            {"Code": "SignatureDoesNotMatch", "Message": "bad"},
            "SignatureDoesNotMatch",
            "give_up",
        ),
        (404, {"Message": "no code"}, "http_404", "retry"),
        (500, b"<html>oops</html>", "bad_response", "retry"),
        (200, {"Message": "no code at all"}, "no_code", "retry"),
    ],
)
def test_aliyun_errors_classified(fake_gateway, status, body, code, outcome):
    fake_gateway.answer((status, body))
    result = aliyun_sender(fake_gateway).send(PHONE, "提醒")
    assert (result.ok, result.error_code, result.outcome) == (False, code, outcome)
    assert len(fake_gateway.requests) == 1, "the SDK's own retries are off: the outbox retries"


def test_aliyun_unreachable_is_transient(fake_gateway):
    url = fake_gateway.url
    fake_gateway.close()
    sender = AliyunSms({**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": url, "SMS_GATEWAY_TIMEOUT": "2"})
    result = sender.send(PHONE, "提醒")
    assert (result.ok, result.error_code, result.outcome) == (False, "network_error", "retry")


# --- Tencent sender (official SDK, TC3-HMAC-SHA256) -----------------------------------


def tencent_sender(gateway: FakeGateway) -> TencentSms:
    return TencentSms({**TENCENT_CONFIG, "TENCENT_SMS_ENDPOINT": gateway.url})


def tc3_authorization(req: dict, secret_id: str, secret_key: str) -> str:
    """TC3-HMAC-SHA256 recomputed from the received request, apart from the SDK."""
    headers = {k.lower(): v for k, v in req["headers"].items()}
    timestamp = int(headers["x-tc-timestamp"])
    date = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{headers['content-type']}\nhost:{headers['host']}\n",
            "content-type;host",
            hashlib.sha256(req["body"]).hexdigest(),
        ]
    )
    scope = f"{date}/sms/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = mac(mac(mac(("TC3" + secret_key).encode(), date), "sms"), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


def test_tencent_send_request_shape_and_signature(fake_gateway, caplog):
    fake_gateway.answer((200, tencent_ok()))
    with caplog.at_level(logging.DEBUG):
        result = tencent_sender(fake_gateway).send(
            PHONE, "【村村反诈】陌生人说医保卡要升级，是骗子。"
        )
    assert result == SendResult(True, "5000:1045710669157053657849499619")
    (req,) = fake_gateway.requests
    headers = req["headers"]
    assert headers["X-TC-Action"] == "SendSms"
    assert headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert abs(int(headers["X-TC-Timestamp"]) - time.time()) < 300
    assert json.loads(req["body"]) == {
        "PhoneNumberSet": ["+8613812345678"],
        "SmsSdkAppId": "1400000001",
        "SignName": "村村反诈",
        "TemplateId": "123456",
        "TemplateParamSet": ["陌生人说医保卡要升级，是骗子。"],
    }
    assert headers["Authorization"] == tc3_authorization(req, "AKIDtest", "tc-secret-key")
    assert PHONE not in caplog.text


def test_tencent_template_send(fake_gateway):
    fake_gateway.answer((200, tencent_ok(serial="5000:2")))
    sender = tencent_sender(fake_gateway)
    assert sender.send_template(PHONE, "777", {"2": "3", "1": "石桥村"}).provider_id == "5000:2"
    assert sender.send_template(PHONE, "778", ["石桥村", "3"]).ok
    first, second = (json.loads(r["body"]) for r in fake_gateway.requests)
    assert (first["TemplateId"], first["TemplateParamSet"]) == ("777", ["石桥村", "3"])
    assert (second["TemplateId"], second["TemplateParamSet"]) == ("778", ["石桥村", "3"])
    assert first["SignName"] == "村村反诈"


@pytest.mark.parametrize(
    ("answer", "code", "outcome"),
    [
        (
            tencent_ok("InvalidParameterValue.IncorrectPhoneNumber"),
            "InvalidParameterValue.IncorrectPhoneNumber",
            "give_up",
        ),
        (
            tencent_ok("FailedOperation.PhoneNumberInBlacklist"),
            "FailedOperation.PhoneNumberInBlacklist",
            "opted_out",
        ),
        (
            tencent_ok("LimitExceeded.PhoneNumberDailyLimit"),
            "LimitExceeded.PhoneNumberDailyLimit",
            "retry",
        ),
        (tencent_error("AuthFailure.SignatureFailure"), "AuthFailure.SignatureFailure", "give_up"),
        (tencent_error("RequestLimitExceeded"), "RequestLimitExceeded", "retry"),
        (tencent_error("InternalError.Timeout"), "InternalError.Timeout", "retry"),
    ],
)
def test_tencent_errors_in_200_classified(fake_gateway, answer, code, outcome):
    fake_gateway.answer((200, answer))
    result = tencent_sender(fake_gateway).send(PHONE, "提醒")
    assert (result.ok, result.error_code, result.outcome) == (False, code, outcome)


def test_tencent_http_error_is_transient(fake_gateway):
    fake_gateway.answer((502, b"bad gateway"))
    result = tencent_sender(fake_gateway).send(PHONE, "提醒")
    assert result.ok is False and result.outcome == "retry"


# --- domestic SMS rules: no links, the gateway's signature ----------------------------


@pytest.mark.parametrize(
    "text",
    [
        "详情见 http://example.cn/x",
        "点 https://t.cn/abc 领取",
        "登录www.fake-bank.com查看",
        "访问 nhsa-gov.top/check 核实",
        "官网 HTTPS://WWW.GOV.CN",
    ],
)
def test_texts_with_urls_are_refused_not_sent(fake_gateway, text):
    fake_gateway.answer((200, aliyun_ok()))
    for sender in (aliyun_sender(fake_gateway), tencent_sender(fake_gateway)):
        result = sender.send(PHONE, text)
        assert result == SendResult(False, None, "url_not_allowed", permanent=True)
        assert sender.send_template(PHONE, "T1", {"content": text}).error_code == (
            "url_not_allowed"
        )
    assert fake_gateway.requests == []


@pytest.mark.parametrize(
    "text",
    ["拨打96110或110。", "每斤3.5元，别信。", "回T退订", "验证码不要告诉任何人，包括'客服'。"],
)
def test_plain_texts_are_not_mistaken_for_urls(text):
    assert not contains_url(text)


def test_only_a_leading_signature_is_dropped():
    assert strip_signature("【村村反诈】紧急提醒：别扫码") == "紧急提醒：别扫码"
    assert strip_signature("别信【假客服】的话") == "别信【假客服】的话"
    assert strip_signature("没有签名") == "没有签名"


# --- configuration: SMS_PROVIDER=aliyun|tencent --------------------------------------


def test_make_sender_builds_gateway_providers():
    assert isinstance(make_sender(ALIYUN_CONFIG), AliyunSender)
    assert isinstance(make_sender(TENCENT_CONFIG), TencentSender)


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({**ALIYUN_CONFIG, "ALIYUN_SMS_TEMPLATE_CODE": None}, "ALIYUN_SMS_TEMPLATE_CODE"),
        ({**TENCENT_CONFIG, "TENCENT_SECRET_KEY": ""}, "TENCENT_SECRET_KEY"),
    ],
)
def test_make_sender_names_missing_settings(config, missing):
    with pytest.raises(RuntimeError, match=missing):
        make_sender(config)


def test_aliyun_push_answered_through_configured_aliyun_gateway(gw_app, fake_gateway, drains):
    """End to end: SMS_PROVIDER=aliyun, the reply goes to the (fake) Aliyun API."""
    gw_app.config.update(ALIYUN_CONFIG, ALIYUN_SMS_ENDPOINT=fake_gateway.url)
    fake_gateway.answer((200, aliyun_ok()))
    response = aliyun_push(gw_app.test_client(), [aliyun_item("1", 901)])
    assert response.get_json()["code"] == 0
    (req,) = fake_gateway.requests
    params = sent_params(req)
    assert params["PhoneNumbers"] == PHONE
    assert json.loads(params["TemplateParam"]) == {"content": responses.answer("verify_team")[0]}


def test_tencent_push_answered_through_configured_tencent_gateway(gw_app, fake_gateway, drains):
    gw_app.config.update(TENCENT_CONFIG, TENCENT_SMS_ENDPOINT=fake_gateway.url)
    fake_gateway.answer((200, tencent_ok()))
    response = tencent_push(gw_app.test_client(), tencent_item("1"))
    assert response.get_json()["result"] == 0
    (req,) = fake_gateway.requests
    body = json.loads(req["body"])
    assert body["PhoneNumberSet"] == ["+8613812345678"]
    assert body["TemplateParamSet"] == [responses.answer("verify_team")[0]]


def test_gateway_failure_does_not_fail_the_push(gw_app, fake_gateway, drains):
    """A reply the gateway refuses is logged; the push is still acknowledged (a retry
    would not help and the message is stored)."""
    gw_app.config.update(ALIYUN_CONFIG, ALIYUN_SMS_ENDPOINT=fake_gateway.url)
    fake_gateway.answer((200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "流控"}))
    response = aliyun_push(gw_app.test_client(), [aliyun_item("1", 902)])
    assert response.status_code == 200 and response.get_json()["code"] == 0


def test_webhook_urls_are_csrf_exempt_and_registered(gw_app):
    rules = {r.rule for r in gw_app.url_map.iter_rules()}
    assert {"/sms/aliyun", "/sms/aliyun/report", "/sms/tencent", "/sms/tencent/status"} <= rules
    assert {"aliyun_sms", "tencent_sms"} <= set(gw_app.blueprints)


@pytest.mark.parametrize("name", ["aliyun", "tencent"])
def test_lost_answer_is_in_doubt_not_retried(fake_gateway, name):
    """The request went out, the answer timed out: the gateway may have sent it, so
    the outbox must not resend (``in_doubt``, permanent) and text the villager twice."""
    handler = fake_gateway.server.RequestHandlerClass
    answer = handler.do_POST

    def slow(self):
        time.sleep(1.5)
        answer(self)

    handler.do_POST = slow
    fake_gateway.answer((200, aliyun_ok() if name == "aliyun" else tencent_ok()))
    if name == "aliyun":
        sender = aliyun_sender(fake_gateway, SMS_GATEWAY_TIMEOUT="0.5")
    else:
        sender = TencentSms(
            {
                **TENCENT_CONFIG,
                "TENCENT_SMS_ENDPOINT": fake_gateway.url,
                "SMS_GATEWAY_TIMEOUT": "0.5",
            }
        )
    result = sender.send(PHONE, "提醒")
    assert (result.ok, result.error_code, result.permanent) == (False, "in_doubt", True)
    time.sleep(1.2)  # the gateway did get it (recorded once its slow answer is written)
    assert len(fake_gateway.requests) == 1


# --- replies are rows of the one outbox -------------------------------------------------


class FlakySender(RecordingSender):
    """Refuses its first sends with a passing error (the gateway's flow control)."""

    def __init__(self, name: str, failures: int) -> None:
        super().__init__(name)
        self.failures = failures
        self.calls = 0

    def send(self, to: str, text: str) -> SendResult:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            return SendResult(False, None, "isv.BUSINESS_LIMIT_CONTROL")
        return super().send(to, text)


GATEWAY_PUSHES = {
    "aliyun": (
        lambda client, text: aliyun_push(client, [aliyun_item(text, 7001)]),
        {"code": 0, "msg": "接收成功"},
    ),
    "tencent": (
        lambda client, text: tencent_push(client, tencent_item(text, when=1714530000)),
        {"result": 0, "errmsg": "OK"},
    ),
}


@pytest.mark.parametrize("gateway", sorted(GATEWAY_PUSHES))
def test_a_reply_is_an_outbox_row_sent_once(gw_client, gw_app, gw_db, outbox, drains, gateway):
    push, expected = GATEWAY_PUSHES[gateway]
    response = push(gw_client, "1")
    assert response.status_code == 200 and response.get_json() == expected
    (row,) = reply_rows(gw_db)
    assert row["priority"] == max(messaging_outbox.PRIORITY.values())
    assert row["urgent"] == 1 and row["channel"] == "sms" and row["source"] == gateway
    assert row["status"] == "sent" and row["attempts"] == 1
    assert PHONE not in str(row) and row["contact_masked"] == "138****5678"
    assert drains == [1], "the webhook woke the drain once"
    assert outbox.sent == [(PHONE, responses.answer("verify_team")[0])]
    # The gateway pushes it again (it missed our answer): no new row, no second SMS.
    assert push(gw_client, "1").get_json() == expected
    assert len(reply_rows(gw_db)) == 1 and len(outbox.sent) == 1
    assert drain_outbox(gw_app).handled == 0 and len(outbox.sent) == 1


@pytest.mark.parametrize("gateway", sorted(GATEWAY_PUSHES))
def test_a_failed_reply_is_recorded_and_retried(gw_client, gw_app, gw_db, drains, gateway):
    push, expected = GATEWAY_PUSHES[gateway]
    sender = FlakySender(gateway, failures=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: sender)
        assert push(gw_client, "1").get_json() == expected
        (row,) = reply_rows(gw_db)
        # The attempt is on the row: tried once, refused, due again after the backoff.
        assert row["status"] == "pending" and row["attempts"] == 1
        assert row["error_code"] == "isv.BUSINESS_LIMIT_CONTROL" and sender.sent == []
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
        assert drain_outbox(gw_app, at=later).sent == 1
        assert drain_outbox(gw_app, at=later).handled == 0
    (row,) = reply_rows(gw_db)
    assert row["status"] == "sent" and row["attempts"] == 2
    assert sender.calls == 2 and sender.sent == [(PHONE, responses.answer("verify_team")[0])]


@pytest.mark.parametrize("gateway", sorted(GATEWAY_PUSHES))
def test_a_reply_waits_in_the_outbox_when_no_drain_runs_here(gw_client, gw_app, gw_db, gateway):
    """No scheduler in this process (another worker leads): the answer and its row are
    stored together, and the leader's next tick sends it."""
    push, expected = GATEWAY_PUSHES[gateway]
    assert push(gw_client, "1").get_json() == expected
    (row,) = reply_rows(gw_db)
    assert row["status"] == "pending" and row["attempts"] == 0
    remembered = gw_db.execute(
        "SELECT replies FROM inbound_seen WHERE provider = ?", [gateway]
    ).fetchone()[0]
    assert json.loads(remembered) == [row["text"]]
    sender = RecordingSender(gateway)
    assert drain_outbox(gw_app, sender=sender).sent == 1
    assert sender.sent == [(PHONE, responses.answer("verify_team")[0])]


@pytest.mark.parametrize("gateway", sorted(GATEWAY_PUSHES))
def test_replies_that_cannot_be_queued_make_the_gateway_push_again(
    gw_client, gw_db, outbox, gateway, monkeypatch
):
    """The database stays locked while the replies are queued: the gateway gets a 503,
    so it pushes again, and the retry queues the answer it remembered, once."""
    import sqlite3

    from bot.channels import gateway_webhooks

    push, expected = GATEWAY_PUSHES[gateway]
    queue = gateway_webhooks.queue_replies

    def locked(*_args, **_kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(gateway_webhooks, "queue_replies", locked)
    assert push(gw_client, "1").status_code == 503
    assert reply_rows(gw_db) == [] and outbox.sent == []
    monkeypatch.setattr(gateway_webhooks, "queue_replies", queue)
    assert push(gw_client, "1").get_json() == expected
    assert len(reply_rows(gw_db)) == 1
    assert outbox.sent == [(PHONE, responses.answer("verify_team")[0])]


def test_kill_9_while_a_reply_is_sent_then_restart_never_sends_it_twice(tmp_path):
    """hotline serve behind Aliyun: the woken drain is inside Aliyun's API with the
    reply when the server is killed. After the restart the row is ``unknown`` (Aliyun
    takes no idempotency key), the gateway's repeat push queues nothing, nothing is
    resent: the villager got it once or not at all, never twice."""
    import threading

    import requests

    from tests.system.test_reliability_kill import Server

    gateway = FakeGateway()
    gateway.answer((200, aliyun_ok()))
    handler = gateway.server.RequestHandlerClass
    answer = handler.do_POST
    calls, received, release = [], threading.Event(), threading.Event()

    def hang(self):
        calls.append(1)
        received.set()
        release.wait(30)
        answer(self)

    handler.do_POST = hang
    models = tmp_path / "models"
    models.mkdir()
    server = Server(tmp_path / "var", models)
    server.env.update(
        ALIYUN_CONFIG,
        ALIYUN_SMS_ENDPOINT=gateway.url,
        ALIYUN_SMS_WEBHOOK_SECRET=ALIYUN_SECRET,
        SMS_GATEWAY_TIMEOUT="60",  # the call is still in flight when the kill comes
    )

    def push():
        return requests.post(
            f"{server.base}/sms/aliyun?token={ALIYUN_SECRET}",
            json=[aliyun_item("1", 8001)],
            timeout=10,
        )

    try:
        server.start()
        assert push().json() == {"code": 0, "msg": "接收成功"}
        assert received.wait(20), "the reply never reached the gateway"
        server.kill9()
        release.set()  # the gateway took it: the villager has the reply once
        server.start()
        assert push().json() == {"code": 0, "msg": "接收成功"}  # the gateway's repeat
        time.sleep(2)  # a drain tick's worth at start-up: nothing must be resent
        db = connect(tmp_path / "var" / "hotline.db", migrate_schema=False)
        rows = reply_rows(db)
        db.conn.close()
    finally:
        server.stop()
        gateway.close()
    assert len(calls) == 1
    assert len(rows) == 1
    assert (rows[0]["status"], rows[0]["error_code"]) == ("unknown", "crash_during_send")


@pytest.mark.parametrize("gateway", sorted(GATEWAY_PUSHES))
def test_when_the_answer_cannot_be_stored_the_apology_is_queued(
    gw_client, gw_db, outbox, gateway, monkeypatch
):
    """The answer's transaction fails (its rows with it): the villager still gets the
    apology, as an outbox row like any reply."""
    import sqlite3

    from bot import conversations

    def locked(*_args, **_kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(conversations, "remember_replies", locked)
    push, expected = GATEWAY_PUSHES[gateway]
    assert push(gw_client, "1").get_json() == expected
    (row,) = reply_rows(gw_db)
    assert row["text"] == responses.text("system_busy") and row["status"] == "sent"
    assert outbox.sent == [(PHONE, responses.text("system_busy"))]
