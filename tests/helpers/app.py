"""The app under test: its fixed settings and keys, how to build one, a villager's SMS
phone, and serving an app over HTTP. tests/conftest.py wraps these as fixtures
(``app``, ``app_factory``, ``phone``, ``phone_for``, ``live_server``)."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from twilio.request_validator import RequestValidator

from bot.app import create_app

PUBLIC_URL = "https://hotline.example.org"
TWILIO_TOKEN = "test-twilio-token"
# Fixed test keys, so tests can also compute hashes and decrypt what the app stored.
HASH_KEY = base64.urlsafe_b64encode(b"h" * 32).decode()
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"e" * 32).decode()


def build_app(tmp_path: Path, parser, database_url: str | None = None, **overrides):
    """An app with its own var/ under ``tmp_path``; on ``database_url`` (the PostgreSQL
    run of tests/conftest.py's ``database_url`` fixture) unless HOTLINE_DB is given."""
    os.environ["HOTLINE_HASH_KEY"] = HASH_KEY
    os.environ["HOTLINE_ENCRYPTION_KEY"] = ENCRYPTION_KEY
    if database_url and "HOTLINE_DB" not in overrides:
        overrides.setdefault("HOTLINE_DATABASE_URL", database_url)
    config = {
        "HOTLINE_VAR": str(tmp_path / "var"),
        "HOTLINE_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "HOTLINE_SMS_PROVIDER": "console",
        "TESTING": True,
        **overrides,
    }
    return create_app(config, parser=parser)


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


def serve(app) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
