"""kill -9 of `hotline serve` in the middle of report intake, then a restart: every
message received is stored exactly once, every report is there, and the messages the
dead server never answered get answered when Twilio sends them again (same MessageSid).

A push (the outbox) killed mid-run is tested in tests/outreach/test_outreach_outbox.py and
measured with real processes in bench/outbox_bench.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from twilio.request_validator import RequestValidator

import responses
from storage.db import connect
from storage.privacy import Vault
from tests.helpers.app import ENCRYPTION_KEY, HASH_KEY, PUBLIC_URL, TWILIO_TOKEN

ROOT = Path(__file__).resolve().parents[2]
SENDERS = 12
SCRIPT = [
    "我要举报，有人上门要验证码",
    "跳过",
    "跳过",
    "三个人穿制服",
    "跳过",
]  # one report each (asked for: only an explicit report opens the form)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, var: Path, models: Path, database_url: str | None = None) -> None:
        self.env = {
            **os.environ,
            "HOTLINE_VAR": str(var),
            "HOTLINE_MODEL_DIR": str(models),  # empty: keyword parser at once
            "HOTLINE_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "HOTLINE_HASH_KEY": HASH_KEY,
            "HOTLINE_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "HOTLINE_SMS_PROVIDER": "console",
            "PYTHONPATH": str(ROOT),
        }
        if database_url:  # the run on PostgreSQL (tests/conftest.py)
            self.env["HOTLINE_DATABASE_URL"] = database_url
        self.var = var
        self.proc: subprocess.Popen | None = None
        self.base = ""

    def start(self) -> None:
        port = free_port()
        var = self.var
        var.mkdir(parents=True, exist_ok=True)
        hotline = str(Path(sys.executable).parent / "hotline")
        self.proc = subprocess.Popen(
            [hotline, "serve", "--port", str(port), "--threads", "6"],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(var / f"serve-{port}.log", "w"),  # noqa: SIM115 (the child's)
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    self.base = base
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError("hotline serve did not come up")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def signed(number: str, sid: str, body: str) -> tuple[dict, dict]:
    data = {
        "MessageSid": sid,
        "AccountSid": "ACtest",
        "From": number,
        "To": "+8610690000",
        "Body": body,
        "NumMedia": "0",
    }
    sig = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + "/sms/twilio", data)
    return data, {"X-Twilio-Signature": sig}


def test_kill_9_during_report_intake_then_restart_loses_and_doubles_nothing(tmp_path, database_url):
    models = tmp_path / "models"
    models.mkdir()
    server = Server(tmp_path / "var", models, database_url)
    server.start()
    restarted = threading.Event()
    answered = Counter()  # sender -> messages answered
    resent = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def villager(n: int) -> None:
        number = f"+86138{n:08d}"
        for i, text in enumerate(SCRIPT):
            data, headers = signed(number, f"SMkill{n:04d}{i:02d}", text)
            while True:
                try:
                    response = requests.post(
                        server.base + "/sms/twilio", data=data, headers=headers, timeout=15
                    )
                except requests.RequestException:
                    # No answer: the server died. Twilio would try again; so do we.
                    restarted.wait(60)
                    with lock:
                        resent[n] += 1
                    continue
                busy = responses.text("system_busy")
                if (
                    response.status_code != 200
                    or "<Message>" not in response.text
                    or (busy in response.text)
                ):
                    with lock:
                        errors.append(f"{n}/{i}: {response.status_code} {response.text[:80]}")
                with lock:
                    answered[n] += 1
                break
            time.sleep(0.05)  # a villager types; the flood control is not what we test

    threads = [threading.Thread(target=villager, args=(n,)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while sum(answered.values()) < SENDERS * len(SCRIPT) // 3:
            assert time.monotonic() < deadline, "no progress before the kill"
            time.sleep(0.01)
        server.kill9()  # mid-stream: some requests are in flight
        killed_at = sum(answered.values())
        server.start()
        restarted.set()
        for t in threads:
            t.join(120)
    finally:
        server.stop()

    assert killed_at < SENDERS * len(SCRIPT)
    assert errors == []  # every message, resent or not, got a real answer
    assert all(answered[n] == len(SCRIPT) for n in range(SENDERS))

    db = connect(database_url or tmp_path / "var" / "hotline.db")
    vault = Vault(HASH_KEY.encode(), ENCRYPTION_KEY.encode())
    reports: dict[int, int] = {}
    for n in range(SENDERS):
        who = vault.hash(f"+86138{n:08d}")
        texts = [
            r[0]
            for r in db.execute(
                "SELECT text FROM messages WHERE sender_hash = ? AND direction = 'in' ORDER BY id",
                [who],
            )
        ]
        claims = db.execute(
            "SELECT message_id, replies IS NOT NULL, claimed_by, logged FROM inbound_seen"
            " WHERE message_id LIKE ?",
            [f"SMkill{n:04d}%"],
        ).fetchall()
        assert texts == SCRIPT, (n, texts, claims)  # every message once, in order
        reports[n] = db.execute(
            "SELECT count(*) FROM reports WHERE contact_hash = ?", [who]
        ).fetchone()[0]
    assert db.execute("SELECT count(*) FROM inbound_seen WHERE replies IS NULL").fetchone()[0] == 0
    db.conn.close()
    print(f"killed after {killed_at} answers; {sum(resent.values())} messages resent")
    # Every report is there, once: a turn killed after the report was created but before
    # the conversation was saved runs again on the retry and finds the report by its
    # opening message (reports.source) instead of filing a second one.
    assert all(reports[n] == 1 for n in range(SENDERS)), reports
