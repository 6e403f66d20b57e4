"""QR photo checks: decode, judge (never open), and fetch only from provider hosts."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import segno
from defusedxml import ElementTree
from PIL import Image

import responses
from bot.messages import Media
from bot.qr import check, check_bytes
from bot.qr.download import DownloadError, fetch_image, host_allowed, parse_hosts
from bot.qr.verdict import judge
from settings import SETTINGS

CONFIG = {
    "QR_MAX_BYTES": 5 * 1024 * 1024,
    "QR_OFFICIAL_DOMAINS": "nhsa.gov.cn,gov.cn",
    "QR_MEDIA_HOSTS": SETTINGS["QR_MEDIA_HOSTS"][0],
    "QR_DOWNLOAD_TIMEOUT": 5,
}


def qr_png(content: str, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make(content, micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def photo_of(content: str) -> bytes:
    """A QR code as a phone photo: small in a bigger, grey JPEG."""
    code = Image.open(io.BytesIO(qr_png(content, scale=5))).convert("RGB")
    photo = Image.new("RGB", (code.width + 300, code.height + 200), (190, 185, 170))
    photo.paste(code, (150, 100))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=85)
    return out.getvalue()


@pytest.mark.parametrize(
    "content,kind",
    [
        ("https://fuwu.nhsa.gov.cn/nationalHallSt/#/home", "official"),
        ("https://www.gov.cn/", "official"),
        ("http://t.cn/A6abcdEf", "shortener"),
        ("https://url.cn/5xYz", "shortener"),
        ("http://47.98.123.45:8080/yibao/login", "bare_ip"),
        ("wxp://f2f0e4kTrCzL5H8xhEO9FmyzZ2eR6Gk1xyz", "payment"),
        ("https://qr.alipay.com/fkx12345abcde", "payment"),
        ("https://yibao-kaitong.com.cn/register?code=abc", "registration"),
        ("https://example-health.cn/news", "unknown_site"),
        ("送鸡蛋活动 第3组", "text"),
    ],
)
def test_generated_qr_codes_get_their_verdict(content, kind):
    for data in (qr_png(content), photo_of(content)):
        verdict = check_bytes(data, CONFIG)
        assert verdict.kind == kind, (content, verdict)
        assert verdict.content == content
    reply = responses.catalogue("qr")["qr"][kind]
    assert responses.fits_sms(reply.strip())


@pytest.mark.parametrize(
    "content,kind",
    [
        ("https://nhsa.gov.cn.evil-site.com/activate", "registration"),
        ("https://nhsa.gov.cn@evil-site.com/", "unknown_site"),
        ("https://fakenhsa.gov.cn.com/", "unknown_site"),
        ("https://xn--nhsa-gov-cn.com/", "unknown_site"),
        ("http://3232235777/", "bare_ip"),
        ("http://[2001:db8::1]/x", "bare_ip"),
        ("t.cn/A6abcdEf", "shortener"),
        ("alipays://platformapi/startapp?saId=10000007", "payment"),
        ("https://shop.example.com/pay?order=1", "payment"),
        ("tel:12393", "official"),
        ("tel:13800000000", "text"),
    ],
)
def test_judge_is_not_fooled_by_look_alikes(content, kind):
    assert judge(content).kind == kind


def test_worst_code_wins_in_a_photo_with_several():
    a = Image.open(io.BytesIO(qr_png("https://www.nhsa.gov.cn/"))).convert("RGB")
    b = Image.open(io.BytesIO(qr_png("wxp://f2f0pay"))).convert("RGB")
    both = Image.new("RGB", (a.width + b.width + 40, max(a.height, b.height)), "white")
    both.paste(a, (0, 0))
    both.paste(b, (a.width + 40, 0))
    out = io.BytesIO()
    both.save(out, format="PNG")
    verdict = check_bytes(out.getvalue(), CONFIG)
    assert verdict.kind == "payment" and len(verdict.codes) == 2


def test_photo_without_qr():
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 160, 90)).save(out, format="JPEG")
    assert check_bytes(out.getvalue(), CONFIG).kind == "no_qr"


def test_non_image_and_oversized_files():
    assert check_bytes(b"%PDF-1.4 not a photo", CONFIG).kind == "not_image"
    assert check_bytes(b"", CONFIG).kind == "not_image"
    big = qr_png("https://www.nhsa.gov.cn/") + b"\0" * (5 * 1024 * 1024)
    assert check_bytes(big, CONFIG).kind == "too_large"
    assert check(Media("https://api.twilio.com/x", "application/pdf"), CONFIG).kind == "not_image"


def test_decompression_bomb_is_not_an_image():
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")  # tiny file, 400 M pixels
    assert len(out.getvalue()) < 5 * 1024 * 1024
    assert check_bytes(out.getvalue(), CONFIG).kind == "not_image"


# -- the download ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,allowed",
    [
        ("http://mmbiz.qpic.cn/mmbiz_jpg/abc/0", True),
        ("https://mmbiz.qpic.cn/x", True),
        ("https://wx.qlogo.qpic.cn/x", True),
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", True),
        ("https://media.twiliocdn.com/x", True),
        ("https://api.weixin.qq.com/cgi-bin/media/get?media_id=1", True),
        ("https://qpic.cn.evil.com/x", False),
        ("https://evilqpic.cn/x", False),
        ("https://twilio.com.evil.com/x", False),
        ("https://user:pw@api.twilio.com/x", False),
        ("https://api.twilio.com:8443/x", False),
        ("ftp://mmbiz.qpic.cn/x", False),
        ("file:///etc/passwd", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("https://www.nhsa.gov.cn/", False),  # a site a villager could type: never fetched
        ("not a url", False),
    ],
)
def test_media_host_allowlist(url, allowed):
    assert host_allowed(url, parse_hosts(CONFIG["QR_MEDIA_HOSTS"])) is allowed


class MediaServer:
    """A provider media host on 127.0.0.1, with misbehaving paths."""

    def __init__(self, image: bytes) -> None:
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.hits.append(self.path)
                if self.path == "/photo.png":
                    self._send(200, "image/png", image)
                elif self.path == "/page.html":
                    self._send(200, "text/html", b"<html></html>")
                elif self.path == "/lying-length":
                    self._send(200, "image/png", b"x" * 100, length=str(10 * 1024 * 1024))
                elif self.path == "/endless":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"\0" * 65536
                    try:
                        for _ in range(200):  # 12.5 MB unless the client hangs up
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                elif self.path == "/drip":  # headers at once, then a byte every 0.1 s
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", "600")
                    self.end_headers()
                    try:
                        for _ in range(600):
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except (BrokenPipeError, ConnectionResetError, OSError):
                        pass
                elif self.path == "/slow":
                    time.sleep(1.5)
                    self._send(200, "image/png", image)
                elif self.path == "/redirect-out":
                    self._redirect(f"http://localhost:{self.server.server_address[1]}/photo.png")
                elif self.path == "/redirect-in":
                    self._redirect("/photo.png")
                else:
                    self._send(404, "text/plain", b"no")

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, status, content_type, body, length=None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", length or str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def media_server():
    server = MediaServer(qr_png("http://t.cn/A6abcdEf"))
    yield server
    server.close()


def fetch(url, **kw):
    port = url.split(":")[2].split("/")[0]
    options = {"allowlist": [f"127.0.0.1:{port}"], "max_bytes": 5 * 1024 * 1024, "timeout": 5.0}
    return fetch_image(url, **{**options, **kw})


def test_download_from_an_allowed_host(media_server):
    got = fetch(media_server.base + "/photo.png")
    assert got.content_type == "image/png" and check_bytes(got.data, CONFIG).kind == "shortener"
    assert fetch(media_server.base + "/redirect-in").data == got.data


@pytest.mark.parametrize(
    "path,reason",
    [
        ("/page.html", "not_image"),
        ("/lying-length", "too_large"),
        ("/endless", "too_large"),
        ("/missing", "http_error"),
        ("/redirect-out", "host_not_allowed"),
    ],
)
def test_download_refusals(media_server, path, reason):
    with pytest.raises(DownloadError) as caught:
        fetch(media_server.base + path)
    assert caught.value.reason == reason
    if path == "/redirect-out":
        assert media_server.hits == ["/redirect-out"]  # the other host was never asked


def test_download_deadline_holds_against_a_sender_dripping_bytes(media_server):
    # Each read gets a byte well within the read timeout: only a wall-clock deadline
    # stops it (it held a webhook for the whole 60 s drip before).
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(media_server.base + "/drip", timeout=1.0)
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 2.0


def test_download_time_limit(media_server):
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(media_server.base + "/slow", timeout=0.3)
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 1.2


def test_url_on_a_foreign_host_is_refused_without_a_request(monkeypatch):
    def no_session():
        raise AssertionError("no request may be made")

    monkeypatch.setattr("bot.qr.download._session", no_session)
    for url in ("https://evil.example.com/qr.png", "http://127.0.0.1:5000/admin"):
        with pytest.raises(DownloadError) as caught:
            fetch_image(
                url, allowlist=parse_hosts(CONFIG["QR_MEDIA_HOSTS"]), max_bytes=10, timeout=1
            )
        assert caught.value.reason == "host_not_allowed"
    assert (
        check(Media("https://evil.example.com/qr.png", "image/png"), CONFIG).kind == "unavailable"
    )


# -- MMS through the Twilio webhook ---------------------------------------------------


class TwilioMedia(requests.adapters.BaseAdapter):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data
        self.auth: list[str | None] = []

    def send(self, request, **kwargs):
        self.auth.append(request.headers.get("Authorization"))
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "image/jpeg"
        response.raw = io.BytesIO(self.data)
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def serve_twilio_media(monkeypatch, image: bytes) -> TwilioMedia:
    """Twilio's media host, answering every media URL with ``image`` (no network)."""
    adapter = TwilioMedia(image)

    def session():
        s = requests.Session()
        s.mount("https://api.twilio.com/", adapter)
        return s

    monkeypatch.setattr("bot.qr.download._session", session)
    return adapter


