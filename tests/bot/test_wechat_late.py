"""Late WeChat answers (the dialogue missed WeChat's 5-second passive reply) are rows of
the one outbox, kind ``late_answer``: queued once per WeChat message however often
WeChat pushes it, sent by the drain through the customer-service API within the
48-hour window, retried with backoff after a passing failure, by SMS to the number the
follower gave when WeChat refuses for good, and after a kill -9 mid-send either sent
once or marked unknown, never twice."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from bot import subscriptions
from messaging import outbox as messaging_outbox
from messaging.providers import wechat as wechat_store
from messaging.providers.base import sender_for
from nlu.keywords import KeywordParser
from outreach import groups, outbox, phones
from storage.db import connect
from tests.helpers.outreach import FakeProvider
from tests.helpers.wechat import (
    APPID,
    SECRET,
    TOKEN,
    WeChatPush,
    fields_xml,
    sha1_sorted,
    wechat_app,
)

OPENID = "oLateTestUser_0123456789abcdef"
PHONE = "13812345678"
QUESTION = "村里来了一伙人说是医保局的，是真的吗"


class SlowParser(KeywordParser):
    def parse(self, text):
        time.sleep(0.3)
        return super().parse(text)


@pytest.fixture
def lapp(tmp_path, api, app_factory):
    return wechat_app(app_factory, tmp_path, SlowParser(), api, WECHAT_REPLY_WAIT="0.05")


@pytest.fixture
def db(lapp):
    database = connect(lapp.config["HOTLINE_DB"])
    yield database
    database.conn.close()


def late_rows(db) -> list[dict]:
    return list(db.query("SELECT * FROM outbox WHERE kind = 'late_answer' ORDER BY id"))


def wait_for_row(db, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = late_rows(db)
        if rows:
            return rows[0]
        time.sleep(0.02)
    raise AssertionError("no late answer was queued")


def ask_slowly(app, msg_id: str | None = None) -> tuple[WeChatPush, dict]:
    push = WeChatPush(app.test_client(), OPENID)
    fields = {**push.base("text"), "Content": QUESTION, "MsgId": msg_id or push.next_id()}
    assert push.post(fields).get_data(as_text=True) == "success"  # too slow: answered later
    return push, fields


def drain(app, db, at: dt.datetime | None = None, senders=None):
    moment = at or dt.datetime.now(dt.timezone.utc)
    return outbox.drain(
        db,
        app.extensions["hotline_vault"],
        senders or outbox.senders_from_config(app.config),
        rate=0,
        now=lambda: moment,
    )


def test_a_late_answer_is_one_outbox_row_sent_once(lapp, db, api):
    push, fields = ask_slowly(lapp)
    row = wait_for_row(db)
    assert (row["channel"], row["status"], row["urgent"]) == ("wechat", "pending", 1)
    assert row["priority"] == messaging_outbox.PRIORITY["late_answer"]
    # Kept like every contact: hashed, encrypted, masked; the openid never in clear.
    assert OPENID not in json.dumps(row, ensure_ascii=False)
    assert "12393" in row["text"]
    # WeChat pushes the same message again: no second answer, passive or queued.
    assert push.post(fields).get_data(as_text=True) == "success"
    time.sleep(0.5)
    assert len(late_rows(db)) == 1
    stats = drain(lapp, db)
    assert stats.sent == 1
    assert len(api.sent) == 1 and api.sent[0]["touser"] == OPENID
    assert "12393" in api.sent[0]["text"]["content"]
    (done,) = late_rows(db)
    assert (done["status"], done["attempts"], done["error_code"]) == ("sent", 1, None)
    assert drain(lapp, db).handled == 0 and api.send_calls == 1


def test_a_passing_failure_is_retried_with_backoff_then_sent_once(lapp, db, api):
    api.send_answers = [{"errcode": -1, "errmsg": "system error"}]
    ask_slowly(lapp)
    wait_for_row(db)
    now = dt.datetime.now(dt.timezone.utc)
    assert drain(lapp, db, at=now).retried == 1
    (row,) = late_rows(db)
    assert (row["status"], row["error_code"], row["attempts"]) == ("pending", "wechat_-1", 1)
    assert dt.datetime.fromisoformat(row["next_attempt_at"]) > now
    assert drain(lapp, db, at=now).handled == 0  # not due yet
    assert drain(lapp, db, at=now + dt.timedelta(minutes=10)).sent == 1
    (row,) = late_rows(db)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert len(api.sent) == 1 and api.send_calls == 2


def _give_a_number(app, db) -> None:
    vault = app.extensions["hotline_vault"]
    assert subscriptions.subscribe(db, vault, OPENID, "wechat")
    sub = groups.subscriber(db, vault, OPENID)
    phones.set_phone(db, vault, sub["id"], PHONE)


def _close_window(app, db) -> None:
    vault = app.extensions["hotline_vault"]
    wechat_store.close_window(db, vault.hash(OPENID))


def test_outside_the_48_hour_window_the_number_the_follower_gave_gets_it(lapp, db, api):
    from tests.helpers.outreach import enroll

    enroll(db, [])
    _give_a_number(lapp, db)
    ask_slowly(lapp)
    wait_for_row(db)
    _close_window(lapp, db)  # the follower's 48 hours ran out before the answer went
    sms = FakeProvider()
    wechat = sender_for("wechat", lapp.config)
    stats = drain(lapp, db, senders={"wechat": wechat, "sms": sms})
    assert stats.fell_back == 1 and stats.sent == 1
    assert api.send_calls == 0  # our own window clock: WeChat not even asked
    assert [to for to, _ in sms.deliveries] == [PHONE] and "12393" in sms.deliveries[0][1]
    (row,) = late_rows(db)
    assert (row["channel"], row["status"], row["fallback_reason"]) == (
        "sms",
        "sent",
        "outside_48h_window",
    )


def test_outside_the_window_without_a_number_it_is_recorded_undeliverable(lapp, db, api):
    ask_slowly(lapp)
    wait_for_row(db)
    _close_window(lapp, db)
    sms = FakeProvider()
    stats = drain(lapp, db, senders={"wechat": sender_for("wechat", lapp.config), "sms": sms})
    assert stats.undeliverable == 1 and sms.deliveries == [] and api.send_calls == 0
    (row,) = late_rows(db)
    assert (row["status"], row["error_code"], row["fallback_reason"]) == (
        "undeliverable",
        "outside_48h_window",
        "no_phone",
    )


def test_the_old_queue_and_its_retry_job_are_gone(lapp, db):
    from bot import periodic
    from bot.channels import wechat_api

    assert "wechat_pending" not in db.table_names()
    assert not hasattr(wechat_api, "retry_pending")
    app_jobs = periodic.periodic_jobs(lapp.config, lapp.extensions["hotline_vault"])
    assert not [j for j in app_jobs if "wechat" in j.id]  # late answers are outbox rows


def test_the_migration_moves_unsent_late_answers_into_the_outbox(tmp_path):
    """A database from before: late answers still to send become outbox rows; one a dead
    process was sending becomes unknown (never resent); sent ones stay history only."""
    from storage import schema
    from tests.helpers.outreach import VAULT

    path = tmp_path / "old.db"
    old = connect(path, migrate_schema=False)
    name = "messaging_002_late_answers_from_wechat_pending"
    keep = [m for m in schema.MIGRATIONS if m[0] != name]
    original = schema.MIGRATIONS[:]
    try:
        schema.MIGRATIONS[:] = keep
        schema.migrate(old)
    finally:
        schema.MIGRATIONS[:] = original
    wechat_store.record_inbound(old, VAULT, OPENID)
    openid_hash = VAULT.hash(OPENID)
    for key, status in (("m1", "failed"), ("m2", "sending"), ("m3", "sent")):
        old["wechat_pending"].insert(
            {"msg_key": key, "openid_hash": openid_hash, "replies": json.dumps(["答", "复"]),
             "status": status, "attempts": 1, "created_at": "x", "updated_at": "x"}
        )  # fmt: skip
    assert schema.migrate(old) == [name]
    rows = {r["idem_key"]: r for r in old.query("SELECT * FROM outbox")}
    assert set(rows) == {"late:wechat:m1", "late:wechat:m2"}
    assert rows["late:wechat:m1"]["status"] == "pending"
    assert rows["late:wechat:m2"]["status"] == "unknown"
    assert rows["late:wechat:m1"]["text"] == "答\n\n复"
    assert VAULT.decrypt(rows["late:wechat:m1"]["contact_enc"]) == OPENID
    assert "wechat_pending" not in old.table_names()
    old.conn.close()


# --- kill -9 of `hotline serve` while a late answer is with WeChat ------------------------


class HangingWeChat:
    """api.weixin.qq.com that takes a customer-service message and does not answer
    until ``release`` (the hotline is killed meanwhile)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.received = threading.Event()
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                if self.path.startswith("/cgi-bin/stable_token"):
                    answer = {"access_token": "TOKEN", "expires_in": 7200}
                else:
                    fake.calls.append(payload)
                    fake.received.set()
                    fake.release.wait(30)
                    answer = {"errcode": 0, "errmsg": "ok", "msgid": len(fake.calls)}
                body = json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the hotline died waiting

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _push(base: str, fields: dict) -> requests.Response:
    timestamp, nonce = str(int(time.time())), "12345"
    params = {"signature": sha1_sorted(TOKEN, timestamp, nonce), "timestamp": timestamp}
    params.update(nonce=nonce, openid=OPENID)
    return requests.post(
        base + "/wechat", params=params, data=fields_xml(fields).encode(), timeout=10
    )


