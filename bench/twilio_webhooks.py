"""Signed Twilio webhooks for the benches: what a villager's SMS looks like to the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twilio.request_validator import RequestValidator

TOKEN = "bench-token"  # noqa: S105 (a bench credential)
PUBLIC_URL = "https://bench.example.org"
PATH = "/sms/twilio"
TO = "+8610690000"


def signed_form(
    validator: RequestValidator, sid: str, sender: str, body: str
) -> tuple[dict[str, str], str]:
    """The form fields of one inbound SMS and their X-Twilio-Signature."""
    params = {"MessageSid": sid, "From": sender, "To": TO, "Body": body}
    return params, validator.compute_signature(PUBLIC_URL + PATH, params)


def bench_app(prefix: str, parser: Any, database_url: str | None = None) -> Any:
    """The hotline's app on a fresh temporary folder, configured for signed_form's
    webhooks (TOKEN, PUBLIC_URL), with the given parser; ``database_url``:
    HOTLINE_DATABASE_URL (None: SQLite in that folder)."""
    import tempfile

    from bot.app import create_app

    config = {
        "HOTLINE_VAR": tempfile.mkdtemp(prefix=f"hotline-{prefix}-"),
        "HOTLINE_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_AUTH_TOKEN": TOKEN,
    }
    if database_url:
        config["HOTLINE_DATABASE_URL"] = database_url
    return create_app(config, parser=parser)


def in_process_sender(client: Any, prefix: str, texts: list[str]) -> Callable[[int], None]:
    """``send(i)``: message i (held-out text, one of 2,000 senders) through the Flask test
    client of an app configured with TOKEN and PUBLIC_URL; asserts it was answered."""
    validator = RequestValidator(TOKEN)

    def send(i: int) -> None:
        params, signature = signed_form(
            validator, f"SM{prefix}{i:07d}", f"+86138{i % 2000:08d}", texts[i % len(texts)]
        )
        response = client.post(PATH, data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.status_code

    return send
