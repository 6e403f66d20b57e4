"""Twilio status callbacks (POST /sms/twilio/status): signature checked, delivery
status recorded per outbox row by MessageSid, never regressed, 21610 opts out."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from outreach import campaigns, groups, outbox
from storage.db import connect
from tests.helpers.app import PUBLIC_URL, TWILIO_TOKEN
from tests.helpers.outreach import DAYTIME, FakeProvider, numbers

URL = "/sms/twilio/status"


@pytest.fixture
def sent(degraded_app):
    """Two villagers who were sent a tip; returns (db, vault, {number: MessageSid})."""
    db = connect(degraded_app.config["HOTLINE_DB"])
    vault = degraded_app.extensions["hotline_vault"]
    phones = numbers(2)
    group_id = groups.ensure_group(db, "平南县", "东坝镇", "石桥村")
    for phone in phones:
        groups.enroll(db, vault, phone, group_id, by="张主任", channel="csv")
    campaigns.plan(
        db, kind="tip", scope_type="group", scope_value="石桥村", created_by="t", now=DAYTIME
    )
    outbox.drain(db, vault, FakeProvider(), rate=0, now=lambda: DAYTIME)
    sids = {phone: groups.subscriber(db, vault, phone)["id"] for phone in phones}
    by_sub = dict(db.execute("SELECT subscriber_id, provider_id FROM outbox").fetchall())
    yield db, vault, {phone: by_sub[sub_id] for phone, sub_id in sids.items()}
    db.conn.close()


def callback(client, params, token=TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + URL, params)
    return client.post(URL, data=params, headers={"X-Twilio-Signature": signature})


def status_of(db, sid):
    return db.execute("SELECT status FROM outbox WHERE provider_id = ?", [sid]).fetchone()[0]


def test_unsigned_or_wrongly_signed_callbacks_are_refused(degraded_app, sent):
    db, _vault, sids = sent
    sid = next(iter(sids.values()))
    client = degraded_app.test_client()
    params = {"MessageSid": sid, "MessageStatus": "delivered"}
    assert client.post(URL, data=params).status_code == 403
    assert callback(client, params, token="wrong").status_code == 403
    assert status_of(db, sid) == "sent"


def test_delivered_is_recorded_and_a_late_sent_does_not_undo_it(degraded_app, sent):
    db, _vault, sids = sent
    sid = next(iter(sids.values()))
    client = degraded_app.test_client()
    extra = {"AccountSid": "ACtest", "To": "+8613800000000", "SmsStatus": "delivered"}
    response = callback(client, {"MessageSid": sid, "MessageStatus": "delivered", **extra})
    assert response.status_code == 200
    assert status_of(db, sid) == "delivered"
    callback(client, {"MessageSid": sid, "MessageStatus": "sent"})
    assert status_of(db, sid) == "delivered"
    counts = outbox.overview(db)[0]
    assert (counts["delivered"], counts["sent"], counts["failed"]) == (1, 1, 0)


def test_undelivered_with_21610_opts_the_subscriber_out(degraded_app, sent):
    db, vault, sids = sent
    phone, sid = next(iter(sids.items()))
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    assert callback(degraded_app.test_client(), params).status_code == 200
    assert status_of(db, sid) == "undelivered"
    sub = groups.subscriber(db, vault, phone)
    assert (sub["status"], sub["opt_out_reason"]) == ("opted_out", "carrier:21610")


def test_unknown_sid_is_acknowledged_and_missing_fields_are_400(degraded_app, sent):
    client = degraded_app.test_client()
    assert callback(client, {"MessageSid": "SMnope", "MessageStatus": "sent"}).status_code == 200
    assert callback(client, {"MessageStatus": "sent"}).status_code == 400
