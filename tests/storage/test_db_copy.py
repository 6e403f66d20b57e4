"""`hotline db copy --to postgresql://…`: a county's SQLite data into PostgreSQL, counts
checked, hashed and encrypted fields copied as stored (needs PostgreSQL: tests/conftest.py
starts one, or the test skips)."""

from __future__ import annotations

import pytest
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner

import jobs
from bot.cli import cli
from jobs import runner
from storage.db import connect
from tests.helpers.app import SmsPhone, build_app

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _county(tmp_path, keyword_parser):
    """A SQLite county with villagers' messages, a subscriber, a report and a schedule."""
    path = tmp_path / "county.db"
    app = build_app(tmp_path, keyword_parser, HOTLINE_DB=str(path))
    phone = SmsPhone(app.test_client(), "+8613812345678")
    for text in ("你好", "订阅", "石桥村", "3", "有人上门要验证码，电话13912345678"):
        assert phone.send(text)
    other = SmsPhone(app.test_client(), "+8613900001111")
    assert other.send("订阅")
    with runner.open_store(path) as store:
        store.add_job(
            "reporting.purge:purge_job",
            CronTrigger(hour=3, minute=0, timezone=jobs.TIMEZONE),
            args=[str(path), 30, None],
            id="reports-purge",
        )
    return app, path


def _all_rows(db, table):
    pks = db[table].pks if db.dialect == "postgresql" else db[table].pks
    order = ", ".join(f'"{c}"' for c in pks) if pks and pks != ["rowid"] else "1"
    return [tuple(r) for r in db.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()]  # noqa: S608


def test_copy_moves_every_row_and_keeps_encrypted_fields(tmp_path, keyword_parser, database_url):
    app, path = _county(tmp_path, keyword_parser)
    result = CliRunner().invoke(cli, ["db", "copy", "--from", str(path), "--to", database_url])
    assert result.exit_code == 0, result.output
    assert "counts match" in result.output

    source = connect(path, migrate_schema=False)
    target = connect(database_url, migrate_schema=False)
    try:
        tables = [t for t in source.table_names() if not t.startswith("sqlite_")]
        assert set(tables) <= set(target.table_names())
        copied = 0
        for table in tables:
            if table == "_migrations":
                continue
            assert _all_rows(source, table) == _all_rows(target, table), table
            copied += len(_all_rows(source, table))
        assert copied > 20
        # Hashed and encrypted contacts: the same text, and still readable with the keys.
        vault = app.extensions["hotline_vault"]
        subs = target.execute(
            "SELECT contact_hash, contact_enc FROM subscribers ORDER BY id"
        ).fetchall()
        assert len(subs) == 2
        assert (
            subs
            == source.execute(
                "SELECT contact_hash, contact_enc FROM subscribers ORDER BY id"
            ).fetchall()
        )
        assert vault.decrypt(subs[0][1]) == "13812345678"
        assert subs[0][0] == vault.hash("13812345678")
        assert target.execute("SELECT count(*) FROM reports").fetchone()[0] >= 1
        # The identity sequences moved on: a new row takes the next id, not 1.
        highest = target.execute("SELECT max(id) FROM messages").fetchone()[0]
        new_id = (
            target["messages"]
            .insert({"sender_hash": "x", "channel": "sms", "direction": "in", "text": "t"})
            .last_pk
        )
        assert new_id == highest + 1
    finally:
        source.conn.close()
        target.conn.close()
    # The copied schedule is in the job store the scheduler reads on PostgreSQL.
    with runner.open_store(database_url) as store:
        assert store.get_job("reports-purge") is not None


def test_copy_refuses_a_target_with_rows_and_leaves_it_untouched(
    tmp_path, keyword_parser, database_url
):
    _app, path = _county(tmp_path, keyword_parser)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["db", "copy", "--from", str(path), "--to", database_url]).exit_code == 0
    )
    target = connect(database_url, migrate_schema=False)
    before = target.execute("SELECT count(*) FROM messages").fetchone()[0]
    again = runner.invoke(cli, ["db", "copy", "--from", str(path), "--to", database_url])
    assert again.exit_code != 0
    assert "nothing copied" in again.output and "already holds rows" in again.output
    assert target.execute("SELECT count(*) FROM messages").fetchone()[0] == before
    target.conn.close()


def test_copy_refuses_what_is_not_postgresql_or_not_sqlite(tmp_path, database_url):
    runner = CliRunner()
    missing = runner.invoke(
        cli, ["db", "copy", "--from", str(tmp_path / "none.db"), "--to", database_url]
    )
    assert missing.exit_code != 0 and "no SQLite database" in missing.output
    assert not (tmp_path / "none.db").exists()
    wrong = runner.invoke(
        cli, ["db", "copy", "--from", str(tmp_path / "x.db"), "--to", "sqlite:///y.db"]
    )
    assert wrong.exit_code != 0 and "postgresql://" in wrong.output
