"""`hotline serve` behind a real nginx running deploy/nginx/hotline.conf.

The committed site file is rendered with the ports and paths of this run substituted
(every substitution must hit: a changed file fails here instead of testing something
else) and run by Debian's nginx as an ordinary process from a temporary prefix, TLS on a
free high port with a self-signed certificate for 127.0.0.1. The app is a real
`hotline serve` subprocess (tests/system/test_reliability_kill.py's Server) with
HOTLINE_TRUSTED_PROXIES=1 and HOTLINE_PUBLIC_URL set to nginx's https URL.

Every connection to nginx comes from the loopback; the whole of 127.0.0.0/8 is loopback
on Linux, so each "client" binds its own source address (127.0.0.5, ...) and nginx's
$remote_addr differs from nginx's own address (127.0.0.1) as seen by the app.

Shown: /healthz answers through nginx; a Twilio webhook signed for the public https URL
is answered (and one signed for the app's own address is not); the app takes the client
from nginx's X-Forwarded-For (gateway allowlist, audit rows) and never a client's own
X-Forwarded-For; the access log has paths but no query strings (the push secret);
a body over client_max_body_size is refused by nginx with 413 before the app.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from twilio.request_validator import RequestValidator

from tests.helpers.app import TWILIO_TOKEN
from tests.helpers.sms import ALIYUN_SECRET, aliyun_item
from tests.system.test_reliability_kill import ROOT, Server, free_port
from tests.system.test_trusted_proxy import audited_addresses, failed_login_with, inbound

SITE = ROOT / "deploy" / "nginx" / "hotline.conf"
GATEWAY = "127.0.0.5"  # the only address in SMS_GATEWAY_ALLOWED_IPS
STRANGER = "127.0.0.6"
OFFICER_DESK = "127.0.0.7"
MAX_BODY = 6 * 1024 * 1024  # bot/app.py MAX_CONTENT_LENGTH; the site's client_max_body_size 6m


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


pytestmark = pytest.mark.skipif(
    nginx_binary() is None,
    reason="no nginx binary (run scripts/ensure-nginx or apt-get install nginx-light)",
)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for IP 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def render_site(
    folder: Path, http_port: int, https_port: int, backend_port: int, cert: Path, key: Path
) -> str:
    """deploy/nginx/hotline.conf with this run's ports and paths."""
    text = SITE.read_text()
    for old, new, count in [
        ("listen 80;", f"listen 127.0.0.1:{http_port};", 1),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1),
        ("server 127.0.0.1:5000;", f"server 127.0.0.1:{backend_port};", 1),
        ("/etc/ssl/hotline/fullchain.pem", str(cert), 1),
        ("/etc/ssl/hotline/privkey.pem", str(key), 1),
        ("/var/log/nginx/hotline.access.log", str(folder / "access.log"), 2),
    ]:
        assert text.count(old) == count, f"{SITE.name}: expected {count}x {old!r}"
        text = text.replace(old, new)
    return text


