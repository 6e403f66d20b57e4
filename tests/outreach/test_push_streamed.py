"""A push of millions is streamed on both engines: the rows written go to the database
as they are made, never gathered in a list first (storage/pg.py's executemany used to
build one: a million-recipient push on PostgreSQL held every row in memory)."""

from __future__ import annotations

import tracemalloc

import pytest

from outreach import campaigns, groups
from storage.db import connect
from tests.helpers.outreach import DAYTIME

pytestmark = pytest.mark.database


@pytest.fixture
def db(database_url, tmp_path):
    database = connect(database_url or tmp_path / "hotline.db")
    yield database
    database.conn.close()


def _peak_mib(work) -> float:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_executemany_writes_rows_from_a_generator_without_holding_them(db):
    db.execute("CREATE TABLE stream_probe (n INTEGER, note TEXT)")
    count = 40_000
    rows = ((n, f"row {n} " + "x" * 60) for n in range(count))

    def insert():
        with db.atomic():
            db.conn.executemany("INSERT INTO stream_probe (n, note) VALUES (?, ?)", rows)

    # Held as a list these rows (and their converted copies) are over 8 MiB.
    assert _peak_mib(insert) < 3
    assert db.execute("SELECT COUNT(*), SUM(n) FROM stream_probe").fetchone() == (
        count,
        count * (count - 1) // 2,
    )


def test_a_tip_push_to_many_is_planned_a_chunk_at_a_time(db):
    group_id = groups.ensure_group(db, "平南县", "东坝镇", "石桥村")
    count = 20_000
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO subscribers (contact_hash, contact_enc, contact_masked, channel, "
            "status, group_id, consent_at, consent_channel, consent_by) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (f"h{n}", "enc", "139****0000", "sms", "active", group_id, "2025-01-01", "csv", "t")
                for n in range(count)
            ),
        )
    planned: list[campaigns.Planned] = []

    def plan():
        planned.append(
            campaigns.plan(
                db,
                kind="tip",
                scope_type="county",
                scope_value="平南县",
                created_by="t",
                now=DAYTIME,
            )
        )

    assert _peak_mib(plan) < 8  # one chunk, not 20,000 recipients and their rows
    assert planned[0].recipients == count
    rows = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT subscriber_id) FROM outbox WHERE campaign_id = ?",
        [planned[0].campaign_id],
    ).fetchone()
    assert tuple(rows) == (count, count)
