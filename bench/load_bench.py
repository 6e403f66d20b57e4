"""End to end: signed Twilio webhooks through the production server, `hotline serve`.

    .venv/bin/python bench/load_bench.py [--seconds 20] [--senders 1 10 50] [--threads N]

Starts `hotline serve` (waitress) as a subprocess on a free port with a temporary
HOTLINE_VAR, waits for it to answer and for /healthz to say the model is in (start-up
times), then for each concurrency level runs that many senders for ``--seconds``: each
sender is a thread with its own keep-alive connection that posts a signed webhook with a
held-out text, waits for the TwiML answer and sends the next. Senders rotate over their own
pool of phone numbers, so conversations carry on but no number trips the flood limit
(bot/ratelimit.py). An error is a non-200, a connection failure or an answer without a
<Message>. Also reports the server's resident memory and CPU time per request.

``--model-dir`` pointing at an empty folder runs the keyword fallback (no model to load):
that is what tests/system/test_bench_smoke.py does, in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nlu_bench import percentiles  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.twilio_webhooks import PATH, PUBLIC_URL, TOKEN, signed_form  # noqa: E402
from nlu import evaluate  # noqa: E402
from nlu.training import MODELS  # noqa: E402

NUMBERS_PER_SENDER = 500
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree(pid: int) -> list[int]:
    """``pid`` and its children (the workers of ``serve --workers``)."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    except FileNotFoundError:
        pass
    return pids


