"""`hotline serve` behind a reverse proxy (HOTLINE_TRUSTED_PROXIES), end to end.

A real `hotline serve` (waitress) runs as a subprocess; a small reverse proxy in a
thread forwards to it and appends the client's address to X-Forwarded-For, as nginx's
``proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`` does. Every connection
really comes from 127.0.0.1, so the client address the proxy appends is given per
request (header ``X-Test-Client``, which the proxy consumes).

Shown: through a trusted proxy an Aliyun push is judged by the gateway's address
against SMS_GATEWAY_ALLOWED_IPS, and audit rows record the client, not the proxy;
a client's own X-Forwarded-For entries are never believed; without the setting, or from
a peer that is not HOTLINE_TRUSTED_PROXY_ADDR, a forged X-Forwarded-For changes nothing.
"""

from __future__ import annotations

import http.client
import re
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from bot.channels import source_ip
from tests.helpers.sms import ALIYUN_SECRET, aliyun_item
from tests.system.test_reliability_kill import ROOT, Server

GATEWAY = "10.1.2.3"  # inside SMS_GATEWAY_ALLOWED_IPS
STRANGER = "203.0.113.9"  # outside it
OFFICER_DESK = "198.51.100.7"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


class ReverseProxy:
    """Forwards every request to ``backend`` and appends the client to X-Forwarded-For."""

    def __init__(self, backend: str) -> None:
        host, port = backend.removeprefix("http://").split(":")

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                client = self.headers.get("X-Test-Client") or self.client_address[0]
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in HOP_BY_HOP | {"x-test-client", "x-forwarded-for"}
                }
                sent = self.headers.get_all("X-Forwarded-For") or []
                headers["X-Forwarded-For"] = ", ".join([*sent, client])
                upstream = http.client.HTTPConnection(host, int(port), timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in HOP_BY_HOP:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = forward

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(tmp_path: Path, **settings: str) -> Server:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    server = Server(tmp_path / "var", models)
    for name in ("HOTLINE_TRUSTED_PROXIES", "HOTLINE_TRUSTED_PROXY_ADDR"):
        server.env.pop(name, None)
    server.env.update(
        ALIYUN_SMS_WEBHOOK_SECRET=ALIYUN_SECRET,
        SMS_GATEWAY_ALLOWED_IPS="10.0.0.0/8",
        SMS_PROVIDER="console",
        HOTLINE_PUBLIC_URL="http://127.0.0.1",  # not https: the session cookie goes over http
        **settings,
    )
    server.start()
    return server


@pytest.fixture
def stack(request, tmp_path):
    """(server, proxy) with the settings the test is parametrised with."""
    server = serve(tmp_path, **getattr(request, "param", {}))
    proxy = ReverseProxy(server.base)
    yield server, proxy
    proxy.close()
    server.stop()


def push(base: str, sequence_id: int, client: str | None = None, forged: str | None = None):
    headers = {}
    if client:
        headers["X-Test-Client"] = client
    if forged:
        headers["X-Forwarded-For"] = forged
    return requests.post(
        f"{base}/sms/aliyun?token={ALIYUN_SECRET}",
        json=[aliyun_item("1", sequence_id)],
        headers=headers,
        timeout=30,
    )


def failed_login(base: str, client: str | None = None, forged: str | None = None) -> None:
    session = requests.Session()
    if client:
        session.headers["X-Test-Client"] = client
    if forged:
        session.headers["X-Forwarded-For"] = forged
    failed_login_with(session, base)


def failed_login_with(session: requests.Session, base: str) -> None:
    """One failed police login through ``session`` (an audit row with the client's address)."""
    page = session.get(base + "/police/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        base + "/police/login",
        data={"username": "nobody", "password": "wrong", "csrf_token": token},
        timeout=30,
    )
    assert answer.status_code in (200, 401), answer.status_code


def stored(server: Server, sql: str) -> list[tuple]:
    db = sqlite3.connect(server.var / "hotline.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def inbound(server: Server) -> int:
    return stored(server, "SELECT COUNT(*) FROM messages WHERE direction = 'in'")[0][0]


def audited_addresses(server: Server) -> list[str]:
    return [row[0] for row in stored(server, "SELECT ip FROM audit_log ORDER BY id")]


@pytest.mark.parametrize("stack", [{"HOTLINE_TRUSTED_PROXIES": "1"}], indirect=True)
def test_through_a_trusted_proxy_the_client_address_counts(stack):
    server, proxy = stack  # HOTLINE_TRUSTED_PROXY_ADDR: its default, 127.0.0.1
    allowed = push(proxy.base, 1, client=GATEWAY)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["code"] == 0
    assert inbound(server) == 1
    assert push(proxy.base, 2, client=STRANGER).status_code == 403
    # The stranger writes the gateway's address first; the proxy appends the real one,
    # and only that (rightmost) entry is believed.
    assert push(proxy.base, 3, client=STRANGER, forged=GATEWAY).status_code == 403
    assert inbound(server) == 1
    # Audit rows name the officer's machine, not the proxy.
    failed_login(proxy.base, client=OFFICER_DESK)
    assert audited_addresses(server) == [OFFICER_DESK]


def test_without_trusted_proxies_a_forged_forwarded_for_is_not_believed(stack):
    server, proxy = stack
    assert push(server.base, 1, forged=GATEWAY).status_code == 403
    # Through the proxy too: the peer (the proxy, 127.0.0.1) is the client.
    assert push(proxy.base, 2, client=GATEWAY).status_code == 403
    assert inbound(server) == 0
    failed_login(server.base, forged=OFFICER_DESK)
    assert audited_addresses(server) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "stack",
    [{"HOTLINE_TRUSTED_PROXIES": "1", "HOTLINE_TRUSTED_PROXY_ADDR": "192.0.2.1"}],
    indirect=True,
)
def test_forwarded_for_from_a_peer_that_is_not_the_proxy_is_not_believed(stack):
    server, proxy = stack  # the proxy is trusted at 192.0.2.1; we connect from 127.0.0.1
    assert push(server.base, 1, forged=GATEWAY).status_code == 403
    assert push(proxy.base, 2, client=GATEWAY).status_code == 403
    assert inbound(server) == 0


def test_serve_refuses_a_proxy_address_that_is_not_one(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    env = Server(tmp_path / "var", models).env
    env.update(HOTLINE_TRUSTED_PROXIES="1", HOTLINE_TRUSTED_PROXY_ADDR="nginx")
    hotline = str(Path(sys.executable).parent / "hotline")
    done = subprocess.run(
        [hotline, "serve", "--port", "1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "HOTLINE_TRUSTED_PROXY_ADDR" in done.stderr


def test_server_options():
    assert source_ip.server_options({}) == {}
    assert source_ip.server_options({"HOTLINE_TRUSTED_PROXIES": "0"}) == {}
    assert source_ip.server_options(
        {"HOTLINE_TRUSTED_PROXIES": "2", "HOTLINE_TRUSTED_PROXY_ADDR": "0:0::1"}
    ) == {
        "trusted_proxy": "::1",
        "trusted_proxy_count": 2,
        "trusted_proxy_headers": {"x-forwarded-for"},
        "clear_untrusted_proxy_headers": True,
    }
    star = {"HOTLINE_TRUSTED_PROXIES": "1", "HOTLINE_TRUSTED_PROXY_ADDR": "*"}
    assert source_ip.server_options(star)["trusted_proxy"] == "*"
    with pytest.raises(ValueError, match="HOTLINE_TRUSTED_PROXY_ADDR"):
        source_ip.server_options({"HOTLINE_TRUSTED_PROXIES": "1", "HOTLINE_TRUSTED_PROXY_ADDR": ""})
