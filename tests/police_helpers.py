"""Helpers for the police-side tests: a county loaded from the sample CSV, officers,
logged-in test clients. Not fixtures, so each test module picks what it needs."""

from __future__ import annotations

import re
from pathlib import Path

from reporting import officers, routing
from storage.db import connect

SAMPLE = Path(__file__).resolve().parent.parent / "reporting" / "data" / "jurisdictions-sample.csv"
PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def load_county(app):
    """Import the sample county (桂平市) and add officers: jt (金田 station), sp (社坡
    station) and sup (county supervisor). Returns an open database."""
    db = connect(app.config["HOTLINE_DB"])
    routing.import_csv(db, SAMPLE)
    officers.add(db, "jt", PASSWORD, "GP-JT")
    officers.add(db, "jt2", PASSWORD, "GP-JT")
    officers.add(db, "sp", PASSWORD, "GP-SP")
    officers.add(db, "sup", PASSWORD, "GP-JT", role="supervisor")
    return db


def csrf_token(client, path: str = "/police/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post(
        "/police/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def logged_in(app, username: str):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post_form(client, path: str, data: dict, page: str = "/police/"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def drain_outbox(app, sender=None):
    """What the scheduler's drain does after a police action: send the due outbox rows
    (``sender``: one SMS sender or a channel -> sender mapping; default: the app's)."""
    from bot.outreach import outbox

    db = connect(app.config["HOTLINE_DB"])
    try:
        senders = sender if sender is not None else outbox.senders_from_config(app.config)
        return outbox.drain(db, app.extensions["hotline_vault"], senders, rate=0)
    finally:
        db.conn.close()
