"""`hotline serve --workers 2` for real (bot/prefork.py): a subprocess on a free port
answering signed Twilio webhooks from two worker processes, one flood limit across both
(storage/buckets.py), a SIGKILLed worker replaced, and SIGTERM stopping everything.

The keyword fallback (an empty model folder) keeps it to seconds: what is tested is the
processes, not the model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from html import escape
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import load_bench  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

import responses  # noqa: E402
from bench.twilio_webhooks import PUBLIC_URL, TOKEN  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BURST = 3


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(p) for p in text}
    return found


@pytest.fixture
def server(tmp_path):
    (tmp_path / "no-models").mkdir()
    port = load_bench.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_VAR": str(tmp_path / "var"),
        "HOTLINE_MODEL_DIR": str(tmp_path / "no-models"),
        "HOTLINE_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SMS_PROVIDER": "console",
        "HOTLINE_RATE_LIMIT_PER_MINUTE": "1",
        "HOTLINE_RATE_LIMIT_BURST": str(BURST),
    }
    env.pop("HOTLINE_DB", None)
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "bot.cli_main", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "2", "--threads", "4"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while load_bench.healthz(port) is None:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        assert time.monotonic() < deadline, "hotline serve did not answer in 60 s"
        time.sleep(0.1)
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()
    log.close()


def connection_per_worker(port: int, want: int = 2) -> dict[int, load_bench.Client]:
    """Keep-alive connections until ``want`` different worker pids answered: a
    connection stays with the worker that accepted it."""
    validator = RequestValidator(TOKEN)
    found: dict[int, load_bench.Client] = {}
    deadline = time.monotonic() + 30  # worker 0 starts the scheduler first: it comes later
    while time.monotonic() < deadline:
        client = load_bench.Client(port, validator)
        client.conn = load_bench.http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        client.conn.request("GET", "/healthz")
        response = client.conn.getresponse()
        pid = load_bench.json.loads(response.read())["worker"]
        if pid in found:
            client.close()
        else:
            found[pid] = client
        if len(found) == want:
            return found
        time.sleep(0.01)
    raise AssertionError(f"only workers {sorted(found)} answered in 30 s")


def test_two_workers_answer_share_a_flood_limit_are_replaced_and_stop(server):
    process, port = server
    workers = connection_per_worker(port)
    assert set(workers) == children(process.pid)
    (a_pid, a), (b_pid, b) = workers.items()

    # Both answer signed webhooks.
    for k, client in enumerate((a, b)):
        status, body = client.post(f"+861380000000{k}", f"SMhello{k}", "你好")
        assert load_bench.answered(status, body), (status, body)

    # One sender flooding through both workers gets one burst, not one per worker, and
    # one slow-down notice.
    slow_down = escape(responses.text("slow_down"), quote=False)
    answered = notices = 0
    for i in range(4 * BURST):
        status, body = (a, b)[i % 2].post("+8613900000009", f"SMflood{i}", f"有人上门 第{i}条")
        assert status == 200
        if slow_down in body:
            notices += 1
        elif load_bench.answered(status, body):
            answered += 1
    assert (answered, notices) == (BURST, 1)

    # A worker killed outright is replaced; the other kept serving meanwhile.
    b.close()
    os.kill(b_pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        now = children(process.pid)
        if len(now) == 2 and b_pid not in now:
            break
        assert time.monotonic() < deadline, f"not replaced: {now}"
        time.sleep(0.1)
    replacement = (now - {a_pid}).pop()
    status, body = a.post("+8613800000005", "SMafterkill", "你好")
    assert load_bench.answered(status, body)
    assert replacement in connection_per_worker(port)
    a.close()

    # SIGTERM: every worker stops, then the supervisor, with code 0.
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert not alive(a_pid) and not alive(replacement)
    assert load_bench.healthz(port) is None


def test_workers_die_with_a_supervisor_killed_outright(server):
    process, port = server
    workers = set(connection_per_worker(port))
    process.kill()  # SIGKILL: no chance to stop them
    process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "workers outlived their supervisor"
        time.sleep(0.05)
    assert load_bench.healthz(port) is None