def memory_mb(pid: int) -> dict[str, float]:
    """Resident (RSS) and proportional (PSS: shared pages split between the processes
    sharing them) memory of ``pid`` and its children, in MB (/proc/<pid>/smaps_rollup)."""
    rss = pss = 0.0
    for p in tree(pid):
        try:
            lines = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in lines:
            if line.startswith("Rss:"):
                rss += int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss += int(line.split()[1]) / 1024
    return {"rss": rss, "pss": pss, "processes": len(tree(pid))}


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its live children."""
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # just exited
            total += cpu_seconds(p)
    return total


def hotline_command() -> list[str]:
    script = Path(sys.executable).parent / "hotline"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from bot.cli import cli; cli()"]


class Client:
    """One sender: a keep-alive connection that posts signed Twilio webhooks."""

    def __init__(self, port: int, validator: RequestValidator) -> None:
        self.port = port
        self.validator = validator
        self.conn: http.client.HTTPConnection | None = None

    def post(self, sender: str, sid: str, body: str) -> tuple[int, str]:
        params, signature = signed_form(self.validator, sid, sender, body)
        data = urllib.parse.urlencode(params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self.conn.request("POST", PATH, data, headers)
            response = self.conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self.close()  # the next message opens a fresh connection
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def healthz(port: int) -> dict[str, Any] | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return json.loads(body) if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None


def answered(status: int, body: str) -> bool:
    return status == 200 and "<Message>" in body


def drive(port: int, senders: int, seconds: float, texts: list[str], level: int) -> dict[str, Any]:
    """``senders`` threads, each sending and waiting for the answer, for ``seconds``."""
    validator = RequestValidator(TOKEN)
    latencies: list[list[float]] = [[] for _ in range(senders)]
    errors: list[list[str]] = [[] for _ in range(senders)]
    start = threading.Barrier(senders + 1)
    window: dict[str, float] = {}

    def sender(k: int) -> None:
        client = Client(port, validator)
        start.wait()
        deadline = window["deadline"]
        j = 0
        while time.perf_counter() < deadline:
            # 11-digit mainland mobile numbers, distinct per level, sender and slot.
            number = f"+86137{level:01d}{k:03d}{j % NUMBERS_PER_SENDER:04d}"
            text = texts[(k * 7919 + j) % len(texts)]
            t0 = time.perf_counter()
            try:
                status, body = client.post(number, f"SMbench{level}x{k:03d}x{j:07d}", text)
                if not answered(status, body):
                    errors[k].append(f"{status} {body[:80]!r}")
            except Exception as exc:  # counted, and the sender carries on
                errors[k].append(type(exc).__name__)
            latencies[k].append((time.perf_counter() - t0) * 1000)
            j += 1
        client.close()

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(senders)]
    for t in threads:
        t.start()
    window["deadline"] = time.perf_counter() + seconds
    started = time.perf_counter()
    client_cpu = time.process_time()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu

    flat = [x for per in latencies for x in per]
    all_errors = [e for per in errors for e in per]
    return {
        "senders": senders,
        "requests": len(flat),
        "seconds": elapsed,
        "rps": len(flat) / elapsed,
        **percentiles(flat),
        "errors": len(all_errors),
        "error_samples": sorted(set(all_errors))[:5],
        "client_cpu_s": client_cpu,
    }


def run(
    seconds: float = 20.0,
    senders: tuple[int, ...] = (1, 10, 50),
    model_dir: Path = MODELS,
    threads: int | None = None,
    startup_timeout: float = 300.0,
    workers: int | None = None,
    preload: bool = True,
    database_url: str | None = None,
) -> dict[str, Any]:
    """``workers``: ``serve --workers`` (None: serve's default, the number of cores);
    ``preload`` False: ``--no-preload``; ``database_url``: HOTLINE_DATABASE_URL for the
    server (None: SQLite in its temporary var/)."""
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="hotline-load-") as tmp:
        env = {
            **os.environ,
            "HOTLINE_VAR": str(Path(tmp) / "var"),
            "HOTLINE_MODEL_DIR": str(model_dir),
            "HOTLINE_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "HOTLINE_SMS_PROVIDER": "console",
        }
        env.pop("HOTLINE_DB", None)
        env.pop("HOTLINE_DATABASE_URL", None)
        if database_url:
            env["HOTLINE_DATABASE_URL"] = database_url
        command = [*hotline_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if threads:
            command += ["--threads", str(threads)]
        if workers:
            command += ["--workers", str(workers)]
        if not preload:
            command += ["--no-preload"]
        log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115 - closed below
        t0 = time.perf_counter()
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            result = _measure(
                server, port, t0, texts, seconds, senders, startup_timeout, workers or 1
            )
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
            result_log = (Path(tmp) / "server.log").read_text(errors="replace")
    result["server_log_tail"] = result_log.splitlines()[-5:]
    result["command"] = " ".join(["hotline", *command[len(hotline_command()) :]])
    return result


def _measure(
    server: subprocess.Popen,
    port: int,
    t0: float,
    texts: list[str],
    seconds: float,
    senders: tuple[int, ...],
    startup_timeout: float,
    workers: int = 1,
) -> dict[str, Any]:
    probe = Client(port, RequestValidator(TOKEN))
    loaded: set[int] = set()  # workers whose model is in (a fresh connection each probe)
    first_answer = model_loaded = None
    health: dict[str, Any] | None = None
    n = 0
    deadline = t0 + startup_timeout
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"hotline serve exited with {server.returncode}")
        if first_answer is None:
            try:
                status, body = probe.post("+8613600000000", f"SMprobe{n}", "你好")
                if answered(status, body):
                    first_answer = time.perf_counter() - t0
            except (OSError, http.client.HTTPException):
                pass
            n += 1
        if first_answer is not None:
            health = healthz(port)
            if health and not health.get("loading"):
                loaded.add(health.get("worker", 0))
                if len(loaded) >= workers:
                    model_loaded = time.perf_counter() - t0
                    break
        time.sleep(0.05)
    probe.close()
    if model_loaded is None:
        raise RuntimeError(f"hotline serve not ready after {startup_timeout:.0f} s")
    # Warm-up outside the measured window: TensorFlow builds its functions on first use.
    # A fresh connection each: with several workers, each gets some of them.
    for i, text in enumerate(texts[: 30 * workers]):
        warm = Client(port, RequestValidator(TOKEN))
        warm.post(f"+8613500{i:06d}", f"SMwarm{i}", text)
        warm.close()
    rss_loaded = memory_mb(server.pid)
    levels = []
    for level, count in enumerate(senders):
        cpu_before = tree_cpu_seconds(server.pid)
        result = drive(port, count, seconds, texts, level)
        server_cpu = tree_cpu_seconds(server.pid) - cpu_before
        result["server_cpu_s"] = server_cpu
        result["server_cpu_ms_per_request"] = 1000 * server_cpu / max(result["requests"], 1)
        levels.append(result)
    return {
        "nlu": (health or {}).get("nlu"),
        "status": (health or {}).get("status"),
        "first_answer_s": first_answer,
        "model_loaded_s": model_loaded,
        "rss_loaded_mb": rss_loaded["rss"],
        "pss_loaded_mb": rss_loaded["pss"],
        "processes": rss_loaded["processes"],
        "rss_end_mb": memory_mb(server.pid)["rss"],
        "levels": levels,
    }


def markdown(result: dict[str, Any], raw_per_s: float | None = None) -> str:
    lines = [
        f"Server: `{result['command']}`, NLU `{result['nlu']}` (/healthz: {result['status']}).",
        "",
        "| senders | requests | req/s | vs raw NLU | p50 | p95 | p99 | max | errors "
        "| server CPU / request |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in result["levels"]:
        ratio = f"{lv['rps'] / raw_per_s:.2f}" if raw_per_s else "—"
        lines.append(
            f"| {lv['senders']} | {lv['requests']} | {lv['rps']:.1f} | {ratio} | "
            f"{lv['p50']:.1f} ms | {lv['p95']:.1f} ms | {lv['p99']:.1f} ms | "
            f"{lv['max']:.0f} ms | {lv['errors']} | {lv['server_cpu_ms_per_request']:.1f} ms |"
        )
    lines += [
        "",
        "| start-up and memory | result |",
        "|---|---|",
        f"| process start → first answered webhook (keyword fallback) | "
        f"{result['first_answer_s']:.1f} s |",
        f"| process start → model loaded (/healthz not `starting`) | "
        f"{result['model_loaded_s']:.1f} s |",
        f"| resident memory, model loaded ({result['processes']} processes, RSS summed) | "
        f"{result['rss_loaded_mb']:.0f} MB |",
        f"| the same, PSS (shared pages counted once) | {result['pss_loaded_mb']:.0f} MB |",
        f"| resident memory after the load runs | {result['rss_end_mb']:.0f} MB |",
    ]
    samples = [s for lv in result["levels"] for s in lv["error_samples"]]
    if samples:
        lines += ["", "Error samples: " + "; ".join(f"`{s}`" for s in samples[:5])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--seconds", type=float, default=20.0, help="per concurrency level")
    args.add_argument("--senders", type=int, nargs="+", default=[1, 10, 50])
    args.add_argument("--threads", type=int, help="waitress threads (default: serve's)")
    args.add_argument("--workers", type=int, help="serve --workers (default: serve's)")
    args.add_argument("--no-preload", action="store_true", help="serve --no-preload")
    args.add_argument("--model-dir", type=Path, default=MODELS)
    args.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args.add_argument("--database-url", help="HOTLINE_DATABASE_URL (default: SQLite)")
    opts = args.parse_args(argv)
    result = run(
        opts.seconds,
        tuple(opts.senders),
        opts.model_dir,
        opts.threads,
        workers=opts.workers,
        preload=not opts.no_preload,
        database_url=opts.database_url,
    )
    if opts.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print(markdown(result))


if __name__ == "__main__":
    main(sys.argv[1:])
