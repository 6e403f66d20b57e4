"""Faults the hotline survives: a corrupt model, a locked database, a failing SMS
provider, and providers retrying the same message (one after another and all at once).

kill -9 during intake is in tests/system/test_reliability_kill.py; the list of every fault
tried and where is docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from defusedxml import ElementTree

from outreach import campaigns, outbox
from storage.db import connect
from tests.helpers.app import PUBLIC_URL
from tests.helpers.outreach import DAYTIME, VAULT, enroll, new_db, numbers

# --- no model, a corrupt model -------------------------------------------------------


@pytest.fixture
def corrupt_models(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    # Garbage where a trained model should be (a half-copied file, a disk error).
    (models / "nlu-20250101-000000-corrupt.tar.gz").write_bytes(os.urandom(64 * 1024))
    return models


def test_corrupt_model_file_falls_back_to_keywords_and_health_says_degraded(
    tmp_path, corrupt_models, app_factory, phone_for
):
    app = app_factory(tmp_path, None, HOTLINE_MODEL_DIR=str(corrupt_models))
    client = app.test_client()
    health = client.get("/healthz").get_json()
    assert health.pop("worker") == os.getpid()  # the process that answered
    assert health == {"status": "degraded", "nlu": "keywords", "degraded": True, "loading": False}
    replies = phone_for(client, "+8613812345678").send("我已经把验证码告诉他们了 怎么办")
    assert replies and "96110" in "".join(replies)


def test_corrupt_model_while_serving_keeps_answering_and_ends_degraded(
    tmp_path, corrupt_models, app_factory, phone_for
):
    # `hotline serve` loads the model in the background (BackgroundParser).
    from nlu.parser import BackgroundParser

    parser = BackgroundParser(corrupt_models)
    app = app_factory(tmp_path, parser)
    client = app.test_client()
    phone = phone_for(client, "+8613812345678")
    assert phone.send("我已经把验证码告诉他们了 怎么办")  # answered while loading
    parser.wait(180)
    assert client.get("/healthz").get_json()["status"] == "degraded"
    victim = phone_for(client, "+8613900000000")
    assert "96110" in "".join(victim.send("我已经把验证码告诉他们了 怎么办"))


# --- the database locked by another writer -----------------------------------------


def test_db_locked_for_two_seconds_requests_wait_and_nothing_is_lost(degraded_app, serve_app):
    path = degraded_app.config["HOTLINE_DB"]
    held = threading.Event()

    def lock_for(seconds: float) -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock, as a long CLI import would hold
        held.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    locker = threading.Thread(target=lock_for, args=(2.0,))
    locker.start()
    held.wait(5)
    base = next(url_gen := serve_app(degraded_app))
    try:

        def text(i: int) -> tuple[int, str]:
            number = f"+86138000001{i:02d}"
            params = signed_twilio(number, f"SMlock{i:04d}", "我已经把验证码告诉他们了 怎么办")
            started = time.monotonic()
            response = requests.post(
                base + "/sms/twilio",
                data=params["data"],
                headers=params["headers"],
                timeout=30,
            )
            return response.status_code, response.text, time.monotonic() - started

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(text, range(16)))
    finally:
        locker.join()
        next(url_gen, None)
    assert [status for status, _body, _t in results] == [200] * 16
    assert all("96110" in body for _status, body, _t in results)
    assert max(t for *_rest, t in results) >= 1.0  # they really waited for the lock
    db = connect(path)
    assert db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0] == 16
    assert db.execute("SELECT count(*) FROM inbound_seen WHERE replies IS NULL").fetchone()[0] == 0
    db.conn.close()


def signed_twilio(number: str, sid: str, body: str) -> dict:
    from twilio.request_validator import RequestValidator

    from tests.helpers.app import TWILIO_TOKEN

    data = {
        "MessageSid": sid,
        "AccountSid": "ACtest",
        "From": number,
        "To": "+8610690000",
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + "/sms/twilio", data)
    return {"data": data, "headers": {"X-Twilio-Signature": signature}}


# --- the SMS provider times out, fails with 5xx, answers 429 ------------------------


class FakeTwilioHTTP:
    """Stands in for Twilio's HTTP client: per recipient, a script of outcomes
    ("connect_timeout", "read_timeout", "reset", 500, 503, 429, "ok")."""

    def __init__(self, scripts: dict[str, list]) -> None:
        self.scripts = {to: list(s) for to, s in scripts.items()}
        self.calls: list[str] = []
        self.accepted: list[str] = []  # what Twilio would have sent to a phone

    def request(self, method, url, params=None, data=None, headers=None, auth=None, **_kw):
        from twilio.http.response import Response

        to = data["To"]
        self.calls.append(to)
        step = self.scripts[to].pop(0) if self.scripts[to] else "ok"
        if step == "connect_timeout":
            raise requests.exceptions.ConnectTimeout("connect timed out")
        if step == "read_timeout":
            self.accepted.append(to)  # Twilio took it; its answer never came back
            raise requests.exceptions.ReadTimeout("read timed out")
        if step == "refused":
            raise requests.exceptions.ConnectionError("connection refused")
        if isinstance(step, int):
            body = {"code": 20429 if step == 429 else None, "message": "error", "status": step}
            return Response(step, json.dumps(body))
        self.accepted.append(to)
        sid = f"SM{len(self.accepted):032d}"
        return Response(201, json.dumps({"sid": sid, "status": "queued", "to": to}))


def twilio_sender(fake: FakeTwilioHTTP):
    """The real TwilioSender and twilio library, talking to ``fake`` instead of the net."""
    from twilio.rest import Client

    from messaging.providers.twilio import TwilioSender

    sender = TwilioSender(
        {
            "TWILIO_ACCOUNT_SID": "ACtest",
            "TWILIO_AUTH_TOKEN": "token",
            "TWILIO_FROM_NUMBER": "+15005550006",
        }
    )
    sender._client = Client("ACtest", "token", http_client=fake)
    return sender


def test_provider_timeouts_5xx_and_429_are_retried_with_backoff_never_doubled(tmp_path):
    db = new_db(tmp_path)
    a, b, c, d = numbers(4)
    enroll(db, [a, b, c, d])
    campaign = campaigns.plan(
        db, kind="tip", scope_type="group", scope_value="石桥村", created_by="test", now=DAYTIME
    )
    fake = FakeTwilioHTTP(
        {
            a: ["connect_timeout", 500, "ok"],  # never reached Twilio: retried
            b: [429, 429, 503, "ok"],
            c: ["read_timeout"],  # Twilio may have it: in doubt, never resent
            d: [500] * 10,  # gives up after max attempts
        }
    )
    clock = {"now": DAYTIME}
    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock["now"] += __import__("datetime").timedelta(seconds=seconds)

    stats = outbox.drain(
        db,
        VAULT,
        twilio_sender(fake),
        rate=0,
        retry_wait=120,
        now=lambda: clock["now"],
        sleep=sleep,
    )
    accepted = Counter(fake.accepted)
    assert accepted == {a: 1, b: 1, c: 1}  # every one at most once, nobody twice
    assert Counter(fake.calls)[c] == 1
    assert Counter(fake.calls)[d] == outbox.MAX_ATTEMPTS
    # Backoff: the waits grow (2 s, 4 s, 8 s ... between attempts).
    assert waits and waits == sorted(waits) and waits[-1] >= 8
    rows = {
        r["to"]: r
        for r in (
            {**row, "to": VAULT.decrypt(row["contact_enc"])}
            for row in db.query(
                "SELECT o.status, o.error_code, o.attempts, s.contact_enc FROM outbox o "
                "JOIN subscribers s ON s.id = o.subscriber_id"
            )
        )
    }
    assert rows[a]["status"] == rows[b]["status"] == "sent"
    assert (rows[c]["status"], rows[c]["error_code"]) == ("unknown", outbox.IN_DOUBT)
    assert rows[d]["status"] == "failed" and rows[d]["attempts"] == outbox.MAX_ATTEMPTS
    assert stats.sent == 2 and stats.failed == 2
    # Visible where the outreach officer looks: the campaign status counts.
    summary = next(r for r in outbox.overview(db) if r["id"] == campaign.campaign_id)
    assert (summary["sent"], summary["failed"], summary["queued"]) == (2, 2, 0)


@pytest.mark.parametrize(
    ("exc", "in_doubt"),
    [
        (requests.exceptions.ConnectTimeout("x"), False),
        (requests.exceptions.ReadTimeout("x"), True),
        (requests.exceptions.ChunkedEncodingError("x"), True),
        (requests.exceptions.SSLError("x"), False),
        (RuntimeError("a bug of ours"), False),
    ],
)
def test_what_counts_as_maybe_accepted(exc, in_doubt):
    assert outbox.maybe_accepted(exc) is in_doubt


def test_refused_connection_is_safe_to_retry():
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    refused = requests.exceptions.ConnectionError(
        MaxRetryError(None, "/", NewConnectionError(None, "refused"))
    )
    assert outbox.maybe_accepted(refused) is False
    dropped = requests.exceptions.ConnectionError(ConnectionResetError("reset by peer"))
    assert outbox.maybe_accepted(dropped) is True


# --- a provider retrying the same message 5 times, in turn and all at once ----------


def stored(db, direction: str = "in") -> int:
    return db.execute("SELECT count(*) FROM messages WHERE direction = ?", [direction]).fetchone()[
        0
    ]


def twiml_texts(body: bytes) -> list[str]:
    return [m.text or "" for m in ElementTree.fromstring(body).iter("Message")]


@pytest.mark.parametrize("concurrent", [False, True])
def test_twilio_retrying_5_times_one_answer_one_stored_message(degraded_app, concurrent, phone_for):
    client_for = degraded_app.test_client
    text = "我已经把验证码告诉他们了 怎么办"

    def post(_i: int) -> list[str]:
        response = phone_for(client_for(), "+8613812345678").post(text, sid="SMretry000001")
        assert response.status_code == 200
        return twiml_texts(response.data)

    if concurrent:
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(post, range(5)))
    else:
        answers = [post(i) for i in range(5)]
    given = [a for a in answers if a]
    assert given and all(a == given[0] for a in given)  # never two different answers
    if not concurrent:
        assert len(given) == 5  # a retry after the answer gets the same answer again
    db = connect(degraded_app.config["HOTLINE_DB"])
    assert stored(db, "in") == 1
    assert stored(db, "out") == len(given[0])
    db.conn.close()


@pytest.mark.parametrize("concurrent", [False, True])
@pytest.mark.parametrize("safe", [False, True])
def test_wechat_retrying_5_times_one_answer_one_stored_message(wapp, safe, concurrent):
    from tests.bot.test_wechat import OPENID
    from tests.helpers.wechat import WeChatPush

    template = WeChatPush(wapp.test_client(), OPENID, safe=safe)
    fields = {**template.base("text"), "Content": "1", "MsgId": template.next_id()}

    def post(_i: int) -> list[str]:
        push = WeChatPush(wapp.test_client(), OPENID, safe=safe)
        return push.replies(push.post(fields))

    if concurrent:
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(post, range(5)))
    else:
        answers = [post(i) for i in range(5)]
    given = [a for a in answers if a]
    assert given and all(a == given[0] for a in given)
    db = connect(wapp.config["HOTLINE_DB"])
    assert stored(db, "in") == 1
    assert stored(db, "out") == len(given[0])
    db.conn.close()


class Recorder:
    name = "aliyun"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def send(self, to: str, text: str):
        from messaging.providers.base import SendResult

        with self.lock:
            self.sent.append((to, text))
        return SendResult(True, f"id-{len(self.sent)}")


@pytest.mark.parametrize("concurrent", [False, True])
@pytest.mark.parametrize("gateway", ["aliyun", "tencent"])
def test_gateway_pushing_5_times_one_answer_one_stored_message(
    degraded_app, monkeypatch, gateway, concurrent
):
    from messaging.providers import base as senders

    recorder = Recorder()
    monkeypatch.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: recorder)
    degraded_app.config["ALIYUN_SMS_WEBHOOK_SECRET"] = "ali"
    degraded_app.config["TENCENT_SMS_WEBHOOK_SECRET"] = "tc"
    if gateway == "aliyun":
        url = "/sms/aliyun?token=ali"
        body = [
            {
                "phone_number": "13812345678",
                "content": "我已经把验证码告诉他们了 怎么办",
                "send_time": "2024-05-01 10:00:00",
                "dest_code": "1234",
                "sequence_id": 4242,
            }
        ]
    else:
        url = "/sms/tencent?token=tc"
        body = {
            "extend": "",
            "mobile": "13812345678",
            "nationcode": "86",
            "sign": "村村反诈",
            "text": "我已经把验证码告诉他们了 怎么办",
            "time": 1714528800,
        }

    def post(_i: int) -> int:
        return degraded_app.test_client().post(url, json=body).status_code

    if concurrent:
        with ThreadPoolExecutor(5) as pool:
            statuses = list(pool.map(post, range(5)))
    else:
        statuses = [post(i) for i in range(5)]
    assert statuses == [200] * 5
    db = connect(degraded_app.config["HOTLINE_DB"])
    assert stored(db, "in") == 1
    # The reply is one outbox row however often the gateway pushed; drains send it once.
    assert db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'reply'").fetchone()[0] == 1
    vault = degraded_app.extensions["hotline_vault"]
    for _ in range(2):
        outbox.drain(db, vault, {"sms": recorder}, rate=0)
    db.conn.close()
    assert len(recorder.sent) == 1 and "96110" in recorder.sent[0][1]
