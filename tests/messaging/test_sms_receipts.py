"""Delivery receipts from the mainland gateways (Aliyun SmsReport, Tencent status
callback): a tip sent through the gateway is marked delivered / undelivered on its
outbox row; a blacklist code opts the villager out; forged receipts change nothing."""

from __future__ import annotations

import pytest

from bot.channels.aliyun_sms import AliyunSms
from bot.channels.tencent_sms import TencentSms
from outreach import campaigns, groups, outbox
from storage.db import connect
from tests.helpers.outreach import DAYTIME, numbers
from tests.helpers.sms import (
    ALIYUN_CONFIG,
    ALIYUN_SECRET,
    TENCENT_CONFIG,
    TENCENT_SECRET,
    FakeGateway,
    aliyun_ok,
    aliyun_report,
    tencent_ok,
    tencent_status,
)


@pytest.fixture
def gateway():
    fake = FakeGateway()
    yield fake
    fake.close()


@pytest.fixture
def rapp(degraded_app):
    degraded_app.config["ALIYUN_SMS_WEBHOOK_SECRET"] = ALIYUN_SECRET
    degraded_app.config["TENCENT_SMS_WEBHOOK_SECRET"] = TENCENT_SECRET
    return degraded_app


def send_tips(app, gateway: FakeGateway, provider, calls: int = 2) -> tuple[object, dict[str, str]]:
    """Two villagers sent a tip through ``provider`` in ``calls`` API calls;
    (db, {number: provider id})."""
    db = connect(app.config["HOTLINE_DB"])
    vault = app.extensions["hotline_vault"]
    phones = numbers(2)
    group_id = groups.ensure_group(db, "平南县", "东坝镇", "石桥村")
    for phone in phones:
        groups.enroll(db, vault, phone, group_id, by="张主任", channel="csv")
    campaigns.plan(
        db, kind="tip", scope_type="group", scope_value="石桥村", created_by="t", now=DAYTIME
    )
    stats = outbox.drain(db, vault, provider, rate=0, now=lambda: DAYTIME)
    assert stats.sent == 2 and len(gateway.requests) == calls
    ids = {
        phone: db.execute(
            "SELECT provider_id FROM outbox WHERE subscriber_id = ?",
            [groups.subscriber(db, vault, phone)["id"]],
        ).fetchone()[0]
        for phone in phones
    }
    return db, ids


def status_of(db, provider_id: str) -> tuple[str, str | None]:
    return tuple(
        db.execute(
            "SELECT status, error_code FROM outbox WHERE provider_id = ?", [provider_id]
        ).fetchone()
    )


def subscriber_status(app, db, phone: str) -> str:
    vault = app.extensions["hotline_vault"]
    return groups.subscriber(db, vault, phone)["status"]


def test_aliyun_batch_call_receipts_update_each_number_own_row(rapp, gateway):
    gateway.answer((200, aliyun_ok("300^1")))
    provider = AliyunSms({**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url})
    db, ids = send_tips(rapp, gateway, provider, calls=1)  # one SendBatchSms call
    assert set(ids.values()) == {"300^1"}
    first, second = numbers(2)
    body = [
        {**aliyun_report("300^1", False, "MN:0001"), "phone_number": second},
        {**aliyun_report("300^1", True), "phone_number": first},
    ]
    response = rapp.test_client().post(f"/sms/aliyun/report?token={ALIYUN_SECRET}", json=body)
    assert response.get_json() == {"code": 0, "msg": "接收成功"}
    vault = rapp.extensions["hotline_vault"]
    got = {
        vault.decrypt(enc): (status, code)
        for enc, status, code in db.execute(
            "SELECT s.contact_enc, o.status, o.error_code FROM outbox o "
            "JOIN subscribers s ON s.id = o.subscriber_id"
        )
    }
    assert got == {first: ("delivered", None), second: ("undelivered", "MN:0001")}
    db.conn.close()


def test_aliyun_report_updates_outbox_rows(rapp, gateway):
    gateway.answer((200, aliyun_ok("100^1")), (200, aliyun_ok("100^2")))
    # One number a call (HOTLINE_SMS_BATCH=1): a BizId per number.
    provider = AliyunSms(
        {**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url, "HOTLINE_SMS_BATCH": "1"}
    )
    db, ids = send_tips(rapp, gateway, provider)
    assert set(ids.values()) == {"100^1", "100^2"}
    first, second = numbers(2)
    body = [
        aliyun_report(ids[first], True),
        aliyun_report(ids[second], False, "MN:0001"),
        aliyun_report("not-ours", True),
    ]
    response = rapp.test_client().post(f"/sms/aliyun/report?token={ALIYUN_SECRET}", json=body)
    assert response.status_code == 200
    assert response.get_json() == {"code": 0, "msg": "接收成功"}
    assert status_of(db, ids[first]) == ("delivered", None)
    assert status_of(db, ids[second]) == ("undelivered", "MN:0001")
    # An ordinary carrier failure (empty number) is not an opt-out.
    assert subscriber_status(rapp, db, second) == "active"
    db.conn.close()


