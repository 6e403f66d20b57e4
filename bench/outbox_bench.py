"""Outbox benchmarks: enqueue a 100,000-subscriber push, drain it through a fake provider
at a configured rate, and kill -9 a drain in the middle then restart it.

    .venv/bin/python bench/outbox_bench.py            # all three, prints Markdown
    .venv/bin/python bench/outbox_bench.py --quick    # 10,000 subscribers

The fake provider does no network I/O, so the drain figures are our own overhead
(claim, decrypt, render, two short commits per message) and the pacer's accuracy.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.outreach import campaigns, outbox  # noqa: E402
from bot.outreach.quiet_hours import BEIJING  # noqa: E402
from messaging.providers.base import SendResult  # noqa: E402
from storage.db import connect  # noqa: E402
from storage.privacy import Vault, mask  # noqa: E402

VAULT = Vault(base64.urlsafe_b64encode(b"b" * 32), base64.urlsafe_b64encode(b"k" * 32))
# A fixed daytime moment, so a run at night is not held back by quiet hours.
DAYTIME = dt.datetime(2025, 3, 4, 10, 0, tzinfo=BEIJING)


def populate(db_path: Path, count: int, villages: int = 200) -> None:
    """``count`` active SMS subscribers spread over ``villages`` groups of one county."""
    from cryptography.fernet import Fernet

    db = connect(db_path)
    fernet = Fernet(VAULT.fernet_key)
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO village_groups (county, township, village, created_at) VALUES (?,?,?,?)",
            [("平南县", f"镇{v // 20}", f"村{v}", "2025-01-01") for v in range(villages)],
        )
        rows = []
        for n in range(count):
            phone = f"139{n:08d}"
            rows.append(
                (
                    VAULT.hash(phone),
                    fernet.encrypt(phone.encode()).decode(),
                    mask(phone),
                    "sms",
                    "active",
                    1 + n % villages,
                    "2025-01-01",
                    "csv",
                    "bench",
                )
            )
        db.conn.executemany(
            "INSERT INTO subscribers (contact_hash, contact_enc, contact_masked, channel, "
            "status, group_id, consent_at, consent_channel, consent_by) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
    db.conn.close()


def bench_enqueue(db_path: Path) -> tuple[int, float]:
    db = connect(db_path)
    started = time.perf_counter()
    planned = campaigns.plan(
        db,
        kind="tip",
        scope_type="county",
        scope_value="平南县",
        created_by="bench",
        now=DAYTIME,
    )
    elapsed = time.perf_counter() - started
    db.conn.close()
    return planned.recipients, elapsed


class TimingProvider:
    name = "bench"
    accepts_idempotency_key = True

    def __init__(self) -> None:
        self.times: list[float] = []
        self.keys: set[str] = set()

    def send(self, to: str, text: str, idempotency_key: str | None = None) -> SendResult:
        self.times.append(time.perf_counter())
        self.keys.add(idempotency_key or "")
        return SendResult(True, f"SM{len(self.times)}")


def bench_drain(db_path: Path, rate: float, messages: int) -> dict[str, float]:
    db = connect(db_path)
    provider = TimingProvider()
    stats = outbox.drain(db, VAULT, provider, rate=rate, limit=messages, now=lambda: DAYTIME)
    db.conn.close()
    times = provider.times
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span if span else float("inf")
    return {
        "sent": stats.sent,
        "elapsed": stats.elapsed,
        "per_message_ms": 1000 * stats.elapsed / max(stats.sent, 1),
        "achieved_rate": achieved,
        "error_pct": 100 * abs(achieved - rate) / rate if rate else 0.0,
    }


# --- kill -9 -----------------------------------------------------------------------


class FileProvider:
    """Appends every delivery to a file (what the phones got). In ``idempotent`` mode it
    remembers accepted keys in that file and drops a resend, like a provider with
    idempotency keys; in ``plain`` mode (like Twilio) every call delivers."""

    name = "file"

    def __init__(self, path: Path, idempotent: bool) -> None:
        self.path = path
        self.accepts_idempotency_key = idempotent
        self.seen = set(path.read_text().split()) if path.exists() else set()
        self.out = open(path, "a")  # noqa: SIM115 - lives as long as the process

    def send(self, to: str, text: str, idempotency_key: str | None = None) -> SendResult:
        key = idempotency_key or f"plain:{to}"
        if idempotency_key and key in self.seen:
            return SendResult(True, "dup")
        self.seen.add(key)
        # The whole key: a restarted provider must recognise a resend ("<campaign key>:<id>").
        self.out.write(f"{key if idempotency_key else to}\n")
        self.out.flush()  # in the kernel now: survives kill -9 of this process
        return SendResult(True, f"SM{len(self.seen)}")


def worker(db_path: Path, log: Path, mode: str, rate: float) -> None:
    db = connect(db_path)
    provider = FileProvider(log, idempotent=mode == "idempotent")
    released, in_doubt = outbox.recover(
        db, resend_in_doubt=provider.accepts_idempotency_key, stale_after=0
    )
    print(f"recovered {released} {in_doubt}", flush=True)
    outbox.drain(db, VAULT, provider, rate=rate, now=lambda: DAYTIME)


def bench_kill(workdir: Path, mode: str, recipients: int = 3000, rate: float = 1000) -> dict:
    db_path = workdir / f"kill-{mode}.db"
    log = workdir / f"kill-{mode}.log"
    populate(db_path, recipients, villages=10)
    db = connect(db_path)
    campaigns.plan(
        db, kind="tip", scope_type="county", scope_value="平南县", created_by="b", now=DAYTIME
    )
    cmd = [sys.executable, __file__, "worker", str(db_path), str(log), mode, str(rate)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("\n") >= recipients // 3:
            break
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    at_kill = log.read_text().count("\n")
    second = subprocess.run(cmd, capture_output=True, text=True, check=True)
    _word, released, in_doubt = second.stdout.split("\n")[0].split()
    # One line per delivery: the recipient is the subscriber id at the end of the key
    # (idempotent mode) or the number (plain mode).
    lines = [line.rsplit(":", 1)[-1] for line in log.read_text().split()]
    counts = Counter(lines)
    if mode == "idempotent":
        expected = {str(r[0]) for r in db.execute("SELECT id FROM subscribers")}
    else:
        expected = {f"139{n:08d}" for n in range(recipients)}
    statuses = dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    db.conn.close()
    return {
        "mode": mode,
        "recipients": recipients,
        "delivered_before_kill": at_kill,
        "released": int(released),
        "in_doubt": int(in_doubt),
        "duplicates": sum(c - 1 for c in counts.values() if c > 1),
        "missing": len(expected - set(counts)),
        "statuses": statuses,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 subscribers")
    parser.add_argument("--rate", type=float, default=200.0, help="paced drain, msg/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced drain length")
    args = parser.parse_args(argv)
    count = 10_000 if args.quick else args.subscribers
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db_path = work / "bench.db"
        started = time.perf_counter()
        populate(db_path, count)
        setup = time.perf_counter() - started
        recipients, enqueue = bench_enqueue(db_path)
        unpaced = bench_drain(db_path, 0, 2000)
        paced = bench_drain(db_path, args.rate, int(args.rate * args.seconds))
        kills = [bench_kill(work, "idempotent"), bench_kill(work, "plain")]
    print("## Outbox (bench/outbox_bench.py)\n")
    print(f"Machine: {os.cpu_count()} cores; SQLite WAL; fake provider (no network).\n")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| set-up: {count:,} subscribers (not timed against a target) | {setup:.1f} s | |")
    print(
        f"| plan + enqueue a county push to {recipients:,} subscribers | {enqueue:.2f} s | < 10 s |"
    )
    print(
        f"| drain unpaced, {unpaced['sent']:.0f} messages: overhead per message | "
        f"{unpaced['per_message_ms']:.2f} ms ({1000 / unpaced['per_message_ms']:.0f} msg/s max) | |"
    )
    print(
        f"| drain paced at {args.rate:g} msg/s, {paced['sent']:.0f} messages | "
        f"{paced['achieved_rate']:.1f} msg/s, off by {paced['error_pct']:.2f}% | within 5% |"
    )
    for k in kills:
        print(
            f"| kill -9 mid-drain ({k['mode']} provider), {k['recipients']:,} recipients, "
            f"killed after {k['delivered_before_kill']:,} | duplicates {k['duplicates']}, "
            f"missing {k['missing']} (in doubt at restart: {k['in_doubt']}, released "
            f"{k['released']}) | 0 duplicates |"
        )
    print()
    print(
        "An idempotent provider gets the in-doubt row resent under the same key and drops "
        "the duplicate. Without provider idempotency (Twilio) the in-doubt row (at most one "
        "per drainer) is marked `unknown` and not resent: it can be missing, never doubled."
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        main()
