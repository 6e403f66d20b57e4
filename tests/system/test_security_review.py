"""Regressions for the security review (issue 14): each test failed on the code the
review attacked. docs/reliability.md lists them with their outcomes."""

from __future__ import annotations

import re
import time

import pytest

from bot.qr.verdict import judge
from tests.helpers.police import PASSWORD, csrf_token
from weburl import host_is_under, parse_link, same_site_path

# --- 1. a phishing QR code called official ------------------------------------------


@pytest.mark.parametrize(
    "content,browser_host",
    [
        ("https://evil.test\\@nhsa.gov.cn/", "evil.test"),
        ("https://evil.test\\.nhsa.gov.cn/x", "evil.test"),
        ("HTTPS://EVIL.TEST\\@WWW.NHSA.GOV.CN/", "evil.test"),
        ("http://evil.test\\\\gov.cn/", "evil.test"),
        ("https://evil.test\t\\@nhsa.gov.cn/", "evil.test"),
    ],
)
def test_backslash_urls_are_judged_by_the_host_a_browser_visits(content, browser_host):
    verdict = judge(content)
    assert verdict.kind != "official"
    assert verdict.host == browser_host


@pytest.mark.parametrize(
    "content",
    [
        "https://user@nhsa.gov.cn/",  # userinfo: the text a villager reads is not the host
        "https://ｎｈｓａ.gov.cn/",  # full-width letters
        "https://nhsa。gov。cn/",  # ideographic full stops
        "https://xn--nhsa-9la.gov.cn/",  # punycode look-alike under gov.cn
        "https://nhsa%2egov.cn/",
        "https://www.nhsa.gov.cn:8443/pay",
        "https://www.nhsa.gov.cn:8443/",
    ],
)
def test_ambiguous_official_looking_links_are_never_official(content):
    assert judge(content).kind != "official"
    assert not host_is_under(content, ["nhsa.gov.cn", "gov.cn"])


@pytest.mark.parametrize(
    "content",
    ["https://www.nhsa.gov.cn/", "https://fuwu.nhsa.gov.cn/x?y=1", "http://gxybj.gov.cn."],
)
def test_plain_official_links_stay_official(content):
    assert judge(content).kind == "official"
    assert host_is_under(content, ["nhsa.gov.cn", "gov.cn"])


def test_ip_hosts_in_any_spelling_are_bare_ip():
    for text in ("http://0x7f.1/", "http://127.1/", "http://3232235777/", "http://[::1]/"):
        link = parse_link(text)
        assert link is not None and link.is_ip, text
        assert judge(text).kind == "bare_ip", text


# --- 2. open redirect after login ---------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "////evil.example/x",
        "///evil.example/x",
        "/\\evil.example/",
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/.//evil.example/",
        "/%2e//evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "\\\\evil.example",
    ],
)
def test_next_that_a_browser_reads_as_another_host_is_refused(degraded_app, county, target):
    assert same_site_path(target) is None
    client = degraded_app.test_client()
    response = client.post(
        "/police/login",
        query_string={"next": target},
        data={"username": "sp", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/police/"


# --- 6. account enumeration through the lockout; per-address throttling ------------------


def _attempt(app, path: str, username: str, password: str, addr: str = "127.0.0.1"):
    client = app.test_client()
    token = csrf_token(client, path)
    return client.post(
        path,
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": addr},
    )


def _page(response) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))


@pytest.mark.parametrize("path", ["/police/login", "/bureau/login"])
def test_lockout_answers_a_real_and_an_unknown_name_alike(degraded_app, county, path):
    for attempt in range(7):
        # A new address each time: only the per-account lockout is measured here.
        real = _attempt(degraded_app, path, "sp", "wrong", f"10.0.1.{attempt}")
        ghost = _attempt(degraded_app, path, "nobody-here", "wrong", f"10.0.2.{attempt}")
        assert real.status_code == ghost.status_code == 401
        assert _page(real) == _page(ghost).replace("nobody-here", "sp"), attempt + 1
    # The account is locked all the same: even the right password is refused for now.
    assert _attempt(degraded_app, path, "sp", PASSWORD, "10.0.3.1").status_code == 401


