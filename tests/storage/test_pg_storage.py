"""The one database API on both engines (storage/db.py, storage/pg.py): what the domain
code relies on behaves the same on SQLite and on PostgreSQL (tests/conftest.py runs
every test here on both)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from storage import pg, pgserver
from storage.db import connect
from storage.schema import MIGRATIONS, migrate


@pytest.fixture
def db(database_url, tmp_path):
    database = connect(database_url or tmp_path / "hotline.db")
    yield database
    database.conn.close()


def _where(database_url, tmp_path):
    return database_url or str(tmp_path / "hotline.db")


def test_migrations_apply_once_and_record_every_one(db):
    names = {r[0] for r in db.execute("SELECT name FROM _migrations").fetchall()}
    assert names == {name for name, _ in MIGRATIONS}
    assert migrate(db) == []  # a second run applies nothing
    for table in ("messages", "reports", "outbox", "registry_activities", "audit_log"):
        assert table in db.table_names()


def test_insert_gives_the_new_id_and_update_get_upsert_work(db):
    first = db["messages"].insert({"sender_hash": "a", "direction": "in", "text": "一"}).last_pk
    second = db["messages"].insert({"sender_hash": "a", "direction": "in", "text": "二"}).last_pk
    assert second == first + 1
    db["messages"].update(first, {"text": "改"})
    assert db["messages"].get(first)["text"] == "改"
    db["cadres"].upsert({"phone_hash": "p", "village": "甲"}, pk="phone_hash")
    db["cadres"].upsert({"phone_hash": "p", "village": "乙"}, pk="phone_hash")
    rows = list(db.query("SELECT phone_hash, village FROM cadres"))
    assert rows == [{"phone_hash": "p", "village": "乙"}]


def test_a_broken_constraint_is_the_integrity_error_the_code_catches(db):
    db["reports"].insert({"ref": "R1", "status": "new", "source": "sms:1"})
    with pytest.raises(sqlite3.IntegrityError), db.atomic():
        db["reports"].insert({"ref": "R2", "status": "new", "source": "sms:1"})
    # The failed transaction left the connection usable and nothing half-written.
    assert db.execute("SELECT count(*) FROM reports").fetchone()[0] == 1


def test_atomic_rolls_back_all_or_nothing_and_nests(db):
    with pytest.raises(RuntimeError), db.atomic():
        db.execute("INSERT INTO messages (sender_hash, text) VALUES (?, ?)", ["x", "1"])
        raise RuntimeError("killed between two writes")
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    with db.atomic():
        db.execute("INSERT INTO messages (sender_hash, text) VALUES (?, ?)", ["x", "kept"])
        with pytest.raises(ValueError), db.atomic():  # a savepoint: only it rolls back
            db.execute("INSERT INTO messages (sender_hash, text) VALUES (?, ?)", ["x", "gone"])
            raise ValueError
        assert db.conn.in_transaction
    assert not db.conn.in_transaction
    texts = [r[0] for r in db.execute("SELECT text FROM messages").fetchall()]
    assert texts == ["kept"]


def test_savepoints_nest_and_sibling_ones_are_independent(db):
    """SQLite's savepoints all carry one name (storage/db.py): each level still undoes
    only its own writes, at any depth, and a sibling after a failed one is unaffected."""

    def insert(text: str) -> None:
        db.execute("INSERT INTO messages (sender_hash, text) VALUES (?, ?)", ["x", text])

    with db.atomic():
        insert("outer")
        with db.atomic():
            insert("middle")
            with pytest.raises(ValueError), db.atomic():
                insert("inner, undone")
                raise ValueError
            insert("middle again")
        with pytest.raises(KeyError), db.atomic():
            insert("sibling, undone")
            with db.atomic():
                insert("inside the undone sibling")
            raise KeyError
        with db.atomic():
            insert("last")
    texts = [r[0] for r in db.execute("SELECT text FROM messages ORDER BY id").fetchall()]
    assert texts == ["outer", "middle", "middle again", "last"]


def test_the_sqlite_idioms_the_domains_use_work_on_both(db):
    ids = [
        db["messages"].insert({"sender_hash": h, "text": t, "channel": c}).last_pk
        for h, t, c in (("a", "50%", "sms"), ("b", "x?", "web"), ("a", "y", "sms"))
    ]
    # A JSON list parameter, an optional filter, a literal % and ? inside quotes.
    rows = db.execute(
        "SELECT id FROM messages WHERE id IN (SELECT value FROM json_each(?))"
        " AND (? IS NULL OR channel = ?) AND text NOT LIKE '%?%' ORDER BY id",
        [f"[{ids[0]},{ids[2]}]", None, None],
    ).fetchall()
    assert [r[0] for r in rows] == [ids[0], ids[2]]
    assert (
        db.execute("SELECT count(*) FROM messages WHERE text LIKE '%\\%%' ESCAPE '\\'").fetchone()[
            0
        ]
        == 1
    )
    texts = db.execute(
        "SELECT id FROM messages WHERE sender_hash IN (SELECT value FROM json_each(?))",
        ['["b"]'],
    ).fetchall()
    assert [r[0] for r in texts] == [ids[1]]
    joined = db.execute(
        "SELECT group_concat(DISTINCT channel) FROM messages WHERE sender_hash = 'a'"
    ).fetchone()[0]
    assert joined == "sms"
    total = db.execute("SELECT sum(id), count(*) FROM messages").fetchone()
    assert total == (sum(ids), 3) and isinstance(total[0], int)
    # An int compared with a TEXT column, a bool stored in an INTEGER one.
    db.execute("UPDATE messages SET intent = ? WHERE id = ?", [7, ids[0]])
    assert db.execute("SELECT count(*) FROM messages WHERE intent = ?", [7]).fetchone()[0] == 1
    db.execute("UPDATE messages SET confidence = ? WHERE id = ?", [True, ids[0]])
    db.execute(
        "INSERT INTO messages (sender_hash, text) VALUES (?, ?) ON CONFLICT DO NOTHING", ["c", "z"]
    )
    assert db.execute("SELECT last_insert_rowid()").fetchone()[0] == ids[2] + 1
    cursor = db.execute("INSERT INTO messages (sender_hash, text) VALUES ('d', 'w')")
    assert cursor.lastrowid == ids[2] + 2
    day = db.execute("SELECT date(?, '+8 hours')", ["2026-03-01T20:00:00+00:00"]).fetchone()[0]
    assert day == "2026-03-02"  # the Beijing day of a UTC stamp


def test_dialect_and_location_say_what_was_opened(db, database_url, tmp_path):
    assert db.dialect == ("postgresql" if database_url else "sqlite")
    assert db.location == _where(database_url, tmp_path)
    again = connect(db.location, migrate_schema=False)
    assert again.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    again.conn.close()


def test_one_writer_at_a_time_across_connections_like_sqlite(database_url, tmp_path):
    where = _where(database_url, tmp_path)
    a, b = connect(where), connect(where, migrate_schema=False)
    order: list[str] = []
    entered = threading.Event()

    def first() -> None:
        with a.atomic():
            a.execute("INSERT INTO messages (sender_hash, text) VALUES ('a', '1')")
            entered.set()
            time.sleep(0.5)
            order.append("a done")

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(5)
    with b.atomic():  # waits for a's transaction to end, then goes on
        order.append("b in")
        b.execute("INSERT INTO messages (sender_hash, text) VALUES ('b', '2')")
    thread.join()
    assert order == ["a done", "b in"]
    a.conn.close()
    b.conn.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_writer_stuck_behind_a_long_transaction_gives_up_with_a_timeout(database_url):
    a, b = connect(database_url), connect(database_url, migrate_schema=False)
    try:
        with a.atomic():
            a.execute("INSERT INTO messages (sender_hash, text) VALUES ('a', '1')")
            started = time.monotonic()
            with pytest.raises(TimeoutError), b.atomic():
                pass
            assert pg.LOCK_TIMEOUT_MS / 1000 - 0.5 < time.monotonic() - started < 10
        with b.atomic():  # free again
            b.execute("INSERT INTO messages (sender_hash, text) VALUES ('b', '2')")
    finally:
        a.conn.close()
        b.conn.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_hotline_in_another_schema_does_not_wait_for_this_ones_writes(
    database_url, postgres_server
):
    # Advisory locks are per database: keyed without the schema, a long write in one
    # schema (a million-recipient push) held every other schema's writers too.
    other, schema = pgserver.create_schema(postgres_server)
    a, b = connect(database_url), connect(other)
    try:
        with a.atomic():
            a.execute("INSERT INTO messages (sender_hash, text) VALUES ('a', '1')")
            started = time.monotonic()
            with b.atomic():
                b.execute("INSERT INTO messages (sender_hash, text) VALUES ('b', '2')")
            assert time.monotonic() - started < pg.LOCK_TIMEOUT_MS / 1000 / 2
            # ...while this schema's own second writer still waits for the first.
            c = connect(database_url, migrate_schema=False)
            try:
                with pytest.raises(TimeoutError), c.atomic():
                    pass
            finally:
                c.conn.close()
    finally:
        a.conn.close()
        b.conn.close()
        pgserver.drop_schema(postgres_server, schema)


def test_translate_leaves_quoted_text_alone():
    sql, json_positions = pg.translate(
        "SELECT '?', \"a?\" FROM t WHERE x = ? AND y IN (SELECT value FROM json_each(?))"
    )
    assert sql == "SELECT '?', \"a?\" FROM t WHERE x = %s AND y = ANY(%s)"
    assert json_positions == (1,)
