"""Shared fixtures: one trained model per test session, a fresh app and database per test."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from nlu.keywords import KeywordParser
from storage import pgserver
from tests.helpers.app import SmsPhone, build_app, serve


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
# build (app_factory) opens that engine. PostgreSQL: HOTLINE_TEST_DATABASE_URL if set, else
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
def postgres_server():
    """The URL of a PostgreSQL database for the session (see DATABASE_MODULES)."""
    given = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    try:
        url, folder = pgserver.start()
    except pgserver.ServerUnavailable as exc:
        if os.environ.get("HOTLINE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        pgserver.stop(folder)


@pytest.fixture(autouse=True)
def database_url(request):
    """None on SQLite (the app's own file in its var/), else a PostgreSQL URL whose
    search_path is a schema of this test's own, dropped afterwards."""
    engine = getattr(request, "param", "sqlite")
    if engine == "sqlite":
        yield None
        return
    server = request.getfixturevalue("postgres_server")
    url, schema = pgserver.create_schema(server)
    try:
        yield url
    finally:
        pgserver.drop_schema(server, schema)


@pytest.fixture
def app_factory(database_url) -> Callable[..., object]:
    """``app_factory(tmp_path, parser, **settings)``: an app on this test's engine."""

    def make(tmp_path: Path, parser, **overrides):
        return build_app(tmp_path, parser, database_url, **overrides)

    return make


@pytest.fixture
def app(tmp_path, rasa_parser, app_factory):
    return app_factory(tmp_path, rasa_parser)


@pytest.fixture
def degraded_app(tmp_path, keyword_parser, app_factory):
    return app_factory(tmp_path, keyword_parser)


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


@pytest.fixture
def phone(client) -> SmsPhone:
    return SmsPhone(client, "+8613812345678")


@pytest.fixture
def phone_for() -> Callable[..., SmsPhone]:
    """``phone_for(client, number)``: another villager's phone on any app's client."""
    return SmsPhone


@pytest.fixture
def serve_app() -> Callable:
    """``serve_app(app)``: a generator that serves ``app`` over HTTP and yields its URL."""
    return serve


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
    from tests.helpers.wechat import FakeWeChatAPI

    fake = FakeWeChatAPI()
    yield fake
    fake.close()


@pytest.fixture
def wapp(tmp_path, keyword_parser, api, app_factory):
    """The hotline as a WeChat Official Account (keyword parser), its API on ``api``."""
    from tests.helpers.wechat import wechat_app

    return wechat_app(app_factory, tmp_path, keyword_parser, api)


@pytest.fixture
def county(degraded_app):
    """The sample county (桂平市) with its officers loaded (tests/helpers/police.py);
    an open database."""
    from tests.helpers.police import load_county

    db = load_county(degraded_app)
    yield db
    db.conn.close()