def test_one_address_guessing_many_accounts_is_throttled(degraded_app, county):
    from accounts.web import LOGIN_BURST, LOGIN_THROTTLED

    for n in range(LOGIN_BURST):
        _attempt(degraded_app, "/police/login", f"guess{n}", "wrong", "10.9.9.9")
    # Over the limit: refused without checking, for every name, the real one too.
    blocked = _attempt(degraded_app, "/police/login", "jt", PASSWORD, "10.9.9.9")
    assert blocked.status_code == 401
    assert LOGIN_THROTTLED in blocked.get_data(as_text=True)
    # No account was locked by it, and another address signs in at once.
    assert _attempt(degraded_app, "/police/login", "jt", PASSWORD, "10.9.9.10").status_code == 302


# --- 11. third-party images on the report page; security headers -------------------------


def test_report_page_never_loads_a_url_we_did_not_store(degraded_app, county):
    from tests.helpers.police import logged_in
    from tests.reporting.test_police_queue import report_by_sms

    report = report_by_sms(
        degraded_app, "+8613812345679", "有人让扫二维码", "社坡镇大坡村", "昨天", "两个人", "跳过"
    )
    from reporting import reports
    from storage.db import connect

    db = connect(degraded_app.config["HOTLINE_DB"])
    for url in ("//evil.test/beacon.png", "https://evil.test/a.png", "http://10.0.0.1/x.jpg"):
        reports.add_attachment(db, report["id"], url, "image/png")
    db.conn.close()
    client = logged_in(degraded_app, "sp")
    response = client.get(f"/police/reports/{report['id']}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'src="//evil.test' not in page and 'src="https://evil.test' not in page
    assert 'href="//evil.test' not in page and 'href="http://10.0.0.1' not in page
    policy = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/police/login", "/bureau/login", "/police/outreach/"])
def test_every_officers_page_carries_the_security_headers(degraded_app, county, path):
    response = degraded_app.test_client().get(path)
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


# --- 12. unauthenticated 500s -------------------------------------------------------------


@pytest.mark.parametrize("name", ["signature", "msg_signature"])
@pytest.mark.parametrize("value", ["签名", "é" * 40, "\u200b", "a\x00b"])
def test_wechat_non_ascii_signatures_are_refused_not_500(wapp, name, value):
    import time

    params = {"signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "1"}
    params[name] = value
    if name == "msg_signature":
        params["encrypt_type"] = "aes"
    client = wapp.test_client()
    assert client.post("/wechat", query_string=params, data=b"<xml/>").status_code in (
        400,
        403,
    )
    assert client.get("/wechat", query_string={**params, "echostr": "x"}).status_code < 500


@pytest.mark.parametrize("attachment_id", [2**63, 2**64 + 5, 10**30])
def test_huge_attachment_ids_are_404_not_500(degraded_app, county, attachment_id):
    from tests.helpers.police import logged_in

    path = f"/police/reports/1/photos/{attachment_id}"
    assert degraded_app.test_client().get(path).status_code in (302, 404)
    assert logged_in(degraded_app, "sp").get(path).status_code == 404


# --- 13. /sms/console: JSON only, and a token ---------------------------------------------


def test_console_webhook_needs_json_and_the_token(degraded_app):
    client = degraded_app.test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    token = degraded_app.config["SMS_CONSOLE_TOKEN"]
    assert len(token) >= 32
    body = '{"from": "13812345678", "text": "退订"}'
    # What a web page on this machine can send without a preflight: refused, no opt-out.
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        refused = client.post(
            "/sms/console",
            data=body,
            content_type=ctype,
            headers={"X-Console-Token": token},
            environ_base=local,
        )
        assert refused.status_code == 403, ctype
    for bad in ("", "x" * 64, token[:-1], "令牌"):
        refused = client.post(
            "/sms/console", data=body, content_type="application/json",
            headers={"X-Console-Token": bad}, environ_base=local,
        )  # fmt: skip
        assert refused.status_code == 403
    from storage.db import connect

    db = connect(degraded_app.config["HOTLINE_DB"])
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    db.conn.close()
    ok = client.post(
        "/sms/console",
        data=body,
        content_type="application/json",
        headers={"X-Console-Token": token},
        environ_base=local,
    )
    assert ok.status_code == 200 and ok.get_json()["replies"]


def test_console_token_is_generated_once_into_var_and_private(tmp_path):
    import stat

    from settings import load_config

    first = load_config({"HOTLINE_VAR": str(tmp_path)})["SMS_CONSOLE_TOKEN"]
    assert load_config({"HOTLINE_VAR": str(tmp_path)})["SMS_CONSOLE_TOKEN"] == first
    path = tmp_path / "console_token"
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- 8. clear text left in the WAL ----------------------------------------------------------


def test_every_connection_sets_secure_delete(tmp_path):
    from storage.db import connect

    db = connect(tmp_path / "h.db")
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    db.conn.close()


def test_number_a_wechat_follower_typed_is_not_left_in_the_wal(wapp):
    from outreach import groups
    from storage.db import connect
    from tests.helpers.wechat import WeChatPush
    from tests.system.test_privacy import assert_nowhere

    db = connect(wapp.config["HOTLINE_DB"])
    groups.ensure_group(db, "平南县", "东坝镇", "石桥村")
    follower = WeChatPush(wapp.test_client(), "oFollowerWal_0123456789")
    follower.text("订阅")
    follower.text("石桥村")
    follower.text("我的手机号是 139 8765 4321")
    sub = groups.subscriber(db, wapp.extensions["hotline_vault"], "oFollowerWal_0123456789")
    assert sub["phone_masked"] == "139****4321"
    db.conn.close()
    # Read before any checkpoint of ours: the masking itself must have cleared the WAL.
    assert_nowhere(wapp.config["HOTLINE_VAR"], ["13987654321", "139 8765 4321"])


def test_purged_report_is_not_left_in_the_wal(degraded_app, county):
    import datetime as dt

    from reporting import purge, reports
    from storage.db import connect
    from tests.reporting.test_police_queue import report_by_sms
    from tests.system.test_privacy import assert_nowhere

    secret = "嫌疑人车牌桂R88H77穿红衣"
    report = report_by_sms(
        degraded_app, "+8613812345670", "有人让扫二维码", "社坡镇大坡村", secret, "两个人", "跳过"
    )
    db = connect(degraded_app.config["HOTLINE_DB"])
    assert secret in str(reports.get(db, report["id"])) + str(
        list(db.query("SELECT * FROM report_messages"))
    )
    db.execute("UPDATE reports SET status = 'resolved', closed_at = '2000-01-01T00:00:00+00:00'")
    db.conn.commit()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)  # the chat goes too
    assert purge.purge_closed(db, 1, at=later) >= 1
    db.conn.close()
    assert_nowhere(degraded_app.config["HOTLINE_VAR"], [secret, "桂R88H77"])


# --- 10. outbox claims of a killed drainer ------------------------------------------------

_HANGING_DRAINER = """
import sys, time
from outreach import outbox
from messaging.providers.base import SendResult
from storage.db import connect
from tests.helpers.outreach import DAYTIME, VAULT

class Hang:
    name = "fake"
    accepts_idempotency_key = True
    def send(self, to, text, idempotency_key=None):
        print("sending", flush=True)
        time.sleep(600)  # killed here, mid-push
        return SendResult(ok=True, provider_id="x")

db = connect(sys.argv[1], migrate_schema=False)
outbox.drain(db, VAULT, Hang(), rate=0, batch=10, now=lambda: DAYTIME)
"""


def test_rows_of_a_drainer_killed_mid_push_are_taken_over_at_once(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from outreach import campaigns, outbox
    from tests.helpers.outreach import DAYTIME, enroll, new_db, numbers

    db = new_db(tmp_path)
    enroll(db, numbers(5))
    campaigns.plan(
        db, kind="alert", scope_type="group", scope_value="石桥村", created_by="test",
        now=DAYTIME, text="紧急提醒：冒充医保局的人在村里，验证码不给人。", urgent=True,
    )  # fmt: skip
    drainer = subprocess.Popen(
        [sys.executable, "-c", _HANGING_DRAINER, str(tmp_path / "hotline.db")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert drainer.stdout.readline().strip() == "sending"
        # While it lives, its claims are its own, however the clock reads.
        assert outbox.recover(db, resend_in_doubt=True, now=DAYTIME) == (0, 0)
    finally:
        drainer.send_signal(signal.SIGKILL)
        drainer.wait()
    statuses = {r[0] for r in db.execute("SELECT status FROM outbox")}
    assert statuses == {"claimed", "sending"}
    # Dead: everything it held is back at once, well inside the 300 s lease.
    released, in_doubt = outbox.recover(db, resend_in_doubt=True, now=DAYTIME)
    assert (released, in_doubt) == (4, 1)
    assert {r[0] for r in db.execute("SELECT status FROM outbox")} == {"pending"}


# --- 3. CPU and memory exhaustion through /api/chat/photo ---------------------------------


def png_16bit_rgba(width: int, height: int) -> bytes:
    """A tiny PNG file that declares width x height 16-bit RGBA (8 bytes a pixel)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = b"\0" + b"\0" * (width * 8)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def photo_post(client, data: bytes, sender: str = "browser-a"):
    import io

    return client.post(
        "/api/chat/photo",
        data={"sender": sender, "image": (io.BytesIO(data), "p.png", "image/png")},
        content_type="multipart/form-data",
    )


def qr_png(content: str) -> bytes:
    import io

    import segno

    out = io.BytesIO()
    segno.make(content, micro=False).save(out, kind="png", scale=6)
    return out.getvalue()


def test_photo_over_the_decoded_bytes_cap_is_refused_before_decoding(degraded_app, monkeypatch):
    from PIL import ImageFile

    from bot.qr import check_bytes
    from bot.qr.decode import MAX_DECODED_BYTES, MAX_PIXELS

    data = png_16bit_rgba(3000, 3000)  # 9 Mpx: under the pixel cap, 72 MB decoded
    assert MAX_PIXELS > 3000 * 3000 and MAX_DECODED_BYTES < 3000 * 3000 * 8
    assert len(data) < 1024 * 1024
    loads: list[int] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda self: (self.tile and loads.append(1)) or real_load(self)
    )
    response = photo_post(degraded_app.test_client(), data)
    assert response.status_code == 413 and "error" in response.get_json()
    assert check_bytes(data, degraded_app.config).kind == "not_image"
    assert loads == []  # judged from the header: never decoded
    assert not (degraded_app.config["HOTLINE_VAR"] / "uploads").exists()


def test_a_web_chat_photo_is_decoded_once(degraded_app, monkeypatch):
    from PIL import ImageFile

    loads: list[int] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda self: (self.tile and loads.append(1)) or real_load(self)
    )
    response = photo_post(degraded_app.test_client(), qr_png("http://t.cn/A6abcdEf"))
    assert response.status_code == 200
    assert "短链接" in response.get_json()["replies"][0]
    assert len(loads) == 1


def test_photos_are_rate_limited_per_sender_and_overall(degraded_app):
    from bot.channels.webchat import BUSY_REPLY
    from bot.qr.workers import PER_SENDER_BURST

    client = degraded_app.test_client()
    photo = qr_png("https://www.nhsa.gov.cn/")
    for _ in range(PER_SENDER_BURST):
        assert photo_post(client, photo, "browser-flood").status_code == 200
    refused = photo_post(client, photo, "browser-flood")
    assert refused.status_code == 429
    assert refused.get_json()["replies"] == [BUSY_REPLY]
    assert "验证码不给人" in BUSY_REPLY and len(BUSY_REPLY) <= 70
    # A neighbour's photo is still checked, and the flooding sender's texts answered.
    assert photo_post(client, photo, "browser-neighbour").status_code == 200
    text = client.post("/api/chat", json={"sender": "browser-flood", "text": "你好"})
    assert text.status_code == 200 and text.get_json()["replies"]


def test_overall_photo_limit(degraded_app):
    degraded_app.config.update(QR_PHOTOS_OVERALL_PER_MINUTE=1, QR_PHOTOS_OVERALL_BURST=2)
    client = degraded_app.test_client()
    photo = qr_png("https://www.nhsa.gov.cn/")
    codes = [photo_post(client, photo, f"browser-{n}").status_code for n in range(4)]
    assert codes == [200, 200, 429, 429]


def test_photos_are_decoded_in_a_bounded_pool_off_the_text_threads(degraded_app, monkeypatch):
    import threading

    from bot.channels.webchat import BUSY_REPLY
    from bot.qr import decode

    degraded_app.config.update(QR_WORKERS=1, QR_QUEUE=1, QR_WAIT_S=20)
    release, started = threading.Event(), threading.Event()
    threads: set[str] = set()

    def slow_reader(image):  # stands in for a costly decode
        threads.add(threading.current_thread().name)
        started.set()
        release.wait(20)

    monkeypatch.setitem(decode.ANALYSERS, "slow", slow_reader)
    photo = qr_png("http://t.cn/A6abcdEf")
    results: list[int] = []

    def send(sender: str) -> None:
        results.append(photo_post(degraded_app.test_client(), photo, sender).status_code)

    first = threading.Thread(target=send, args=("browser-1",))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=send, args=("browser-2",))  # waits in the queue
    second.start()
    from bot.qr.workers import pool_for

    slots = pool_for(degraded_app)._slots
    for _ in range(500):  # until the second photo holds the queue's one place
        if slots._value == 0:  # type: ignore[attr-defined]
            break
        time.sleep(0.01)
    try:
        # The pool (1) and its queue (1) are full: the next is told at once to come back.
        third = photo_post(degraded_app.test_client(), photo, "browser-3")
        assert third.status_code == 503 and third.get_json()["replies"] == [BUSY_REPLY]
        # Texts are answered meanwhile: they never wait for a photo.
        text = degraded_app.test_client().post(
            "/api/chat", json={"sender": "browser-text", "text": "你好"}
        )
        assert text.status_code == 200 and text.get_json()["replies"]
    finally:
        release.set()
        first.join(30)
        second.join(30)
    assert sorted(results) == [200, 200]
    assert threads and all(name.startswith("photo") for name in threads)


def test_an_analyser_gets_the_decoded_image_and_cannot_break_the_verdict(monkeypatch):
    from bot.qr import decode

    seen = []
    monkeypatch.setitem(decode.ANALYSERS, "ocr", lambda image: seen.append(image.size) or "文字")
    monkeypatch.setitem(decode.ANALYSERS, "broken", lambda image: 1 / 0)
    photo = decode.analyse(qr_png("http://t.cn/A6abcdEf"))
    assert photo.codes == ["http://t.cn/A6abcdEf"] and photo.format == "PNG"
    # Other registered analysers (scamcheck's "text", the OCR) run too.
    assert set(photo.extras) == {*decode.ANALYSERS}
    assert photo.extras["ocr"] == "文字" and photo.extras["broken"] is None
    assert seen == [photo.image.size]


# --- 4. web-chat photos kept forever; files created private ------------------------------


def test_a_photo_only_checked_is_deleted_within_minutes(degraded_app, county):
    import os
    import time

    from reporting import purge
    from storage.db import connect

    client = degraded_app.test_client()
    assert photo_post(client, qr_png("http://t.cn/A6abcdEf"), "browser-check").status_code == 200
    folder = degraded_app.config["HOTLINE_VAR"] / "uploads"
    [checked] = list(folder.iterdir())
    assert oct(checked.stat().st_mode & 0o777) == "0o600"
    db = connect(degraded_app.config["HOTLINE_DB"])
    assert purge.remove_orphans(db, folder) == 0  # fresh: the villager may still report
    old = time.time() - 11 * 60
    os.utime(checked, (old, old))
    stray = folder / "leftover.tmp"  # whatever else lies there and no report names
    stray.write_bytes(b"x")
    os.utime(stray, (old, old))
    # The daily purge and the every-minute tick both sweep; here the purge.
    assert purge.purge_closed(db, 30, uploads=folder) == 0
    assert list(folder.iterdir()) == []
    db.conn.close()


def test_a_reported_photo_is_kept_by_the_sweep(degraded_app, county):
    import os
    import time

    from reporting import purge, reports
    from storage.db import connect
    from tests.reporting.test_police_queue import report_by_sms

    client = degraded_app.test_client()
    assert photo_post(client, qr_png("http://t.cn/A6abcdEf"), "browser-keep").status_code == 200
    folder = degraded_app.config["HOTLINE_VAR"] / "uploads"
    [kept] = list(folder.iterdir())
    report = report_by_sms(
        degraded_app, "+8613812345671", "有人让扫二维码", "社坡镇大坡村", "昨天", "两个人", "跳过"
    )
    db = connect(degraded_app.config["HOTLINE_DB"])
    reports.add_attachment(db, report["id"], f"upload:{kept.name}", "image/png")
    old = time.time() - 3600
    os.utime(kept, (old, old))
    assert purge.remove_orphans(db, folder) == 0
    assert kept.exists()
    db.conn.close()


def test_database_and_its_wal_are_created_private(tmp_path):
    from storage.db import connect

    db = connect(tmp_path / "var" / "hotline.db")
    db.execute("CREATE TABLE IF NOT EXISTS t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.conn.commit()
    for name in ("hotline.db", "hotline.db-wal"):
        mode = (tmp_path / "var" / name).stat().st_mode & 0o777
        assert mode == 0o600, (name, oct(mode))
    db.conn.close()
