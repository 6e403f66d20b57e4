"""Outbox benchmarks: enqueue a 100,000-subscriber push, drain it through a fake provider
at a configured rate, and kill -9 a drain in the middle then restart it; a township
alert of 30,000 through the fake batch gateway at the documented limits; two drainers
with one killed -9 mid-batch; a 1,000,000-recipient push planned and enqueued.

    .venv/bin/python bench/outbox_bench.py            # all of them, prints Markdown
    .venv/bin/python bench/outbox_bench.py --quick    # 10,000 / 3,000 / 100,000
    .venv/bin/python bench/outbox_bench.py --push-only --engines sqlite,postgresql
        # only the million-recipient push, on each engine (a throwaway PostgreSQL)

The fake providers do no network I/O, so the drain figures are our own overhead
(claim, decrypt, render, short commits) and the pacers' accuracy.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from messaging.providers.base import SendResult  # noqa: E402
from messaging.providers.fake import FakeBatchGateway  # noqa: E402
from outreach import campaigns, outbox  # noqa: E402
from outreach.quiet_hours import BEIJING  # noqa: E402
from storage import pgserver  # noqa: E402
from storage.db import connect  # noqa: E402
from storage.privacy import Vault, mask  # noqa: E402

VAULT = Vault(base64.urlsafe_b64encode(b"b" * 32), base64.urlsafe_b64encode(b"k" * 32))
# A fixed daytime moment, so a run at night is not held back by quiet hours.
DAYTIME = dt.datetime(2025, 3, 4, 10, 0, tzinfo=BEIJING)


# ``--database-url``: a PostgreSQL server; every measured run gets a schema of its own
# on it (dropped at the end), else a SQLite file in the run's temporary folder.
SERVER: str | None = None
_SCHEMAS: list[str] = []


def where(workdir: Path, name: str) -> str:
    """The database for one measured run: what ``connect`` and the subprocesses take."""
    if SERVER is None:
        return str(workdir / f"{name}.db")
    url, schema = pgserver.create_schema(SERVER, prefix=f"bench_{name}")
    _SCHEMAS.append(schema)
    return url


def _insert_subscribers(db: Any, rows: Iterable[tuple]) -> None:
    columns = (
        "contact_hash, contact_enc, contact_masked, channel, status, group_id, consent_at, "
        "consent_channel, consent_by"
    )
    if db.dialect == "postgresql":
        # COPY: the set-up of a million subscribers in seconds, not a round trip a row.
        with (
            db.conn.raw.cursor() as cur,
            cur.copy(
                f"COPY subscribers ({columns}) FROM STDIN"  # noqa: S608 - fixed names
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    db.conn.executemany(
        f"INSERT INTO subscribers ({columns}) VALUES (?,?,?,?,?,?,?,?,?)",  # noqa: S608
        rows,
    )


def populate(db_path: str | Path, count: int, villages: int = 200, encrypt: bool = True) -> None:
    """``count`` active SMS subscribers spread over ``villages`` groups of one county
    (20 villages a township). ``encrypt`` False: one shared ciphertext, for pushes that
    are planned but never sent (1M Fernet encryptions would be most of the set-up)."""
    from cryptography.fernet import Fernet

    db = connect(db_path)
    fernet = Fernet(VAULT.fernet_key)
    shared = fernet.encrypt(b"13900000000").decode()
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO village_groups (county, township, village, created_at) VALUES (?,?,?,?)",
            [("平南县", f"镇{v // 20}", f"村{v}", "2025-01-01") for v in range(villages)],
        )
        rows = (
            (
                VAULT.hash(phone),
                fernet.encrypt(phone.encode()).decode() if encrypt else shared,
                mask(phone),
                "sms",
                "active",
                1 + n % villages,
                "2025-01-01",
                "csv",
                "bench",
            )
            for n, phone in ((n, f"139{n:08d}") for n in range(count))
        )
        _insert_subscribers(db, rows)
    db.conn.close()


def bench_enqueue(db_path: str | Path) -> tuple[int, float]:
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


def bench_drain(db_path: str | Path, rate: float, messages: int) -> dict[str, float]:
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


def worker(db_path: str | Path, log: Path, mode: str, rate: float) -> None:
    db = connect(db_path)
    provider = FileProvider(log, idempotent=mode == "idempotent")
    released, in_doubt = outbox.recover(
        db, resend_in_doubt=provider.accepts_idempotency_key, stale_after=0
    )
    print(f"recovered {released} {in_doubt}", flush=True)
    outbox.drain(db, VAULT, provider, rate=rate, now=lambda: DAYTIME)


def bench_kill(workdir: Path, mode: str, recipients: int = 3000, rate: float = 1000) -> dict:
    db_path = where(workdir, f"kill_{mode}")
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


# --- batch gateway: a township alert, two drainers and kill -9 ---------------------

# The documented limits the fake gateway is held to (docs/sms-gateways.md): Aliyun
# SendBatchSms takes 100 numbers a call; we send 10 calls/s and 1,000 numbers/s.
ALERT_LIMITS = {"rate": 10.0, "batch": 100, "numbers_rate": 1000.0}


def plan_alert(db_path: str | Path, township: str = "镇0") -> int:
    db = connect(db_path)
    planned = campaigns.plan(
        db,
        kind="alert",
        scope_type="township",
        scope_value=township,
        created_by="bench",
        text="有人冒充医保局上门激活医保电子凭证，别给验证码，别扫码",
        urgent=True,
        now=DAYTIME,
    )
    db.conn.close()
    return planned.recipients


def bench_alert(workdir: Path, recipients: int) -> dict:
    """A township alert of ``recipients`` through the fake batch gateway at
    ALERT_LIMITS, from plan to the last number handed over."""
    db_path = where(workdir, "alert")
    populate(db_path, recipients, villages=20)  # 20 villages: one township, 镇0
    started = time.perf_counter()
    planned = plan_alert(db_path)
    db = connect(db_path)
    fake = FakeBatchGateway(**ALERT_LIMITS)
    # retry_wait: a call refused for pace would be retried (and counted in the time).
    stats = outbox.drain(
        db, VAULT, fake, rate=ALERT_LIMITS["rate"], now=lambda: DAYTIME, retry_wait=30
    )
    elapsed = time.perf_counter() - started
    statuses = dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    db.conn.close()
    sent = Counter(fake.sent_to())
    return {
        "recipients": planned,
        "elapsed": elapsed,
        "calls": len(fake.calls),
        "refused_calls": fake.refused_calls,
        "sent": stats.sent,
        "duplicates": sum(c - 1 for c in sent.values() if c > 1),
        "statuses": statuses,
    }


def drainer(
    db_path: str | Path, record: Path, die_after_calls: int, marker: Path, until: float
) -> None:
    """One drainer process sending through the fake batch gateway (every accepted number
    appended to ``record``). ``die_after_calls`` > 0: after that many calls the gateway
    has taken, it writes ``marker`` and hangs, to be killed -9 with its call's rows still
    'sending' and later claims still 'claimed'. Otherwise it drains until every row is
    final or ``until`` seconds pass (taking over what a dead drainer left)."""
    db = connect(db_path)
    fake = FakeBatchGateway(**{**ALERT_LIMITS, "batch": 50}, record_to=str(record))
    if die_after_calls:
        real = fake.send_batch

        def send_then_hang(items):  # type: ignore[no-untyped-def]
            results = real(items)  # the gateway has these numbers now
            if len(fake.calls) >= die_after_calls:
                marker.write_text(str(len(items)))
                time.sleep(3600)
            return results

        fake.send_batch = send_then_hang  # type: ignore[method-assign]
    deadline = time.monotonic() + until
    handled = 0
    while True:
        stats = outbox.drain(db, VAULT, fake, rate=ALERT_LIMITS["rate"], now=lambda: DAYTIME)
        handled += stats.handled
        open_rows = db.execute(
            "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'claimed', 'sending')"
        ).fetchone()[0]
        if not open_rows or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # another drainer holds rows: wait for it to finish or die
    print(json.dumps({"handled": handled, "open": open_rows}), flush=True)


def bench_two_drainers(workdir: Path, recipients: int = 3000) -> dict:
    """Two drainer processes on one alert; one killed -9 mid-batch. Every number must
    be handed to the gateway at most once, and every row end sent or unknown."""
    db_path = where(workdir, "two")
    record = workdir / "two.sent"
    marker = workdir / "two.killed"
    populate(db_path, recipients, villages=20)
    plan_alert(db_path)
    base = [sys.executable, __file__, "drainer", str(db_path), str(record)]
    victim = subprocess.Popen([*base, "2", str(marker), "120"], stdout=subprocess.PIPE)
    survivor = subprocess.Popen([*base, "0", str(marker), "120"], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.005)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    in_flight = int(marker.read_text() or 0) if marker.exists() else 0
    out, _ = survivor.communicate(timeout=180)
    db = connect(db_path)
    statuses = dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    db.conn.close()
    counts = Counter(record.read_text().split()) if record.exists() else Counter()
    expected = {f"139{n:08d}" for n in range(recipients)}
    return {
        "recipients": recipients,
        "in_flight_at_kill": in_flight,
        "survivor": json.loads(out.strip().splitlines()[-1]),
        "duplicates": sum(c - 1 for c in counts.values() if c > 1),
        "never_handed": len(expected - set(counts)),
        "statuses": statuses,
    }


# --- a million-recipient push, streamed ---------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_rss_kib() -> int:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over exec from
    the forked parent, so a child of a big process (bench/run.py with the model loaded)
    would report its parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _backend_cpu(db: Any) -> Any:
    """On PostgreSQL, a function reading the CPU seconds the server process of this
    connection has used (a local server: /proc), else None. With the plan process's own
    CPU it is the work of a push whatever the machine's load (wall time is not, on two
    cores shared with other work)."""
    if getattr(db, "dialect", "sqlite") != "postgresql":
        return None
    stat = Path(f"/proc/{db.execute('SELECT pg_backend_pid()').fetchone()[0]}/stat")
    if not stat.exists():
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def seconds() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    return seconds


def plan_worker(db_path: str | Path, kind: str) -> None:
    """Plan one push in this fresh process; print its time and peak RSS over the start."""
    db = connect(db_path)
    before = _rss_kib()
    backend = _backend_cpu(db)
    server_before = backend() if backend else 0.0
    cpu_before = time.process_time()
    started = time.perf_counter()
    planned = campaigns.plan(
        db,
        kind=kind,
        scope_type="county",
        scope_value="平南县",
        created_by="bench",
        text="有人冒充医保局上门，别给验证码" if kind == "alert" else None,
        now=DAYTIME,
    )
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before + (backend() - server_before if backend else 0.0)
    peak = _peak_rss_kib()
    rows, distinct = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT subscriber_id) FROM outbox WHERE campaign_id = ?",
        [planned.campaign_id],
    ).fetchone()
    print(
        json.dumps(
            {
                "kind": kind,
                "recipients": planned.recipients,
                "rows": rows,
                "distinct": distinct,
                "elapsed": elapsed,
                "cpu": cpu,
                "rss_before_mib": before / 1024,
                "peak_delta_mib": max(0, peak - before) / 1024,
            }
        ),
        flush=True,
    )


def bench_million(workdir: Path, recipients: int) -> tuple[float, list[dict]]:
    db_path = where(workdir, "million")
    started = time.perf_counter()
    populate(db_path, recipients, villages=2000, encrypt=False)
    setup = time.perf_counter() - started
    results = []
    for kind in ("tip", "alert"):
        run = subprocess.run(
            [sys.executable, __file__, "plan", str(db_path), kind],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return setup, results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 subscribers")
    parser.add_argument("--rate", type=float, default=200.0, help="paced drain, msg/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced drain length")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server: a schema each run (default: SQLite files)"
    )
    parser.add_argument(
        "--push-only",
        action="store_true",
        help="only the 1,000,000-recipient push (--subscribers to change the count)",
    )
    parser.add_argument(
        "--engines",
        help="with --push-only: sqlite,postgresql (a throwaway PostgreSQL server)",
    )
    args = parser.parse_args(argv)
    if args.push_only:
        return push_only(args)
    global SERVER
    SERVER = args.database_url
    try:
        return _main(args)
    finally:
        for schema in _SCHEMAS:
            pgserver.drop_schema(SERVER or "", schema)
        _SCHEMAS.clear()
        SERVER = None


def push_only(args: argparse.Namespace) -> dict:
    """The million-recipient push alone, on each engine asked for, one line each."""
    global SERVER
    count = args.subscribers if args.subscribers != 100_000 else 1_000_000
    engines = (args.engines or ("postgresql" if args.database_url else "sqlite")).split(",")
    figures: dict = {}
    for engine in engines:
        folder = None
        if engine == "postgresql":
            SERVER = args.database_url
            if SERVER is None:
                SERVER, folder = pgserver.start()
        elif engine != "sqlite":
            raise SystemExit(f"--engines: sqlite or postgresql, not {engine!r}")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                load = os.getloadavg()[0]
                setup, million = bench_million(Path(tmp), count)
            figures[engine] = million
            for m in million:
                print(
                    f"{engine}: {m['kind']} push to {m['recipients']:,} ({m['rows']:,} rows, "
                    f"{m['distinct']:,} recipients): {m['elapsed']:.1f} s, CPU {m['cpu']:.1f} s, "
                    f"peak RSS +{m['peak_delta_mib']:.0f} MiB; "
                    f"set-up {setup:.1f} s; load {load:.2f} -> {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        finally:
            for schema in _SCHEMAS:
                pgserver.drop_schema(SERVER or "", schema)
            _SCHEMAS.clear()
            if folder:
                pgserver.stop(folder)
            SERVER = None
    return figures


def _main(args: argparse.Namespace) -> dict:
    count = 10_000 if args.quick else args.subscribers
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db_path = where(work, "bench")
        started = time.perf_counter()
        populate(db_path, count)
        setup = time.perf_counter() - started
        recipients, enqueue = bench_enqueue(db_path)
        unpaced = bench_drain(db_path, 0, 2000)
        paced = bench_drain(db_path, args.rate, int(args.rate * args.seconds))
        kills = [bench_kill(work, "idempotent"), bench_kill(work, "plain")]
        alert = bench_alert(work, 3000 if args.quick else 30_000)
        two = bench_two_drainers(work)
        million_setup, million = bench_million(work, 100_000 if args.quick else 1_000_000)
    print("## Outbox (bench/outbox_bench.py)\n")
    engine = "PostgreSQL" if SERVER else "SQLite WAL"
    print(f"Machine: {os.cpu_count()} cores; {engine}; fake provider (no network).\n")
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
    print(
        f"| township alert to {alert['recipients']:,} through the fake batch gateway "
        f"(Aliyun's 100 a call; 10 calls/s, 1,000 numbers/s), plan to last number | "
        f"{alert['elapsed']:.1f} s, {alert['calls']} calls, {alert['refused_calls']} refused "
        f"for pace, duplicates {alert['duplicates']}, sent {alert['sent']:,} | <= 60 s |"
    )
    survivor = two["survivor"]
    print(
        f"| two drainers, one killed -9 mid-batch ({two['in_flight_at_kill']} numbers in "
        f"its call), {two['recipients']:,} recipients | duplicates {two['duplicates']}, "
        f"rows {_statuses(two['statuses'])}, never handed to the gateway "
        f"{two['never_handed']}, survivor handled {survivor['handled']:,} | 0 duplicates; "
        f"every row sent or unknown |"
    )
    print(
        f"| set-up: {million[0]['recipients']:,} subscribers for the big push (not timed "
        f"against a target) | {million_setup:.1f} s | |"
    )
    for m in million:
        what = "an alert" if m["kind"] == "alert" else "a tip"
        print(
            f"| plan + enqueue {what} push to {m['recipients']:,} (streamed), "
            f"{m['rows']:,} rows | {m['elapsed']:.1f} s (CPU {m['cpu']:.1f} s), "
            f"peak RSS +{m['peak_delta_mib']:.0f} MiB "
            f"over {m['rss_before_mib']:.0f} MiB | <= 15 s, bounded |"
        )
    print()
    print(
        "The killed drainer's call was taken by the gateway but never marked: its rows "
        "are `unknown` (Aliyun and Tencent take no idempotency key, so they are not "
        "resent); its other claimed rows went back to pending at once (its process is "
        "gone) and the survivor sent them."
    )
    print()
    print(
        "An idempotent provider gets the in-doubt row resent under the same key and drops "
        "the duplicate. Without provider idempotency (Twilio) the in-doubt row (at most one "
        "per drainer) is marked `unknown` and not resent: it can be missing, never doubled."
    )
    return {"alert": alert, "two_drainers": two, "million": million}


def targets(figures: dict) -> list[str]:
    """Rows for the target table of bench/run.py (issue 17's outbox targets)."""
    alert, two = figures["alert"], figures["two_drainers"]
    alert_ok = alert["elapsed"] <= 60 and alert["refused_calls"] == 0 and not alert["duplicates"]
    kill_ok = not two["duplicates"] and set(two["statuses"]) <= {"sent", "unknown"}
    rows = [
        f"| township alert of {alert['recipients']:,} handed to the fake batch gateway at the "
        f"documented limits ≤ 60 s | {alert['elapsed']:.1f} s | "
        f"{'yes' if alert_ok else '**no**'} |",
        f"| exactly once across kill -9 of one of two drainers | {two['duplicates']} duplicates, "
        f"{two['statuses'].get('unknown', 0)} unknown (the call in flight) | "
        f"{'yes' if kill_ok else '**no**'} |",
    ]
    for m in figures["million"]:
        ok = m["elapsed"] <= 15 and m["rows"] == m["recipients"] == m.get("distinct", m["rows"])
        rows.append(
            f"| {m['recipients']:,}-recipient {m['kind']} push planned and enqueued ≤ 15 s, "
            f"memory bounded | {m['elapsed']:.1f} s, peak RSS +{m['peak_delta_mib']:.0f} MiB | "
            f"{'yes' if ok else '**no**'} |"
        )
    return rows


def _statuses(statuses: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items()))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], Path(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "drainer":
        drainer(
            sys.argv[2],
            Path(sys.argv[3]),
            int(sys.argv[4]),
            Path(sys.argv[5]),
            float(sys.argv[6]),
        )
    elif len(sys.argv) > 1 and sys.argv[1] == "plan":
        plan_worker(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1:])
