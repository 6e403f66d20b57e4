"""Shared fixtures: one trained model per test session, a fresh app and database per test."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from bot.app import create_app
from nlu.keywords import KeywordParser

PUBLIC_URL = "https://hotline.example.org"
TWILIO_TOKEN = "test-twilio-token"
# Fixed test keys, so tests can also compute hashes and decrypt what the app stored.
HASH_KEY = base64.urlsafe_b64encode(b"h" * 32).decode()
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"e" * 32).decode()


@pytest.fixture(scope="session")
def rasa_parser():
    """The trained Rasa model (trained first if missing or stale), loaded once."""
    from nlu.parser import RasaParser
    from nlu.training import train

    path, _trained = train()
    return RasaParser(path)


@pytest.fixture
def keyword_parser() -> KeywordParser:
    return KeywordParser()


def make_app(tmp_path: Path, parser, **overrides):
    os.environ["HOTLINE_HASH_KEY"] = HASH_KEY
    os.environ["HOTLINE_ENCRYPTION_KEY"] = ENCRYPTION_KEY
    config = {
        "HOTLINE_VAR": str(tmp_path / "var"),
        "HOTLINE_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "HOTLINE_SMS_PROVIDER": "console",
        "TESTING": True,
        **overrides,
    }
    return create_app(config, parser=parser)


@pytest.fixture
def app(tmp_path, rasa_parser):
    return make_app(tmp_path, rasa_parser)


@pytest.fixture
def degraded_app(tmp_path, keyword_parser):
    return make_app(tmp_path, keyword_parser)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    from storage.db import connect

    database = connect(app.config["HOTLINE_DB"])
    yield database
    database.conn.close()


@pytest.fixture
def vault(app):
    return app.extensions["hotline_vault"]


class SmsPhone:
    """A villager's phone texting the hotline through Twilio's signed webhook."""

    def __init__(self, client, number: str) -> None:
        self.client = client
        self.number = number
        self.count = 0

    def post(self, body: str, sid: str | None = None, **extra: str):
        self.count += 1
        params = {
            "MessageSid": sid or f"SM{self.number[-4:]}{self.count:06d}",
            "AccountSid": "ACtest",
            "From": self.number,
            "To": "+8610690000",
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC_URL + "/sms/twilio", params
        )
        return self.client.post(
            "/sms/twilio", data=params, headers={"X-Twilio-Signature": signature}
        )

    def send(self, body: str) -> list[str]:
        """Text the hotline; return the SMS replies from the TwiML."""
        from defusedxml import ElementTree

        response = self.post(body)
        assert response.status_code == 200, response.data
        root = ElementTree.fromstring(response.data)
        return [m.text or "" for m in root.iter("Message")]


@pytest.fixture
def phone(client) -> SmsPhone:
    return SmsPhone(client, "+8613812345678")


def serve(app):
    """Serve ``app`` on a free loopback port in a thread; yield its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    """The app with the real model, served over HTTP."""
    yield from serve(app)


@pytest.fixture
def degraded_server(degraded_app):
    """The keyword-parser app served over HTTP (plain http: no Secure cookie)."""
    degraded_app.config["SESSION_COOKIE_SECURE"] = False
    yield from serve(degraded_app)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (its own download needs the internet)."""
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (scripts/ensure-chromium installs it)")
        pytest.skip("no chromium on this machine: run scripts/ensure-chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def api():
    """A fake WeChat API server (access tokens, customer-service messages, media)."""
    from tests.wechat_helpers import FakeWeChatAPI

    fake = FakeWeChatAPI()
    yield fake
    fake.close()


@pytest.fixture
def wapp(tmp_path, keyword_parser, api):
    """The hotline as a WeChat Official Account (keyword parser), its API on ``api``."""
    from tests.wechat_helpers import wechat_app

    return wechat_app(tmp_path, keyword_parser, api)


@pytest.fixture
def county(degraded_app):
    """The sample county (桂平市) with its officers loaded (tests/police_helpers.py);
    an open database."""
    from tests.police_helpers import load_county

    db = load_county(degraded_app)
    yield db
    db.conn.close()