class Nginx:
    """nginx from a temporary prefix: no root, no port 80, no /etc/nginx, no /var/log."""

    def __init__(self, folder: Path, site: str, https_port: int, cert: Path) -> None:
        self.folder = folder
        self.base = f"https://127.0.0.1:{https_port}"
        self.cert = cert
        (folder / "hotline.conf").write_text(site)
        temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temp.values():
            path.mkdir()
        # As root nginx would switch its workers to `nobody`, who cannot enter pytest's
        # private temporary folders; an ordinary user's nginx ignores `user`.
        user = "user root root;" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"""{user}
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {folder / "hotline.conf"};
}}
"""
        )
        self.error_log = folder / "error.log"
        command = [
            nginx_binary(),
            "-p",
            str(folder),
            "-e",
            str(self.error_log),
            "-c",
            str(folder / "nginx.conf"),
            "-g",
            f"daemon off; pid {folder / 'nginx.pid'}; error_log {self.error_log};",
        ]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "stderr.log", "w"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                requests.get(self.base + "/healthz", verify=str(cert), timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("nginx did not come up: " + self.log())

    def log(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else ""

    def access_log(self) -> str:
        path = self.folder / "access.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class FromAddress(HTTPAdapter):
    """Connections from one loopback source address (nginx sees it as $remote_addr)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client(source: str, cert: Path) -> requests.Session:
    session = requests.Session()
    session.mount("https://", FromAddress(source))
    session.verify = str(cert)
    # Else REQUESTS_CA_BUNDLE, when set, wins over session.verify (requests #3829).
    session.trust_env = False
    return session


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(server, nginx): `hotline serve` behind the committed site config."""
    tmp = tmp_path_factory.mktemp("deploy")
    https_port, http_port = free_port(), free_port()
    public = f"https://127.0.0.1:{https_port}"
    models = tmp / "models"
    models.mkdir()
    server = Server(tmp / "var", models)
    for name in ("HOTLINE_TRUSTED_PROXIES", "HOTLINE_TRUSTED_PROXY_ADDR"):
        server.env.pop(name, None)
    server.env.update(
        HOTLINE_PUBLIC_URL=public,
        HOTLINE_TRUSTED_PROXIES="1",  # deploy/env.example; ..._ADDR: its default 127.0.0.1
        ALIYUN_SMS_WEBHOOK_SECRET=ALIYUN_SECRET,
        SMS_GATEWAY_ALLOWED_IPS=f"{GATEWAY}/32",
        SMS_PROVIDER="console",
        # This checkout's code, whichever checkout the venv's editable install points at.
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    server.start()
    cert, key = self_signed(tmp)
    backend = int(server.base.rsplit(":", 1)[1])
    folder = tmp / "nginx"
    folder.mkdir()
    nginx = Nginx(
        folder, render_site(folder, http_port, https_port, backend, cert, key), https_port, cert
    )
    yield server, nginx
    nginx.stop()
    server.stop()


def twilio_form(sid: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "ACtest",
        "From": "+8613800138000",
        "To": "+8610690000",
        "Body": body,
        "NumMedia": "0",
    }


def test_healthz_through_nginx(stack):
    server, nginx = stack
    answer = client(OFFICER_DESK, nginx.cert).get(nginx.base + "/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] in ("ok", "degraded", "starting")


def test_twilio_signature_checks_against_the_public_url(stack):
    server, nginx = stack
    session = client(STRANGER, nginx.cert)
    data = twilio_form("SMnginx0001", "村里来了一伙人说是医保局的，是真的吗")
    # Twilio signs the URL it was given: nginx's https address, not the app's own.
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(nginx.base + "/sms/twilio", data)
    answer = session.post(
        nginx.base + "/sms/twilio",
        data=data,
        headers={"X-Twilio-Signature": signature},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert "<Message>" in answer.text
    inside = RequestValidator(TWILIO_TOKEN).compute_signature(
        server.base + "/sms/twilio", twilio_form("SMnginx0002", "你好")
    )
    refused = session.post(
        nginx.base + "/sms/twilio",
        data=twilio_form("SMnginx0002", "你好"),
        headers={"X-Twilio-Signature": inside},
        timeout=30,
    )
    assert refused.status_code == 403


def push(session: requests.Session, base: str, sequence_id: int, forged: str | None = None):
    headers = {"X-Forwarded-For": forged} if forged else {}
    return session.post(
        f"{base}/sms/aliyun?token={ALIYUN_SECRET}",
        json=[aliyun_item("1", sequence_id)],
        headers=headers,
        timeout=30,
    )


def test_the_client_is_nginx_s_peer_and_a_forged_forwarded_for_is_not(stack):
    server, nginx = stack
    before = inbound(server)
    allowed = push(client(GATEWAY, nginx.cert), nginx.base, 1)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["code"] == 0
    assert inbound(server) == before + 1
    stranger = client(STRANGER, nginx.cert)
    assert push(stranger, nginx.base, 2).status_code == 403
    # The stranger writes the gateway's address itself; nginx appends the real peer and
    # only that one hop is believed.
    assert push(stranger, nginx.base, 3, forged=GATEWAY).status_code == 403
    assert push(stranger, nginx.base, 4, forged=f"{GATEWAY}, {GATEWAY}").status_code == 403
    assert inbound(server) == before + 1
    # Audit rows name the officer's machine, whatever it claims to be.
    officer = client(OFFICER_DESK, nginx.cert)
    officer.headers["X-Forwarded-For"] = "10.9.9.9"
    failed_login_with(officer, nginx.base)
    assert audited_addresses(server)[-1] == OFFICER_DESK


def test_access_log_has_paths_but_no_query_strings(stack):
    server, nginx = stack
    push(client(STRANGER, nginx.cert), nginx.base, 5)
    log = nginx.access_log()
    assert "POST /sms/aliyun HTTP/1.1" in log
    assert ALIYUN_SECRET not in log and "token=" not in log
    assert "+8613800138000" not in log  # Twilio's From is in the body, never logged


def test_an_over_size_body_is_refused_by_nginx(stack):
    server, nginx = stack
    context = ssl.create_default_context(cafile=str(nginx.cert))
    port = int(nginx.base.rsplit(":", 1)[1])
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        # nginx judges by Content-Length and answers before the body is sent.
        conn.putrequest("POST", "/api/chat/photo")
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(MAX_BODY + 1))
        conn.endheaders()
        answer = conn.getresponse()
        body = answer.read().decode("latin-1")
    finally:
        conn.close()
    assert answer.status == 413
    assert "request too large" not in body  # the app's JSON: nginx refused it first
    assert "413" in body
    # A body at the limit goes through to the app (which answers it, not nginx).
    fits = client(STRANGER, nginx.cert).post(
        nginx.base + "/api/chat", data=b"x" * MAX_BODY, timeout=60
    )
    assert fits.status_code != 413
    assert fits.status_code < 500
