"""The database work of one answered SMS: the claim of the provider's id, the log and the
state read in one transaction; the replies, the new state, the replies remembered and
the review row in one more. Counted with SQLite's statement trace, so a change that adds
a write per message fails here, not only as a slower figure in `make bench`."""

from __future__ import annotations

import pytest

from storage.db import idle_connections
from tests.helpers.app import SmsPhone


@pytest.fixture
def traced(degraded_app):
    """(phone, statements): every SQL statement the request thread's connection runs."""
    client = degraded_app.test_client()
    phone = SmsPhone(client, "+8613800001111")
    phone.send("你好")  # opens a connection (kept idle between requests)
    # The one idle connection: the next request takes it (the most recently used first).
    (db,) = idle_connections(degraded_app).connections
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    yield phone, statements
    db.conn.set_trace_callback(None)


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("BEGIN")]


@pytest.mark.parametrize(
    "text",
    [
        "医保电子凭证要钱吗",  # a question answered from the catalogue
        "菜单",  # the menu
        "俺家的羊跑丢了咋整",  # not understood: the review row rides in the last write
    ],
)
def test_an_answered_sms_costs_two_transactions(traced, text):
    phone, statements = traced
    replies = phone.send(text)
    assert replies and all(replies)
    assert len(_writes(statements)) == 2, statements
    # sqlite-utils' table lookups (sqlite_master) are not on the hot path.
    assert not [s for s in statements if "sqlite_master" in s], statements
    # Two BEGIN/COMMIT pairs; claim, log, state, the flood bucket; replies, state,
    # remembered replies; the review row (in a savepoint). No read-back of the logged row
    # when nothing wrote since (bot/conversations.py Store._follow_redaction).
    assert len(statements) <= 14, statements
    assert not [s for s in statements if s.startswith("SELECT text FROM messages")]
    assert len([s for s in statements if "SAVEPOINT" in s]) <= 2, statements


def test_the_unsure_message_is_still_kept_for_review(traced, degraded_app):
    phone, statements = traced
    phone.send("俺家的羊跑丢了咋整")
    assert any("INSERT INTO review_items" in s for s in statements)
    from storage.db import connect

    db = connect(degraded_app.config["HOTLINE_DB"])
    assert db.execute("SELECT count(*) FROM review_items").fetchone()[0] >= 1


def test_a_retry_of_an_answered_message_gets_the_same_replies_and_logs_nothing(traced):
    phone, statements = traced
    first = phone.post("医保电子凭证要钱吗", sid="SMretry000001")
    statements.clear()
    again = phone.post("医保电子凭证要钱吗", sid="SMretry000001")
    assert again.status_code == 200 and again.data == first.data
    # The claim's attempt only: no log row, no state, no replies written again.
    assert len(_writes(statements)) == 1, statements
    assert not [s for s in statements if "INSERT INTO messages" in s or "UPDATE" in s]


def test_a_failed_review_write_costs_neither_the_answer_nor_the_state(
    traced, degraded_app, monkeypatch
):
    """A deferred write runs in a savepoint: its failure is undone alone."""
    phone, _ = traced

    def broken(_turn, _reason):
        raise RuntimeError("review table gone")

    monkeypatch.setitem(degraded_app.extensions, "hotline_unsure_hooks", [broken])
    replies = phone.send("俺家的羊跑丢了咋整")
    assert any("110" in r for r in replies)  # the safety line
    from storage.db import connect

    db = connect(degraded_app.config["HOTLINE_DB"])
    out = db.execute(
        "SELECT count(*) FROM messages WHERE direction = 'out' AND text LIKE '%110%'"
    ).fetchone()[0]
    assert out >= 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("text", ["医保电子凭证要钱吗", "菜单"])
def test_an_answered_sms_on_postgresql_costs_few_round_trips(degraded_app, monkeypatch, text):
    """Every statement is a round trip to the server, each tens of microseconds of the
    server process's CPU: BEGIN goes with the write lock, the logged row's id comes back
    with its INSERT (no lastval()), the replies are one INSERT, and the logged row is not
    read back when nothing wrote since (storage/pg.py counts the writes)."""
    import psycopg
    from psycopg import _connection_base

    phone = SmsPhone(degraded_app.test_client(), "+8613800002222")
    phone.send("你好")  # the connection opened, its statements prepared
    sent: list[str] = []
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    command = _connection_base.BaseConnection._exec_command

    def counted_execute(self, query, params=None, **kwargs):
        sent.append(str(query))
        return execute(self, query, params, **kwargs)

    def counted_executemany(self, query, params_seq, **kwargs):
        sent.append(str(query))
        return executemany(self, query, params_seq, **kwargs)

    def counted_command(self, cmd, *args, **kwargs):
        sent.append(bytes(cmd).decode() if isinstance(cmd, (bytes, bytearray)) else str(cmd))
        return command(self, cmd, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
    monkeypatch.setattr(psycopg.Cursor, "executemany", counted_executemany)
    monkeypatch.setattr(_connection_base.BaseConnection, "_exec_command", counted_command)
    assert phone.send(text)
    assert not [s for s in sent if "lastval" in s], sent
    assert not [s for s in sent if s.startswith("SELECT text FROM messages")], sent
    assert not [s for s in sent if s.strip() == "BEGIN"], sent  # always with the lock
    assert len([s for s in sent if "pg_advisory_xact_lock" in s]) == 2, sent
    # claim, log, state, flood bucket (in a savepoint); replies, state, remembered
    # replies; BEGIN with the lock and COMMIT for each transaction.
    assert len(sent) <= 13, sent


def test_a_report_opened_and_answered_reads_no_schema(traced):
    """Reports are written with plain statements: sqlite-utils' table methods read the
    table list and columns (sqlite_master, PRAGMA table_info) on every insert and update
    and read the row back before an update."""
    phone, statements = traced
    replies = phone.send("我要举报，村口有人扫码送鸡蛋，说是医保局的")
    replies += phone.send("新圩村")
    assert any("编号" in r or "村" in r for r in replies), replies
    written = [s for s in statements if s.upper().startswith(("INSERT", "UPDATE"))]
    assert [s for s in written if "reports" in s.split("(")[0]], statements  # opened
    assert not [s for s in statements if "sqlite_master" in s or "PRAGMA" in s], statements
    # Nor a savepoint around each read of a report (sqlite-utils' query does that).
    reads = [i for i, s in enumerate(statements) if s.startswith("SELECT * FROM report")]
    guarded = [i for i in reads if statements[i - 1] == 'SAVEPOINT "sqlite_utils_query"']
    assert reads and not guarded, [statements[i - 1 : i + 1] for i in guarded]