def test_mms_photo_gets_verdict_and_the_content_is_kept(degraded_app, monkeypatch, phone_for):
    adapter = serve_twilio_media(monkeypatch, photo_of("http://47.98.123.45/yb"))
    degraded_app.config["TWILIO_ACCOUNT_SID"] = "ACtest"
    phone = phone_for(degraded_app.test_client(), "+8613900001111")
    response = phone.post(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/ACtest/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert response.status_code == 200
    replies = [m.text for m in ElementTree.fromstring(response.data).iter("Message")]
    assert len(replies) == 1 and "数字地址" in replies[0]
    assert adapter.auth and adapter.auth[0].startswith("Basic ")  # Twilio's own host only
    from storage.db import connect

    db = connect(degraded_app.config["HOTLINE_DB"])
    state = json.loads(db.execute("SELECT state FROM conversations").fetchone()[0])
    assert state["last_qr"]["qr_kind"] == "bare_ip"
    assert state["last_qr"]["qr_content"] == "http://47.98.123.45/yb"
    db.conn.close()


def test_report_form_photo_keeps_the_qr_check(degraded_app, monkeypatch, phone_for):
    serve_twilio_media(monkeypatch, qr_png("http://t.cn/A6abcdEf"))
    phone = phone_for(degraded_app.test_client(), "+8613900002222")
    phone.send("村里有人上门说帮开通医保码要验证码，我要举报")
    for _ in range(5):  # skip questions until the photo is asked for
        if "照片" in "".join(phone.send("跳过")):
            break
    response = phone.post(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME2",
        MediaContentType0="image/png",
    )
    replies = "".join(m.text for m in ElementTree.fromstring(response.data).iter("Message"))
    assert "短链接" in replies
    from storage.db import connect

    db = connect(degraded_app.config["HOTLINE_DB"])
    notes = [r[0] for r in db.execute("SELECT text FROM report_messages WHERE direction = 'qr'")]
    assert len(notes) == 1 and "shortener" in notes[0] and "http://t.cn/A6abcdEf" in notes[0]
    assert db.execute("SELECT count(*) FROM attachments").fetchone()[0] == 1
    db.conn.close()


def test_reported_photo_is_kept_for_the_police_behind_their_login(
    degraded_app, monkeypatch, phone_for
):
    """Provider media URLs expire (WeChat) or need credentials (Twilio): the report keeps
    our own copy, shown only to the station's officers, each view audited, purged later."""
    from reporting import purge, reports
    from tests.helpers.police import load_county, logged_in

    image = qr_png("http://t.cn/A6abcdEf")
    serve_twilio_media(monkeypatch, image)
    db = load_county(degraded_app)
    phone = phone_for(degraded_app.test_client(), "+8613900002323")
    phone.send("社坡镇大坡村有人上门说帮开通医保码要验证码，我要举报")
    for _ in range(5):
        if "照片" in "".join(phone.send("跳过")):
            break
    phone.post(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM9/Media/ME9",
        MediaContentType0="image/png",
    )
    report_id, attachment_id, url = db.execute(
        "SELECT report_id, id, url FROM attachments"
    ).fetchone()
    assert url.startswith("upload:") and "twilio" not in url
    path = f"/police/reports/{report_id}/photos/{attachment_id}"

    assert degraded_app.test_client().get(path).status_code == 302  # to the login
    assert logged_in(degraded_app, "jt").get(path).status_code == 404  # another station
    sp = logged_in(degraded_app, "sp")
    assert path in sp.get(f"/police/reports/{report_id}").get_data(as_text=True)
    shown = sp.get(path)
    assert shown.status_code == 200 and shown.data == image
    assert shown.headers["Content-Type"] == "image/png"
    assert "no-store" in shown.headers["Cache-Control"]
    actions = [
        r[0] for r in db.execute("SELECT action FROM audit_log WHERE report_id = ?", [report_id])
    ]
    assert "view_photo" in actions

    reports.set_status(db, reports.get(db, report_id), "resolved")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    uploads = Path(degraded_app.config["HOTLINE_VAR"]) / "uploads"
    assert len(list(uploads.iterdir())) == 1
    assert purge.purge_closed(db, days=180, at=later, uploads=uploads) == 1
    assert list(uploads.iterdir()) == [] and sp.get(path).status_code == 404
    db.conn.close()


def test_photo_checked_before_reporting_goes_with_the_report(degraded_app, monkeypatch, phone_for):
    serve_twilio_media(monkeypatch, photo_of("http://47.98.123.45/yb"))
    phone = phone_for(degraded_app.test_client(), "+8613900003333")
    phone.post(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM3/Media/ME3",
        MediaContentType0="image/jpeg",
    )
    phone.send("3")  # "report it" from the menu, right after the verdict
    from storage.db import connect

    db = connect(degraded_app.config["HOTLINE_DB"])
    notes = [r[0] for r in db.execute("SELECT text FROM report_messages WHERE direction = 'qr'")]
    db.conn.close()
    assert len(notes) == 1 and "http://47.98.123.45/yb" in notes[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\\.mmbiz.qpic.cn/internal-admin",  # urllib3 connects to 127.0.0.1
        "https://evil.com\\.api.twilio.com/",
        "https://api.twilio.com%2f@evil.com/",
        "http://mmbiz.qpic.cn\t.evil.com/",
    ],
)
def test_urls_parsers_read_differently_are_refused(url):
    assert not host_allowed(url, ("mmbiz.qpic.cn", "*.qpic.cn", "api.twilio.com"))
