"""Several drainers on one outbox: a claim is a lease held by a process, so two
drainers never take the same row, and kill -9 of one mid-batch leaves each of its rows
sent once (by the survivor, for rows it had only claimed) or ``unknown`` (the call in
flight: the gateway may have it, and Aliyun/Tencent take no idempotency key), never
sent twice. The drainers are real processes (bench/outbox_bench.py drainer)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from messaging.providers.fake import FakeBatchGateway
from outreach import outbox
from tests.helpers.outreach import DAYTIME

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import outbox_bench  # noqa: E402


def test_two_drainers_one_killed_mid_batch_every_row_sent_once_or_unknown(tmp_path):
    result = outbox_bench.bench_two_drainers(tmp_path, recipients=1000)
    statuses = result["statuses"]
    assert set(statuses) <= {"sent", "unknown"}
    assert sum(statuses.values()) == 1000
    # The call the victim was in when killed: handed to the gateway, never marked.
    assert statuses.get("unknown", 0) == result["in_flight_at_kill"] == 50
    assert result["duplicates"] == 0  # no number handed to the gateway twice
    assert result["never_handed"] == 0
    # The survivor took over the rows the victim had claimed but not sent.
    assert result["survivor"]["handled"] >= 1000 - 2 * 50 - 250
    assert result["survivor"]["open"] == 0


def test_concurrent_drainers_in_one_database_never_share_a_row(tmp_path):
    db_path = tmp_path / "two.db"
    outbox_bench.populate(db_path, 600, villages=20)
    outbox_bench.plan_alert(db_path)
    from storage.db import connect

    fakes = [FakeBatchGateway(rate=0, numbers_rate=0, batch=20) for _ in range(2)]
    import threading

    def run(fake: FakeBatchGateway) -> None:
        db = connect(db_path)
        outbox.drain(db, outbox_bench.VAULT, fake, rate=0, batch=20, now=lambda: DAYTIME)

    threads = [threading.Thread(target=run, args=(f,)) for f in fakes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = Counter(to for f in fakes for to in f.sent_to())
    assert len(sent) == 600 and set(sent.values()) == {1}


def test_the_claim_skips_locked_rows_on_postgresql():
    sqlite_db = SimpleNamespace()
    pg_db = SimpleNamespace(dialect="postgresql")
    assert "SKIP LOCKED" not in outbox.claim_sql(sqlite_db, None)
    sql = outbox.claim_sql(pg_db, 7)
    assert "FOR UPDATE SKIP LOCKED)" in sql and "campaign_id = ?" in sql
    # Placeholders: token, claimed_at, updated_at, urgent, due, campaign, limit.
    assert sql.count("?") == 7