def test_kill_9_while_a_late_answer_is_sent_then_restart_never_sends_it_twice(tmp_path):
    from tests.system.test_reliability_kill import Server

    wechat = HangingWeChat()
    models = tmp_path / "models"
    models.mkdir()
    server = Server(tmp_path / "var", models)
    server.env.update(
        WECHAT_TOKEN=TOKEN,
        WECHAT_APPID=APPID,
        WECHAT_APPSECRET=SECRET,
        WECHAT_API_BASE=wechat.url,
        WECHAT_API_TIMEOUT="60",  # the call is still in flight when the kill comes
        WECHAT_REPLY_WAIT="0.000001",  # every answer misses the passive reply
    )
    server.env.pop("WECHAT_ENCODING_AES_KEY", None)
    fields = {
        "ToUserName": "gh_hotline",
        "FromUserName": OPENID,
        "CreateTime": str(int(time.time())),
        "MsgType": "text",
        "Content": QUESTION,
        "MsgId": "7100000000000000001",
    }
    try:
        server.start()
        assert _push(server.base, fields).text == "success"
        # The in-process scheduler's drain (woken at once) is now inside WeChat's API.
        assert wechat.received.wait(20), "the late answer never reached WeChat"
        server.kill9()
        wechat.release.set()  # WeChat took it: the villager has the answer once
        server.start()
        # WeChat pushes the same message again after the restart.
        assert _push(server.base, fields).text == "success"
        time.sleep(2)  # a drain tick's worth at start-up: nothing must be resent
        db = connect(tmp_path / "var" / "hotline.db", migrate_schema=False)
        rows = late_rows(db)
        db.conn.close()
    finally:
        server.stop()
        wechat.close()
    assert len(wechat.calls) == 1
    assert len(rows) == 1
    assert (rows[0]["status"], rows[0]["error_code"]) == ("unknown", "crash_during_send")
