"""`hotline serve` with HOTLINE_DATABASE_URL=postgresql://… answers an SMS (console
provider) and the web chat with every row in PostgreSQL and no SQLite file created; the
scheduler runs in the one leader (needs PostgreSQL: tests/conftest.py, or it skips)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from storage.db import connect
from storage.leader import Leader
from tests.helpers.app import ENCRYPTION_KEY, HASH_KEY, PUBLIC_URL
from tests.system.test_reliability_kill import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _serve(var: Path, url: str, token: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_VAR": str(var),
        "HOTLINE_DATABASE_URL": url,
        "HOTLINE_MODEL_DIR": str(var / "no-model"),  # keyword parser at once
        "HOTLINE_PUBLIC_URL": PUBLIC_URL,
        "HOTLINE_HASH_KEY": HASH_KEY,
        "HOTLINE_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "SMS_PROVIDER": "console",
        "SMS_CONSOLE_TOKEN": token,
    }
    env.pop("HOTLINE_DB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli_main", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(var / f"serve-{port}.log", "w"),  # noqa: SIM115 (the child's)
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).ok:
                return proc, base
        except requests.ConnectionError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise AssertionError((var / f"serve-{port}.log").read_text())


def _leadership_taken(url: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        contender = Leader(url, "scheduler")
        if not contender.try_acquire():
            return True
        contender.release()  # free at once: the server's worker must be able to win it
        time.sleep(0.2)
    return False


def _jobs_stored(url: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        db = connect(url, migrate_schema=False)
        try:
            tables = db.table_names()
            if (
                "apscheduler_jobs" in tables
                and db.execute("SELECT count(*) FROM apscheduler_jobs").fetchone()[0]
            ):
                return True
        finally:
            db.conn.close()
        time.sleep(0.2)
    return False


def test_serve_on_postgresql_answers_sms_and_web_chat_with_rows_there(tmp_path, database_url):
    var = tmp_path / "var"
    var.mkdir()
    token = "t" * 40
    proc, base = _serve(var, database_url, token)
    try:
        sms = requests.post(
            base + "/sms/console",
            json={"from": "13812345678", "text": "有人上门说办医保电子凭证，要我的验证码"},
            headers={"X-Console-Token": token},
            timeout=30,
        )
        assert sms.status_code == 200, sms.text
        assert "验证码" in sms.text
        chat = requests.post(
            base + "/api/chat", json={"sender": "web-visitor-1", "text": "你好"}, timeout=30
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["replies"]
        # The scheduler runs in this server: it holds the one leadership (taken by
        # worker 0, which may start after another worker answered /healthz).
        assert _leadership_taken(database_url, within=30), "no worker leads the scheduler"
        # ...and its scheduler, started just after, keeps every domain's stored jobs
        # (the daily purges) in this database, not in a file beside it.
        assert _jobs_stored(database_url, within=30), "no stored job in PostgreSQL"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    db = connect(database_url, migrate_schema=False)
    try:
        by_channel = dict(
            db.execute(
                "SELECT channel, count(*) FROM messages WHERE direction = 'in' GROUP BY channel"
            ).fetchall()
        )
        assert by_channel == {"sms": 1, "web": 1}
        assert db.execute("SELECT count(*) FROM messages WHERE direction = 'out'").fetchone()[0]
        assert db.execute("SELECT count(*) FROM conversations").fetchone()[0] == 2
        stored = " ".join(r[0] or "" for r in db.execute("SELECT text FROM messages").fetchall())
        assert "13812345678" not in stored
    finally:
        db.conn.close()
    sqlite_files = [
        p for p in tmp_path.rglob("*") if p.suffix in (".db", ".sqlite") or p.name.endswith("-wal")
    ]
    assert not sqlite_files, sqlite_files
