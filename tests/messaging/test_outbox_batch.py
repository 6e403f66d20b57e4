"""Batch sending: Aliyun SendBatchSms (a text per number, 100 a call) and Tencent SendSms
(one text per call, 200 numbers) through their real SDKs against a local server; the
drain sending through a batch gateway, paced by calls and numbers per second, with one
result (and one receipt) per number; the fake batch gateway's own limits."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import parse_qsl

import pytest

from bot.channels.aliyun_sms import AliyunSms
from messaging.providers.aliyun import AliyunSender
from messaging.providers.base import BatchItem, SendResult, SmsLimits, make_sender
from messaging.providers.fake import THROTTLED, FakeBatchGateway
from messaging.providers.tencent import TencentSender
from outreach import campaigns, outbox
from tests.helpers.outreach import DAYTIME, VAULT, enroll, new_db, numbers
from tests.helpers.sms import ALIYUN_CONFIG, TENCENT_CONFIG, FakeGateway, aliyun_ok
from tests.messaging.test_sms_gateways import acs3_authorization, tc3_authorization


@pytest.fixture
def gateway():
    server = FakeGateway()
    yield server
    server.close()


def form(req: dict) -> dict[str, str]:
    return dict(parse_qsl(req["body"].decode(), keep_blank_values=True))


def test_aliyun_batch_is_one_sendbatchsms_call_with_a_text_per_number(gateway):
    gateway.answer((200, aliyun_ok("700^1")))
    sender = AliyunSender({**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url})
    items = [
        BatchItem("+8613800000001", "【村村反诈】紧急提醒（尾号001）"),
        BatchItem("13800000002", "紧急提醒（尾号002）"),
        BatchItem("13800000003", "看这里 www.fake.cn"),  # a link: refused alone
    ]
    results = sender.send_batch(items)
    assert results[:2] == [SendResult(True, "700^1"), SendResult(True, "700^1")]
    assert results[2].error_code == "url_not_allowed" and results[2].permanent
    (req,) = gateway.requests
    assert {k.lower(): v for k, v in req["headers"].items()}["x-acs-action"] == "SendBatchSms"
    body = form(req)
    assert json.loads(body["PhoneNumberJson"]) == ["13800000001", "13800000002"]
    assert json.loads(body["SignNameJson"]) == ["村村反诈", "村村反诈"]
    # Each number keeps its own 尾号 marker; the gateway adds the signature.
    assert json.loads(body["TemplateParamJson"]) == [
        {"content": "紧急提醒（尾号001）"},
        {"content": "紧急提醒（尾号002）"},
    ]
    assert "13800000001" not in req["path"]  # numbers in the form body, not the URL
    # Signed over the body too (ACS3-HMAC-SHA256, recomputed apart from the SDK).
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["authorization"] == acs3_authorization(req, "LTAItest", "secret-key")


def test_aliyun_batch_refusal_fails_every_number_with_the_code(gateway):
    gateway.answer((200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "limit"}))
    sender = AliyunSender({**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url})
    results = sender.send_batch([BatchItem(n, "提醒") for n in numbers(3)])
    assert {(r.ok, r.error_code, r.permanent) for r in results} == {
        (False, "isv.BUSINESS_LIMIT_CONTROL", False)
    }


def test_aliyun_batch_chunks_at_100_and_the_setting_lowers_it(gateway):
    gateway.answer((200, aliyun_ok()))
    config = {**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url}
    assert AliyunSender(config).limits.batch == 100
    assert AliyunSender({**config, "HOTLINE_SMS_BATCH": "500"}).limits.batch == 100
    sender = AliyunSender({**config, "HOTLINE_SMS_BATCH": "40"})
    assert (
        sender.send_batch([BatchItem(n, "提醒") for n in numbers(90)])
        == [SendResult(True, "900^0")] * 90
    )
    sizes = [len(json.loads(form(r)["PhoneNumberJson"])) for r in gateway.requests]
    assert sizes == [40, 40, 10]


def tencent_statuses(*pairs: tuple[str, str]) -> dict:
    return {
        "Response": {
            "SendStatusSet": [
                {"SerialNo": f"s-{phone}", "PhoneNumber": phone, "Code": code, "Message": ""}
                for phone, code in pairs
            ],
            "RequestId": "r",
        }
    }


def test_tencent_batch_one_text_per_call_and_a_status_per_number(gateway):
    # Answers come in an order other than the request's: matched by number.
    gateway.answer(
        (
            200,
            tencent_statuses(
                ("+8613800000002", "InvalidParameterValue.IncorrectPhoneNumber"),
                ("+8613800000001", "Ok"),
            ),
        ),
        (200, tencent_statuses(("+8613800000003", "Ok"))),
    )
    sender = TencentSender({**TENCENT_CONFIG, "TENCENT_SMS_ENDPOINT": gateway.url})
    assert sender.limits.batch == 200
    results = sender.send_batch(
        [
            BatchItem("13800000001", "【村村反诈】提醒"),
            BatchItem("13800000002", "提醒"),
            BatchItem("13800000003", "另一条"),
        ]
    )
    assert results[0] == SendResult(True, "s-+8613800000001")
    assert results[1].error_code == "InvalidParameterValue.IncorrectPhoneNumber"
    assert results[1].permanent
    assert results[2] == SendResult(True, "s-+8613800000003")
    first, second = (json.loads(r["body"]) for r in gateway.requests)
    auth = gateway.requests[0]["headers"]["Authorization"]
    assert auth == tc3_authorization(gateway.requests[0], "AKIDtest", "tc-secret-key")
    assert first["PhoneNumberSet"] == ["+8613800000001", "+8613800000002"]
    assert first["TemplateParamSet"] == ["提醒"]
    assert second["PhoneNumberSet"] == ["+8613800000003"]


def plan_alert(db, text="有人冒充医保局上门，别给验证码"):
    return campaigns.plan(
        db,
        kind="alert",
        scope_type="township",
        scope_value="东坝镇",
        created_by="test",
        text=text,
        urgent=True,
        now=DAYTIME,
    )


def test_drain_sends_an_alert_in_batch_calls_each_number_its_own_marker(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(250)
    enroll(db, phones)
    plan_alert(db)
    fake = FakeBatchGateway(rate=0, numbers_rate=0, fail={phones[7]})
    stats = outbox.drain(db, VAULT, fake, rate=0, now=lambda: DAYTIME)
    assert [len(c.items) for c in fake.calls] == [100, 100, 50]
    assert stats.sent == 249 and stats.failed == 1
    sent = Counter(fake.sent_to())
    assert set(sent) == set(phones) and set(sent.values()) == {1}
    for item in (it for c in fake.calls for it in c.items):
        assert f"尾号{item.to[-3:]}" in item.text
    statuses = Counter(r[0] for r in db.execute("SELECT status FROM outbox"))
    assert statuses == {"sent": 249, "failed": 1}
    # Every row of a call carries the call's id; its own number tells receipts apart.
    assert db.execute("SELECT COUNT(DISTINCT provider_id) FROM outbox").fetchone()[0] == 3


def test_drain_paces_batch_calls_by_calls_and_by_numbers_per_second(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(600))
    plan_alert(db)

    class Clock:
        t = 0.0

        def __call__(self) -> float:
            return self.t

        def sleep(self, seconds: float) -> None:
            self.t += seconds

    clock = Clock()
    # 50 numbers a call, at most 4 calls/s and 100 numbers/s: numbers are the limit.
    fake = FakeBatchGateway(rate=4, batch=50, numbers_rate=100, clock=clock)
    outbox.drain(db, VAULT, fake, rate=4, now=lambda: DAYTIME, clock=clock, sleep=clock.sleep)
    assert fake.refused_calls == 0 and fake.numbers_sent == 600
    assert len(fake.calls) == 12
    assert clock.t == pytest.approx(5.5)  # 600 numbers at 100/s; the first call at 0
    # Calls the limit: 4 calls/s of 50 numbers under 1000 numbers/s.
    db2 = new_db(tmp_path / "b")
    enroll(db2, numbers(600))
    plan_alert(db2)
    clock.t = 0.0
    fake2 = FakeBatchGateway(rate=4, batch=50, numbers_rate=1000, clock=clock)
    outbox.drain(db2, VAULT, fake2, rate=4, now=lambda: DAYTIME, clock=clock, sleep=clock.sleep)
    assert fake2.refused_calls == 0 and clock.t == pytest.approx(11 / 4)


def test_fake_gateway_refuses_a_drain_that_does_not_pace(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(300))
    plan_alert(db)
    fake = FakeBatchGateway(rate=2, batch=100, numbers_rate=100)
    # It states no numbers limit to the drain, yet enforces one: the drain overruns it.
    fake.limits = SmsLimits(rate=2, gsm7=None, batch=100, numbers_rate=0)
    outbox.drain(db, VAULT, fake, rate=0, now=lambda: DAYTIME, max_attempts=1)
    assert fake.refused_calls > 0
    assert THROTTLED in {r[0] for r in db.execute("SELECT error_code FROM outbox")}


def test_a_slow_batch_gateway_is_waited_for_not_doubled(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(120)
    enroll(db, phones)
    plan_alert(db)
    fake = FakeBatchGateway(rate=0, numbers_rate=0, latency=0.2)
    outbox.drain(db, VAULT, fake, rate=0, now=lambda: DAYTIME)
    assert sorted(fake.sent_to()) == sorted(phones)


def test_aliyun_receipts_of_one_batch_call_update_each_number_own_row(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(3)
    enroll(db, phones)
    plan_alert(db)
    fake = FakeBatchGateway(rate=0, numbers_rate=0)
    outbox.drain(db, VAULT, fake, rate=0, now=lambda: DAYTIME)
    (batch_id,) = {r[0] for r in db.execute("SELECT provider_id FROM outbox")}
    parse = AliyunSms(ALIYUN_CONFIG).receipt_item
    delivered = parse({"biz_id": batch_id, "success": True, "phone_number": phones[1]})
    failed = parse(
        {"biz_id": batch_id, "success": False, "err_code": "MK:100", "phone_number": phones[2]}
    )
    for receipt in (delivered, failed):
        applied = outbox.apply_status(
            db,
            receipt.provider_id,
            receipt.status,
            receipt.error_code,
            VAULT.hash(receipt.recipient),
        )
        assert applied == "updated"
    # Without the number, a shared id names no single row: not guessed.
    assert outbox.apply_status(db, batch_id, "delivered", None) == "unknown"
    by_phone = {
        VAULT.decrypt(enc): status
        for enc, status in db.execute(
            "SELECT s.contact_enc, o.status FROM outbox o JOIN subscribers s "
            "ON s.id = o.subscriber_id"
        )
    }
    assert by_phone == {phones[0]: "sent", phones[1]: "delivered", phones[2]: "undelivered"}


def test_batch_limits_come_from_the_provider_and_settings():
    assert make_sender({"SMS_PROVIDER": "console"}).limits.batch == 1
    tencent = make_sender({**TENCENT_CONFIG, "HOTLINE_SMS_NUMBERS_RATE": "300"})
    assert (tencent.limits.batch, tencent.limits.numbers_rate) == (200, 300.0)
    with pytest.raises(ValueError, match="HOTLINE_SMS_BATCH"):
        make_sender({**ALIYUN_CONFIG, "HOTLINE_SMS_BATCH": "lots"})