def test_tencent_status_callback_updates_outbox_rows(rapp, gateway):
    gateway.answer((200, tencent_ok(serial="5000:1")), (200, tencent_ok(serial="5000:2")))
    provider = TencentSms({**TENCENT_CONFIG, "TENCENT_SMS_ENDPOINT": gateway.url})
    db, ids = send_tips(rapp, gateway, provider)
    first, second = numbers(2)
    body = [tencent_status(ids[first], True), tencent_status(ids[second], False, "UNDELIV")]
    response = rapp.test_client().post(f"/sms/tencent/status?token={TENCENT_SECRET}", json=body)
    assert response.get_json() == {"result": 0, "errmsg": "OK"}
    assert status_of(db, ids[first]) == ("delivered", None)
    assert status_of(db, ids[second]) == ("undelivered", "UNDELIV")
    db.conn.close()


@pytest.mark.parametrize("gateway_name", ["aliyun", "tencent"])
def test_blacklisted_receipt_opts_the_villager_out(rapp, gateway, gateway_name):
    if gateway_name == "aliyun":
        gateway.answer((200, aliyun_ok("200^1")), (200, aliyun_ok("200^2")))
        provider = AliyunSms(
            {**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url, "HOTLINE_SMS_BATCH": "1"}
        )
    else:
        gateway.answer((200, tencent_ok(serial="6000:1")), (200, tencent_ok(serial="6000:2")))
        provider = TencentSms({**TENCENT_CONFIG, "TENCENT_SMS_ENDPOINT": gateway.url})
    db, ids = send_tips(rapp, gateway, provider)
    first, second = numbers(2)
    client = rapp.test_client()
    if gateway_name == "aliyun":
        url, body = (
            f"/sms/aliyun/report?token={ALIYUN_SECRET}",
            [aliyun_report(ids[first], False, "MBBLACK")],
        )
    else:
        url, body = (
            f"/sms/tencent/status?token={TENCENT_SECRET}",
            [tencent_status(ids[first], False, "MBBLACK")],
        )
    assert client.post(url, json=body).status_code == 200
    assert status_of(db, ids[first]) == ("undelivered", "MBBLACK")
    assert subscriber_status(rapp, db, first) == "opted_out"
    assert subscriber_status(rapp, db, second) == "active"
    db.conn.close()


@pytest.mark.parametrize(
    ("url", "token"),
    [("/sms/aliyun/report", "wrong"), ("/sms/tencent/status", ""), ("/sms/aliyun/report", None)],
)
def test_forged_receipts_change_nothing(rapp, gateway, url, token):
    gateway.answer((200, aliyun_ok("300^1")), (200, aliyun_ok("300^2")))
    provider = AliyunSms(
        {**ALIYUN_CONFIG, "ALIYUN_SMS_ENDPOINT": gateway.url, "HOTLINE_SMS_BATCH": "1"}
    )
    db, ids = send_tips(rapp, gateway, provider)
    first = numbers(1)[0]
    body = (
        [aliyun_report(ids[first], False, "MBBLACK")]
        if "aliyun" in url
        else [tencent_status(ids[first], False, "MBBLACK")]
    )
    target = url + (f"?token={token}" if token is not None else "")
    response = rapp.test_client().post(target, json=body)
    assert response.status_code == 403
    assert status_of(db, ids[first]) == ("sent", None)
    assert subscriber_status(rapp, db, first) == "active"
    db.conn.close()


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (f"/sms/aliyun/report?token={ALIYUN_SECRET}", b"not json"),
        (f"/sms/aliyun/report?token={ALIYUN_SECRET}", b'[{"biz_id": "1"}]'),
        (f"/sms/tencent/status?token={TENCENT_SECRET}", b'[{"sid": "1", "report_status": "X"}]'),
        (f"/sms/tencent/status?token={TENCENT_SECRET}", b"[]"),
    ],
)
def test_malformed_receipts_are_400_in_the_gateways_shape(rapp, url, body):
    response = rapp.test_client().post(url, data=body, content_type="application/json")
    assert response.status_code == 400
    answer = response.get_json()
    assert (answer.get("code") if "aliyun" in url else answer.get("result")) not in (0, None)


def test_empty_aliyun_report_is_acknowledged(rapp):
    response = rapp.test_client().post(f"/sms/aliyun/report?token={ALIYUN_SECRET}", json=[])
    assert response.get_json() == {"code": 0, "msg": "接收成功"}
