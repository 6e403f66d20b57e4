"""Shared fixtures: one trained model per test session, a fresh app and database per test."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import tempfile
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


# The database tests run twice: on SQLite (the default) and on PostgreSQL. These modules
# (and any test marked ``database``) get the ``database_url`` parameter; every app they
# build (make_app) opens that engine. PostgreSQL: HOTLINE_TEST_DATABASE_URL if set, else
# a throwaway server from scripts/ensure-postgres, started on first use and stopped at
# the end of the session; one schema per test. No server: those runs SKIP, unless
# HOTLINE_TEST_REQUIRE_POSTGRES=1 (CI), where they fail. HOTLINE_TEST_ENGINES=all runs
# every module's app-based tests on both.
DATABASE_MODULES = {
    "test_db_reuse",
    "test_pg_storage",
    "test_outbox_kinds",
    "test_outreach_outbox",
    "test_registry",
    "test_routing",
    "test_incidents",
    "test_conversations",
    "test_police_queue",
    "test_report_form",
    "test_outreach_enrollment",
    "test_review",
    "test_scheduler_leader",
    "test_reliability_kill",
    "test_outreach_alerts",
    "test_outreach_status",
    "test_sms_receipts",
    "test_incident_web",
}
ENGINES = ("sqlite", "postgresql")
_current_database_url: str | None = None


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "database: runs on SQLite and again on PostgreSQL (tests/conftest.py)"
    )


def pytest_generate_tests(metafunc):
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    marked = metafunc.definition.get_closest_marker("database") is not None
    chosen = any(
        "database_url" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize")
    )  # a test that names its engines itself (PostgreSQL only, say)
    if (
        "database_url" in metafunc.fixturenames
        and (
            module in DATABASE_MODULES or marked or os.environ.get("HOTLINE_TEST_ENGINES") == "all"
        )
        and not chosen
    ):
        metafunc.parametrize("database_url", ENGINES, indirect=True)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """The URL of a PostgreSQL database for the session (see DATABASE_MODULES)."""
    given = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    root = Path(__file__).resolve().parent.parent
    folder = tempfile.mkdtemp(prefix="hotline-pg-")
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user (as root) must enter it
    started = subprocess.run(
        [str(root / "scripts" / "ensure-postgres"), "start", folder],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if started.returncode != 0:
        reason = f"PostgreSQL did not start: {started.stderr.strip() or started.returncode}"
        subprocess.run([str(root / "scripts" / "ensure-postgres"), "stop", folder])
        if os.environ.get("HOTLINE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(root / "scripts" / "ensure-postgres"), "stop", folder], timeout=120)


def _with_schema(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(autouse=True)
def database_url(request):
    """None on SQLite (the app's own file in its var/), else a PostgreSQL URL whose
    search_path is a schema of this test's own, dropped afterwards."""
    global _current_database_url
    engine = getattr(request, "param", "sqlite")
    if engine == "sqlite":
        yield None
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    _current_database_url = _with_schema(server, schema)
    try:
        yield _current_database_url
    finally:
        _current_database_url = None
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def make_app(tmp_path: Path, parser, **overrides):
    os.environ["HOTLINE_HASH_KEY"] = HASH_KEY
    os.environ["HOTLINE_ENCRYPTION_KEY"] = ENCRYPTION_KEY
    if _current_database_url and "HOTLINE_DB" not in overrides:
        overrides.setdefault("HOTLINE_DATABASE_URL", _current_database_url)
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
