"""Mainland-China SMS gateways: Aliyun / Tencent reply pushes in, replies and pushes out."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote

import pytest

import responses
from bot.channels import senders
from bot.channels.gateway_senders import (
    AliyunSender,
    TencentSender,
    contains_url,
    rpc_signature,
)
from bot.channels.senders import SendResult, make_sender
from storage.db import connect

ALIYUN_SECRET = "ali-push-secret"
TENCENT_SECRET = "tc-push-secret"
PHONE = "13812345678"


# --- fixtures -----------------------------------------------------------------------


class RecordingSender:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, text: str) -> SendResult:
        self.sent.append((to, text))
        return SendResult(True, f"{self.name}-{len(self.sent)}")


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
def outbox(monkeypatch):
    """Replies to gateway pushes land here instead of a real gateway."""
    sender = RecordingSender("aliyun")
    monkeypatch.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: sender)
    return sender


class FakeGateway:
    """A local HTTP server standing in for dysmsapi / sms.tencentcloudapi: records each
    request and answers with the queued (status, body) pairs, the last one repeated."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, object]] = [(200, {})]
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                gateway.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                status, answer = (
                    gateway.answers.pop(0) if len(gateway.answers) > 1 else gateway.answers[0]
                )
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                ctype = "application/json" if not isinstance(answer, bytes) else "text/html"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, *answers: tuple[int, object]) -> None:
        self.answers = list(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake_gateway():
    gateway = FakeGateway()
    yield gateway
    gateway.close()


def aliyun_push(client, items, token: str | None = ALIYUN_SECRET):
    url = "/sms/aliyun" + (f"?token={token}" if token is not None else "")
    return client.post(url, json=items)


def aliyun_item(content: str, sequence_id: int, phone: str = PHONE) -> dict:
    return {
        "phone_number": phone,
        "content": content,
        "send_time": "2024-05-01 10:00:00",
        "dest_code": "1234",
        "sequence_id": sequence_id,
    }


def tencent_push(client, body, token: str | None = TENCENT_SECRET):
    url = "/sms/tencent" + (f"?token={token}" if token is not None else "")
    return client.post(url, json=body)


def tencent_item(text: str, when: int = 1714528800, mobile: str = PHONE) -> dict:
    return {
        "extend": "",
        "mobile": mobile,
        "nationcode": "86",
        "sign": "村村反诈",
        "text": text,
        "time": when,
    }


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


# --- Aliyun sender (HTTP API, RPC signature v1) ---------------------------------------


def independent_aliyun_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Written from the spec apart from the code under test: java-style URL encoding,
    then the documented fix-ups (+ -> %20, * -> %2A, %7E -> ~)."""

    def enc(s: str) -> str:
        from urllib.parse import quote_plus

        return quote_plus(s, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    query = "&".join(enc(k) + "=" + enc(v) for k, v in sorted(params.items()))
    to_sign = method + "&" + enc("/") + "&" + enc(query)
    mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def test_rpc_signature_matches_documented_examples():
    # Alibaba Cloud "request signature" documentation (RPC, v1): the ECS example ...
    ecs = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert rpc_signature("GET", ecs, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # ... and the SMS (Dysmsapi SendSms) example, with a Chinese signature name.
    sms = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert rpc_signature("GET", sms, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert independent_aliyun_signature("GET", sms, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def aliyun_sender(gateway: FakeGateway) -> AliyunSender:
    return AliyunSender("LTAItest", "secret-key", "村村反诈", "SMS_123", endpoint=gateway.url)


def test_aliyun_request_shape_and_signature(fake_gateway):
    fake_gateway.answer((200, {"Code": "OK", "Message": "OK", "BizId": "900^0", "RequestId": "r"}))
    text = "【提醒】陌生人说医保卡要升级，是骗子。拨打96110。 a*b~c"
    result = aliyun_sender(fake_gateway).send("+86 138-1234-5678", text)
    assert result == SendResult(True, "900^0")
    (req,) = fake_gateway.requests
    assert req["path"] == "/"
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    params = dict(parse_qsl(req["body"].decode(), keep_blank_values=True))
    signature = params.pop("Signature")
    assert params["Action"] == "SendSms"
    assert params["Version"] == "2017-05-25"
    assert params["Format"] == "JSON"
    assert params["SignatureMethod"] == "HMAC-SHA1" and params["SignatureVersion"] == "1.0"
    assert params["AccessKeyId"] == "LTAItest"
    assert params["PhoneNumbers"] == PHONE
    assert params["SignName"] == "村村反诈"
    assert params["TemplateCode"] == "SMS_123"
    assert json.loads(params["TemplateParam"]) == {"content": text}
    sent_at = dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs((now - sent_at).total_seconds()) < 300
    assert signature == independent_aliyun_signature("POST", params, "secret-key")
    # A fresh nonce per request (Aliyun refuses a replayed one).
    aliyun_sender(fake_gateway).send(PHONE, "再发一条")
    second = dict(parse_qsl(fake_gateway.requests[1]["body"].decode()))
    assert second["SignatureNonce"] != params["SignatureNonce"]


@pytest.mark.parametrize(
    ("status", "body", "code", "permanent"),
    [
        (
            200,
            {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"},
            "isv.MOBILE_NUMBER_ILLEGAL",
            True,
        ),
        (
            200,
            {"Code": "isv.PARAM_NOT_SUPPORT_URL", "Message": "不支持url"},
            "isv.PARAM_NOT_SUPPORT_URL",
            True,
        ),
        (
            200,
            {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"},
            "isv.BUSINESS_LIMIT_CONTROL",
            False,
        ),
        (200, {"Code": "isv.DAY_LIMIT_CONTROL", "Message": "日限"}, "isv.DAY_LIMIT_CONTROL", False),
        (
            400,
            {"Code": "Throttling.User", "Message": "Request was denied"},
            "Throttling.User",
            False,
        ),
        (400, {"Code": "SignatureDoesNotMatch", "Message": "bad"}, "SignatureDoesNotMatch", True),
        (500, b"<html>oops</html>", "http_500", False),
        (200, {"Message": "no code at all"}, "http_200", False),
    ],
)
def test_aliyun_errors_classified(fake_gateway, status, body, code, permanent):
    fake_gateway.answer((status, body))
    result = aliyun_sender(fake_gateway).send(PHONE, "提醒")
    assert result.ok is False
    assert result.error_code == code
    assert result.permanent is permanent


def test_aliyun_unreachable_is_transient(fake_gateway):
    url = fake_gateway.url
    fake_gateway.close()
    result = AliyunSender("id", "key", "sign", "SMS_1", endpoint=url, timeout=2).send(PHONE, "提醒")
    assert (result.ok, result.error_code, result.permanent) == (False, "network_error", False)


# --- Tencent sender (official SDK, TC3-HMAC-SHA256) -----------------------------------


def tencent_sender(gateway: FakeGateway) -> TencentSender:
    return TencentSender(
        "AKIDtest", "tc-secret-key", "1400000001", "村村反诈", "123456", endpoint=gateway.url
    )


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


def tencent_ok(code: str = "Ok") -> dict:
    return {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": "5000:1045710669157053657849499619",
                    "PhoneNumber": "+8613812345678",
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": code,
                    "Message": "send success" if code == "Ok" else "failed",
                    "IsoCode": "CN",
                }
            ],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }
    }


def test_tencent_request_shape_and_signature(fake_gateway):
    fake_gateway.answer((200, tencent_ok()))
    result = tencent_sender(fake_gateway).send(PHONE, "陌生人说医保卡要升级，是骗子。")
    assert result == SendResult(True, "5000:1045710669157053657849499619")
    (req,) = fake_gateway.requests
    headers = req["headers"]
    assert headers["X-TC-Action"] == "SendSms"
    assert headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert abs(int(headers["X-TC-Timestamp"]) - time.time()) < 300
    body = json.loads(req["body"])
    assert body == {
        "PhoneNumberSet": ["+8613812345678"],
        "SmsSdkAppId": "1400000001",
        "SignName": "村村反诈",
        "TemplateId": "123456",
        "TemplateParamSet": ["陌生人说医保卡要升级，是骗子。"],
    }
    assert headers["Authorization"] == tc3_authorization(req, "AKIDtest", "tc-secret-key")


@pytest.mark.parametrize(
    ("answer", "code", "permanent"),
    [
        (
            tencent_ok("InvalidParameterValue.IncorrectPhoneNumber"),
            "InvalidParameterValue.IncorrectPhoneNumber",
            True,
        ),
        (
            tencent_ok("FailedOperation.PhoneNumberInBlacklist"),
            "FailedOperation.PhoneNumberInBlacklist",
            True,
        ),
        (
            tencent_ok("LimitExceeded.PhoneNumberDailyLimit"),
            "LimitExceeded.PhoneNumberDailyLimit",
            False,
        ),
        (
            {
                "Response": {
                    "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"},
                    "RequestId": "r",
                }
            },
            "AuthFailure.SignatureFailure",
            True,
        ),
        (
            {
                "Response": {
                    "Error": {"Code": "RequestLimitExceeded", "Message": "x"},
                    "RequestId": "r",
                }
            },
            "RequestLimitExceeded",
            False,
        ),
        (
            {
                "Response": {
                    "Error": {"Code": "InternalError.Timeout", "Message": "x"},
                    "RequestId": "r",
                }
            },
            "InternalError.Timeout",
            False,
        ),
    ],
)
def test_tencent_errors_in_200_classified(fake_gateway, answer, code, permanent):
    fake_gateway.answer((200, answer))
    result = tencent_sender(fake_gateway).send(PHONE, "提醒")
    assert (result.ok, result.error_code, result.permanent) == (False, code, permanent)


def test_tencent_http_error_is_transient(fake_gateway):
    fake_gateway.answer((502, b"bad gateway"))
    result = tencent_sender(fake_gateway).send(PHONE, "提醒")
    assert result.ok is False and result.permanent is False


# --- no links in domestic SMS ---------------------------------------------------------


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
    fake_gateway.answer((200, {"Code": "OK", "BizId": "1"}))
    for sender in (aliyun_sender(fake_gateway), tencent_sender(fake_gateway)):
        result = sender.send(PHONE, text)
        assert result == SendResult(False, None, "url_not_allowed", permanent=True)
    assert fake_gateway.requests == []


@pytest.mark.parametrize(
    "text",
    ["拨打96110或110。", "每斤3.5元，别信。", "回T退订", "验证码不要告诉任何人，包括'客服'。"],
)
def test_plain_texts_are_not_mistaken_for_urls(text):
    assert not contains_url(text)


# --- configuration: HOTLINE_SMS_PROVIDER=aliyun|tencent ------------------------------


ALIYUN_CONFIG = {
    "HOTLINE_SMS_PROVIDER": "aliyun",
    "ALIYUN_ACCESS_KEY_ID": "LTAItest",
    "ALIYUN_ACCESS_KEY_SECRET": "secret-key",
    "ALIYUN_SMS_SIGN_NAME": "村村反诈",
    "ALIYUN_SMS_TEMPLATE_CODE": "SMS_123",
}
TENCENT_CONFIG = {
    "HOTLINE_SMS_PROVIDER": "tencent",
    "TENCENT_SECRET_ID": "AKIDtest",
    "TENCENT_SECRET_KEY": "tc-secret-key",
    "TENCENT_SMS_SDK_APP_ID": "1400000001",
    "TENCENT_SMS_SIGN_NAME": "村村反诈",
    "TENCENT_SMS_TEMPLATE_ID": "123456",
}


def test_make_sender_builds_gateway_senders():
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


def test_aliyun_push_answered_through_configured_aliyun_gateway(gw_app, fake_gateway):
    """End to end: HOTLINE_SMS_PROVIDER=aliyun, reply pushed to the (fake) Aliyun API."""
    gw_app.config.update(ALIYUN_CONFIG, ALIYUN_SMS_ENDPOINT=fake_gateway.url)
    fake_gateway.answer((200, {"Code": "OK", "BizId": "1"}))
    response = aliyun_push(gw_app.test_client(), [aliyun_item("1", 901)])
    assert response.get_json()["code"] == 0
    (req,) = fake_gateway.requests
    params = dict(parse_qsl(req["body"].decode()))
    assert params["PhoneNumbers"] == PHONE
    assert json.loads(params["TemplateParam"]) == {"content": responses.answer("verify_team")[0]}


def test_tencent_push_answered_through_configured_tencent_gateway(gw_app, fake_gateway):
    gw_app.config.update(TENCENT_CONFIG, TENCENT_SMS_ENDPOINT=fake_gateway.url)
    fake_gateway.answer((200, tencent_ok()))
    response = tencent_push(gw_app.test_client(), tencent_item("1"))
    assert response.get_json()["result"] == 0
    (req,) = fake_gateway.requests
    body = json.loads(req["body"])
    assert body["PhoneNumberSet"] == ["+8613812345678"]
    assert body["TemplateParamSet"] == [responses.answer("verify_team")[0]]


def test_gateway_failure_does_not_fail_the_push(gw_app, fake_gateway):
    """A reply the gateway refuses is logged; the push is still acknowledged (a retry
    would not help and the message is stored)."""
    gw_app.config.update(ALIYUN_CONFIG, ALIYUN_SMS_ENDPOINT=fake_gateway.url)
    fake_gateway.answer((200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "流控"}))
    response = aliyun_push(gw_app.test_client(), [aliyun_item("1", 902)])
    assert response.status_code == 200 and response.get_json()["code"] == 0


def test_webhook_urls_are_csrf_exempt_and_registered(gw_app):
    rules = {r.rule for r in gw_app.url_map.iter_rules()}
    assert {"/sms/aliyun", "/sms/tencent"} <= rules
    assert {"aliyun_sms", "tencent_sms"} <= set(gw_app.blueprints)


def test_quote_helper_sanity():
    # The encoding rule the signature rests on: space %20, '*' %2A, '~' kept.
    from bot.channels.gateway_senders import percent_encode

    assert percent_encode("a b*c~d/") == "a%20b%2Ac~d%2F"
    assert percent_encode("中") == quote("中")
