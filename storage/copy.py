"""Copy a county's SQLite database into PostgreSQL (``hotline db copy --to URL``).

For the day a county outgrows one machine. The target is migrated first (the same
migrations, so the same tables), must hold no rows yet, and is filled table by table in
one transaction: a copy that fails leaves it empty. Rows are streamed (``COPY FROM
STDIN`` fed from a cursor, never a whole table in memory), in the order the foreign keys
need, and every table's count is checked against the source before the commit.

Values go over exactly as stored: hashed and encrypted fields (``*_hash``, ``*_enc``)
are text that is copied, never decrypted or re-encrypted, so the same keys
(HOTLINE_HASH_KEY / HOTLINE_ENCRYPTION_KEY) keep working. The identity sequences are
moved past the copied ids, so the next row gets a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from storage import pg
from storage.db import connect, is_postgres, location, sqlalchemy_url

log = logging.getLogger(__name__)

BATCH = 2000
# Created by APScheduler's SQLAlchemyJobStore, not by the migrations: made the same way
# on the target before its rows are copied.
JOB_TABLES = ("apscheduler_jobs",)


class CopyError(Exception):
    """The copy was refused or did not match; the target was left as it was."""


def _tables_in_order(source: Any) -> list[str]:
    """The source's tables, each after the tables its foreign keys point to."""
    names = [n for n in source.table_names() if not n.startswith("sqlite_") and n != "_migrations"]
    depends = {n: {fk.other_table for fk in source[n].foreign_keys} - {n} for n in names}
    ordered: list[str] = []
    while depends:
        ready = sorted(n for n, deps in depends.items() if not deps - set(ordered))
        if not ready:  # a cycle: cannot happen with this schema, but never loop forever
            raise CopyError(f"foreign keys form a cycle among {sorted(depends)}")
        for name in ready:
            ordered.append(name)
            del depends[name]
    return ordered


def _rows(source: Any, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = source.conn.execute(f'SELECT {quoted} FROM "{table}" ORDER BY rowid')  # noqa: S608
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def _ensure_job_table(target_url: str, table: str) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(url=sqlalchemy_url(target_url), tablename=table)
    store.start(None, "copy")  # creates the table as the scheduler would
    store.shutdown()


def copy_database(
    source_path: str | Path,
    target_url: str,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every table of the SQLite database at ``source_path`` into the empty
    PostgreSQL database at ``target_url``; return the rows copied per table."""
    if not is_postgres(target_url):
        raise CopyError("the target must be a postgresql:// URL")
    source_path = location(source_path)
    if is_postgres(source_path) or not Path(source_path).is_file():
        raise CopyError(f"no SQLite database at {source_path}")
    source = connect(source_path)  # migrated: the same schema the target gets
    try:
        target = connect(target_url)
    except Exception as exc:  # psycopg's OperationalError: unreachable, refused, no such db
        source.conn.close()
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CopyError(f"cannot connect to the target: {first_line}") from exc
    try:
        src_done = {r[0] for r in source.execute("SELECT name FROM _migrations").fetchall()}
        dst_done = {r[0] for r in target.execute("SELECT name FROM _migrations").fetchall()}
        if src_done != dst_done:
            raise CopyError(
                "the two databases are at different migrations: "
                f"{sorted(src_done ^ dst_done)} (run the same hotline version on both)"
            )
        tables = _tables_in_order(source)
        for table in tables:
            if table in JOB_TABLES and not target[table].exists():
                _ensure_job_table(target_url, table)
        missing = [t for t in tables if not target[t].exists()]
        if missing:
            raise CopyError(f"tables the target lacks: {missing}")
        full = [t for t in tables if target.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]  # noqa: S608
        if full:
            raise CopyError(f"the target already holds rows in {full}: copy into an empty one")
        counts: dict[str, int] = {}
        # A read transaction on the source: one consistent snapshot even if a server is
        # still writing (stop it first anyway: later writes would not be copied).
        source.conn.execute("BEGIN")
        with target.atomic():
            raw = target.conn.raw
            for table in tables:
                columns = [c for c in source[table].columns_dict if c in target[table].columns_dict]
                quoted = ", ".join(f'"{c}"' for c in columns)
                copied = 0
                try:
                    with (
                        raw.cursor() as cur,
                        cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as out,
                    ):
                        for row in _rows(source, table, columns):
                            out.write_row(row)
                            copied += 1
                except psycopg.Error as exc:
                    raise CopyError(f"{table}: {exc}") from exc
                expected = source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
                landed = target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
                if not (copied == expected == landed):
                    raise CopyError(
                        f"{table}: {expected} rows in SQLite, {copied} sent, {landed} landed"
                    )
                _move_identity(target, table)
                counts[table] = landed
                if progress:
                    progress(table, landed)
        source.conn.execute("ROLLBACK")
        return counts
    except pg.OperationalError as exc:
        raise CopyError(str(exc)) from exc
    finally:
        source.conn.close()
        target.conn.close()


def _move_identity(target: pg.PgDatabase, table: str) -> None:
    for (column,) in target.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? AND is_identity = 'YES'",
        [table],
    ).fetchall():
        target.execute(
            f'SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX("{column}"), 0) + 1,'  # noqa: S608
            f' false) FROM "{table}"',
            [f'"{table}"', column],
        )
