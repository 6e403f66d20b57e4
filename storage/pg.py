"""PostgreSQL behind the part of the sqlite-utils ``Database`` API the hotline uses.

Why an adapter and not SQLAlchemy or an ORM rewrite: every domain module (conversations,
reports, registry, outreach, the outbox, audit) talks to ``db.execute(sql, params)`` with
``?`` placeholders and to ``db["table"].insert/update/upsert``; the migrations build the
schema with ``db["t"].create/create_index/add_column``. That surface is small (this file),
while rewriting some 200 queries onto an ORM would touch every domain at once and change
the SQLite default that counties run today. So the SQL stays plain and portable, and this
adapter translates only what differs: placeholders (``?`` -> ``%s``), the schema types,
``last_pk`` (``RETURNING``), transactions and the exception classes the code catches.

Transactions keep SQLite's semantics on purpose: ``atomic()`` takes one database-wide
advisory lock for the length of the transaction, so write transactions run one at a
time across every process and machine, exactly like ``BEGIN IMMEDIATE`` on the file.
Domain code written for SQLite (read, decide, write) stays correct without an audit of
each transaction for READ COMMITTED races; a single statement outside a transaction
takes no lock (PostgreSQL makes it atomic on its own). Readers never wait.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Dumper
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.numeric import FloatLoader

# Key of the advisory lock every atomic() transaction holds (see the module docstring).
WRITE_LOCK_KEY = 0x686F746C  # "hotl"
# What a writer waits for that lock (storage.db.WRITE_LOCK_WAIT_S on SQLite).
LOCK_TIMEOUT_MS = 3000

_TYPES = {
    str: "TEXT",
    int: "BIGINT",
    float: "DOUBLE PRECISION",
    bytes: "BYTEA",
    bool: "BIGINT",
    dict: "TEXT",
    list: "TEXT",
    dt.datetime: "TEXT",
    dt.date: "TEXT",
}
_TYPE_NAMES = {
    "text": "TEXT",
    "str": "TEXT",
    "integer": "BIGINT",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "real": "DOUBLE PRECISION",
    "blob": "BYTEA",
    "bytes": "BYTEA",
}


class IntegrityError(sqlite3.IntegrityError):
    """A constraint refused the write. A subclass of sqlite3's, so code written for SQLite
    (``except sqlite3.IntegrityError``) behaves the same on both engines."""


class OperationalError(sqlite3.OperationalError):
    """The database could not do it now (connection lost, lock not granted)."""


class LockTimeout(OperationalError, TimeoutError):
    """A lock was not granted within LOCK_TIMEOUT_MS (SQLite: "database is locked")."""


# SQLite idioms the domain SQL uses, rewritten for PostgreSQL (storage/pg.py docstring):
# a list parameter passed as JSON text, and group_concat.
_JSON_LIST = re.compile(
    r"(?i)\b(NOT\s+)?IN\s*\(\s*SELECT\s+value\s+FROM\s+json_each\(\s*\?\s*\)\s*\)"
)
_GROUP_CONCAT = re.compile(r"(?i)\bgroup_concat\(\s*(DISTINCT\s+)?([\w.]+)\s*\)")
_JSON_MARK = "\x00"
# "? IS NULL" (an optional filter): a NULL parameter has no type for PostgreSQL to infer.
_PARAM_IS_NULL = re.compile(r"(?i)\?(\s+IS\s+(?:NOT\s+)?NULL)\b")
# "x IS ?": SQLite's NULL-safe equality, PostgreSQL's IS [NOT] DISTINCT FROM.
_IS_PARAM = re.compile(r"(?i)\bIS\s+(NOT\s+)?\?")


def translate(sql: str) -> tuple[str, tuple[int, ...]]:
    """SQLite SQL as PostgreSQL's: ``?`` placeholders as ``%s`` (a literal ``%``
    doubled) outside quoted strings; ``last_insert_rowid()`` as ``lastval()``;
    ``group_concat(x)`` as ``string_agg(x::text, ',')``; ``? IS NULL`` with the
    parameter cast to text (a NULL has no type to infer); ``x IS ?`` as ``x IS NOT
    DISTINCT FROM ?``; and ``x IN (SELECT value FROM
    json_each(?))`` as ``x = ANY(%s)``, with the positions of the parameters that are
    JSON lists to decode (an index on ``x`` still serves the lookup)."""
    return _translate(sql)


@functools.lru_cache(maxsize=4096)
def _translate(sql: str) -> tuple[str, tuple[int, ...]]:
    sql = _JSON_LIST.sub(lambda m: ("<> ALL(" if m.group(1) else "= ANY(") + _JSON_MARK + ")", sql)
    sql = _GROUP_CONCAT.sub(lambda m: f"string_agg({m.group(1) or ''}{m.group(2)}::text, ',')", sql)
    sql = re.sub(r"(?i)\blast_insert_rowid\(\)", "lastval()", sql)
    sql = _PARAM_IS_NULL.sub(lambda m: f"CAST(? AS TEXT){m.group(1)}", sql)
    sql = _IS_PARAM.sub(
        lambda m: "IS DISTINCT FROM ?" if m.group(1) else "IS NOT DISTINCT FROM ?", sql
    )
    out: list[str] = []
    json_positions: list[int] = []
    index = 0
    quote: str | None = None
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?" or ch == _JSON_MARK:
            if ch == _JSON_MARK:
                json_positions.append(index)
            index += 1
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out), tuple(json_positions)


class _UnknownDumper(Dumper):
    """Numbers sent untyped, like a quoted literal: PostgreSQL casts them to the column's
    type, as SQLite's loose typing does (an int compared with a TEXT column, a bool
    stored in an INTEGER one)."""

    oid = 0

    def dump(self, obj: Any) -> bytes:
        return str(int(obj)).encode()


class _NumericLoader(FloatLoader):
    """SUM() and AVG() return NUMERIC: an int when whole, else a float (never Decimal,
    which neither the templates nor json.dumps take)."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return int(text)


def _value(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL, which SQLite stores; in the hotline's text (what a
    # villager typed) it never means anything, and hashes and ciphertexts never hold one.
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    # What sqlite-utils stores for these: JSON text and ISO text.
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


def _params(parameters: Any, json_positions: tuple[int, ...] = ()) -> Any:
    if parameters is None:
        # [] rather than None: psycopg then reads the query's placeholders, so the
        # doubled literal % (translate) becomes one again.
        return []
    if isinstance(parameters, dict):
        return {k: _value(v) for k, v in parameters.items()}
    values = [_value(v) for v in parameters]
    for i in json_positions:
        if isinstance(values[i], (str, bytes)):
            values[i] = json.loads(values[i])
    return values


def _prepared(sql: str, parameters: Any) -> tuple[str, Any]:
    text, json_positions = translate(sql)
    return text, _params(parameters, json_positions)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except pg_errors.LockNotAvailable as exc:
        raise LockTimeout(str(exc)) from exc
    except pg_errors.QueryCanceled as exc:
        raise LockTimeout(str(exc)) from exc
    except psycopg.IntegrityError as exc:
        raise IntegrityError(str(exc)) from exc
    except psycopg.OperationalError as exc:
        raise OperationalError(str(exc)) from exc


class Cursor:
    """A psycopg cursor with what sqlite3's cursor offers the code (``lastrowid``)."""

    def __init__(self, cursor: psycopg.Cursor, conn: Connection) -> None:
        self._cursor = cursor
        self._owner = conn
        self._conn = conn.raw

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def fetchmany(self, size: int = 1) -> list[Any]:
        return self._cursor.fetchmany(size) if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor) if self._cursor.description else iter(())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def lastrowid(self) -> int | None:
        # The id an INSERT took from its table's identity sequence (none: no such insert).
        # lastval() fails until this session has taken a value from a sequence, and a
        # failure inside a transaction would abort it: the first call runs in a savepoint
        # (two more round trips); once it has answered, it always does for the session.
        if self._owner.lastval_defined:
            row = self._conn.execute("SELECT lastval()").fetchone()
            return row[0] if row else None
        try:
            with self._conn.transaction() if self._conn.autocommit else contextlib.nullcontext():
                row = self._conn.execute("SELECT lastval()").fetchone()
        except psycopg.errors.ObjectNotInPrerequisiteState:
            return None
        self._owner.lastval_defined = True
        return row[0] if row else None


class Connection:
    """What the code reaches through ``db.conn``: transaction state, executemany, close."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw
        # Statements that may have written, run through this connection (SQLite's
        # ``total_changes`` counts rows; this counts statements: it moves whenever that
        # does, and sometimes when nothing changed, which costs a caller a read only).
        self.total_changes = 0
        # lastval() has answered once in this session (Cursor.lastrowid).
        self.lastval_defined = False

    @property
    def closed(self) -> bool:
        """True once the connection is gone (closed, or lost: a server restart)."""
        return self.raw.closed

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        if not sql.lstrip()[:6].upper().startswith("SELECT"):
            self.total_changes += 1
        with _errors():
            return Cursor(self.raw.execute(*_prepared(sql, parameters)), self)

    def executemany(self, sql: str, seq: Iterable[Any]) -> None:
        text, json_positions = translate(sql)
        self.total_changes += 1
        with _errors(), self.raw.cursor() as cur:
            # A generator, not a list: a caller streaming a million rows holds none of them.
            cur.executemany(text, (_params(p, json_positions) for p in seq))

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()


class Table:
    """``db["name"]``: the sqlite-utils table methods the hotline uses."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self.last_pk: Any = None

    # -- schema -------------------------------------------------------------------
    def drop(self, ignore: bool = False) -> None:
        self.db.execute(f"DROP TABLE {'IF EXISTS ' if ignore else ''}{_ident(self.name)}")

    def exists(self) -> bool:
        row = self.db.execute("SELECT to_regclass(?)", [_ident(self.name)]).fetchone()
        return row is not None and row[0] is not None

    @property
    def columns_dict(self) -> dict[str, str]:
        rows = self.db.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [self.name],
        ).fetchall()
        return {name: kind for name, kind in rows}

    @property
    def pks(self) -> list[str]:
        rows = self.db.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = to_regclass(?) AND i.indisprimary"
            " ORDER BY array_position(i.indkey, a.attnum)",
            [_ident(self.name)],
        ).fetchall()
        return [r[0] for r in rows]

    def create(
        self,
        columns: dict[str, Any],
        pk: str | tuple[str, ...] | list[str] | None = None,
        foreign_keys: Iterable[Any] | None = None,
        not_null: Iterable[str] | None = None,
        defaults: dict[str, Any] | None = None,
        if_not_exists: bool = False,
        **_ignored: Any,
    ) -> Table:
        not_null = set(not_null or ())
        defaults = defaults or {}
        references = {}
        for fk in foreign_keys or ():
            column, other, other_column = (tuple(fk) + (None,))[:3]
            references[column] = (other, other_column or "id")
        single_pk = pk if isinstance(pk, str) else None
        parts = []
        for name, kind in columns.items():
            sql_type = _sql_type(kind)
            column = f"{_ident(name)} {sql_type}"
            if name == single_pk:
                if sql_type == "BIGINT":  # SQLite's INTEGER PRIMARY KEY: the rowid
                    column += " GENERATED BY DEFAULT AS IDENTITY"
                column += " PRIMARY KEY"
            if name in not_null:
                column += " NOT NULL"
            if name in defaults:
                column += f" DEFAULT {_literal(defaults[name])}"
            if name in references:
                other, other_column = references[name]
                column += f" REFERENCES {_ident(other)} ({_ident(other_column)})"
            parts.append(column)
        if pk is not None and single_pk is None:
            parts.append(f"PRIMARY KEY ({', '.join(_ident(c) for c in pk)})")
        self.db._pk_cache.pop(self.name, None)
        exists = "IF NOT EXISTS " if if_not_exists else ""
        self.db.execute(f"CREATE TABLE {exists}{_ident(self.name)} ({', '.join(parts)})")
        return self

    def create_index(
        self,
        columns: Iterable[str],
        index_name: str | None = None,
        unique: bool = False,
        if_not_exists: bool = False,
        **_ignored: Any,
    ) -> Table:
        columns = list(columns)
        # sqlite-utils' naming, so an index has the same name on both engines.
        name = index_name or f"idx_{self.name}_{'_'.join(columns)}"
        self.db.execute(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX"
            f"{' IF NOT EXISTS' if if_not_exists else ''} {_ident(name)}"
            f" ON {_ident(self.name)} ({', '.join(_ident(c) for c in columns)})"
        )
        return self

    def add_column(
        self, name: str, kind: Any = None, not_null_default: Any = None, **_ignored: Any
    ) -> Table:
        sql = f"ALTER TABLE {_ident(self.name)} ADD COLUMN {_ident(name)} {_sql_type(kind or str)}"
        if not_null_default is not None:
            sql += f" NOT NULL DEFAULT {_literal(not_null_default)}"
        self.db.execute(sql)
        return self

    # -- rows ---------------------------------------------------------------------
    def _pk_columns(self, pk: Any) -> list[str]:
        if pk is None:
            return self._table_pks or ["id"]
        return [pk] if isinstance(pk, str) else list(pk)

    def insert(
        self,
        record: dict[str, Any],
        pk: Any = None,
        ignore: bool = False,
        replace: bool = False,
        **_ignored: Any,
    ) -> Table:
        self._insert([record], pk=pk, ignore=ignore, replace=replace)
        return self

    def insert_all(
        self,
        records: Iterable[dict[str, Any]],
        pk: Any = None,
        ignore: bool = False,
        replace: bool = False,
        **_ignored: Any,
    ) -> Table:
        self._insert(list(records), pk=pk, ignore=ignore, replace=replace)
        return self

    def upsert(self, record: dict[str, Any], pk: Any = None, **_ignored: Any) -> Table:
        self._insert([record], pk=pk, upsert=True)
        return self

    def upsert_all(
        self, records: Iterable[dict[str, Any]], pk: Any = None, **_ignored: Any
    ) -> Table:
        self._insert(list(records), pk=pk, upsert=True)
        return self

    def _insert(
        self,
        records: list[dict[str, Any]],
        *,
        pk: Any,
        ignore: bool = False,
        replace: bool = False,
        upsert: bool = False,
    ) -> None:
        if not records:
            return
        keys = self._pk_columns(pk) if (upsert or replace or ignore) else None
        for record in records:
            columns = list(record)
            sql = (
                f"INSERT INTO {_ident(self.name)} ({', '.join(_ident(c) for c in columns)})"  # noqa: S608 - quoted identifiers, bound values
                f" VALUES ({', '.join('?' for _ in columns)})"
            )
            if ignore:
                sql += " ON CONFLICT DO NOTHING"
            elif upsert or replace:
                assert keys is not None
                others = [c for c in columns if c not in keys]
                conflict = f" ON CONFLICT ({', '.join(_ident(c) for c in keys)})"
                if others:
                    # upsert keeps columns the record does not name; replace does too here
                    # (the hotline's replace rows always name every column).
                    sets = ", ".join(f"{_ident(c)} = excluded.{_ident(c)}" for c in others)
                    sql += f"{conflict} DO UPDATE SET {sets}"
                else:
                    sql += f"{conflict} DO NOTHING"
            returning = self._returning(pk)
            if returning:
                sql += f" RETURNING {', '.join(_ident(c) for c in returning)}"
            row = self.db.execute(sql, [record[c] for c in columns]).fetchone()
            if returning:
                if row is not None:
                    self.last_pk = row[0] if len(returning) == 1 else tuple(row)
                else:  # ignored: sqlite-utils leaves the last rowid; the key given is it
                    self.last_pk = (
                        record.get(returning[0])
                        if len(returning) == 1
                        else tuple(record.get(c) for c in returning)
                    )

    @property
    def _table_pks(self) -> list[str]:
        # Asked of the catalog once per connection and table: ``db["t"]`` is a new Table
        # each time, and the schema only changes in migrations (create clears it).
        cache = self.db._pk_cache
        if self.name not in cache:
            cache[self.name] = self.pks
        return cache[self.name]

    def _returning(self, pk: Any) -> list[str]:
        if pk is not None:
            return [pk] if isinstance(pk, str) else list(pk)
        return self._table_pks

    def update(
        self, pk_values: Any, updates: dict[str, Any] | None = None, **_ignored: Any
    ) -> Table:
        if not updates:
            return self
        keys = self._table_pks or ["id"]
        values = list(pk_values) if isinstance(pk_values, (list, tuple)) else [pk_values]
        sets = ", ".join(f"{_ident(c)} = ?" for c in updates)
        where = " AND ".join(f"{_ident(c)} = ?" for c in keys)
        self.db.execute(
            f"UPDATE {_ident(self.name)} SET {sets} WHERE {where}",  # noqa: S608 - quoted names
            [*updates.values(), *values],
        )
        self.last_pk = pk_values
        return self

    def get(self, pk_values: Any) -> dict[str, Any]:
        keys = self._table_pks or ["id"]
        values = list(pk_values) if isinstance(pk_values, (list, tuple)) else [pk_values]
        where = " AND ".join(f"{_ident(c)} = ?" for c in keys)
        rows = list(self.db.query(f"SELECT * FROM {_ident(self.name)} WHERE {where}", values))  # noqa: S608 - quoted identifiers, bound values
        if not rows:
            import sqlite_utils.db

            raise sqlite_utils.db.NotFoundError(f"{self.name}: no row {pk_values!r}")
        return rows[0]

    @property
    def count(self) -> int:
        return self.db.execute(f"SELECT count(*) FROM {_ident(self.name)}").fetchone()[0]  # noqa: S608 - quoted identifiers, bound values

    def rows_where(
        self, where: str | None = None, where_args: Any = None, order_by: str | None = None
    ) -> Iterator[dict[str, Any]]:
        sql = f"SELECT * FROM {_ident(self.name)}"  # noqa: S608 - quoted identifiers, bound values
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        return self.db.query(sql, where_args)

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.rows_where()


class PgDatabase:
    """The hotline database on PostgreSQL (see the module docstring)."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection, location: str) -> None:
        self.conn = Connection(raw)
        self.location = location
        self._pk_cache: dict[str, list[str]] = {}

    def __getitem__(self, name: str) -> Table:
        return Table(self, name)

    def table(self, name: str) -> Table:
        return Table(self, name)

    def execute(self, sql: str, parameters: Any = None) -> Cursor:
        return self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Any = None) -> Iterator[dict[str, Any]]:
        with _errors(), self.conn.raw.cursor(row_factory=dict_row) as cur:
            cur.execute(*_prepared(sql, params))
            rows = cur.fetchall() if cur.description else []
        yield from rows

    def table_names(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def enable_wal(self) -> None:
        """SQLite only; PostgreSQL always writes ahead."""

    @contextlib.contextmanager
    def atomic(self) -> Iterator[PgDatabase]:
        raw = self.conn.raw
        if self.conn.in_transaction:  # nested: a savepoint (psycopg's)
            with _errors(), raw.transaction():
                yield self
            return
        # One writer at a time, as on SQLite (module docstring); a lock not granted in
        # LOCK_TIMEOUT_MS raises LockTimeout (a TimeoutError). BEGIN and the lock go in
        # one round trip (a multi-statement query: the simple protocol, never prepared);
        # psycopg's transaction() would send them one by one.
        try:
            with _errors():
                raw.execute(_BEGIN_LOCKED, prepare=False)
                yield self
                raw.commit()
        except BaseException:
            _rollback_quietly(raw)
            raise


# Keyed by the schema too: advisory locks are per database, and two hotlines in two
# schemas of one database (a staging copy; the test suite's schema per test) must not
# queue behind each other's writes (a million-recipient push holds it for seconds).
_BEGIN_LOCKED = (
    f"BEGIN; SELECT pg_advisory_xact_lock({int(WRITE_LOCK_KEY)}, hashtext(current_schema()))"
)


def _rollback_quietly(raw: psycopg.Connection) -> None:
    """Roll back what is open; a rollback that fails too (the connection is gone) must
    not hide the error that made it necessary."""
    with contextlib.suppress(psycopg.Error):
        raw.rollback()


# SQLite functions the domain SQL calls that PostgreSQL lacks, as SQL functions of the
# same name and meaning (installed with the schema: storage.schema.migrate).
# date(timestamp, '+8 hours'): the Beijing day of a stored UTC ISO timestamp;
# sum(boolean): SQLite counts rows with SUM(a = b) (true is 1); NULL over no rows, as there.
COMPAT_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION hotline_sum_bool(total bigint, flag boolean) RETURNS bigint"
    " LANGUAGE sql IMMUTABLE AS $$ SELECT COALESCE(total, 0)"
    " + CASE WHEN flag THEN 1 ELSE 0 END $$",
    "CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = hotline_sum_bool, STYPE = bigint)",
    "CREATE OR REPLACE FUNCTION date(stamp text, modifier text) RETURNS text"
    " LANGUAGE sql STABLE AS $$ SELECT to_char((stamp::timestamptz AT TIME ZONE 'UTC')"
    " + modifier::interval, 'YYYY-MM-DD') $$",
    "CREATE OR REPLACE FUNCTION date(stamp text) RETURNS text"
    " LANGUAGE sql STABLE AS $$ SELECT to_char(stamp::timestamptz AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD') $$",
)


def install_compat(db: PgDatabase) -> None:
    for sql in COMPAT_FUNCTIONS:
        db.conn.raw.execute(sql)


def connect(url: str) -> PgDatabase:
    """Open the hotline database at a ``postgresql://`` URL (no migration: storage.db)."""
    raw = psycopg.connect(_libpq_url(url), autocommit=True)
    raw.adapters.register_dumper(int, _UnknownDumper)
    raw.adapters.register_dumper(bool, _UnknownDumper)
    raw.adapters.register_loader("numeric", _NumericLoader)
    raw.execute(f"SET lock_timeout = {int(LOCK_TIMEOUT_MS)}")
    return PgDatabase(raw, url)


def _libpq_url(url: str) -> str:
    # SQLAlchemy-style driver suffixes (postgresql+psycopg://) are not libpq's.
    return re.sub(r"^postgres(ql)?(\+[a-z0-9]+)?://", "postgresql://", url)


def is_postgres_url(location: str | Any) -> bool:
    return isinstance(location, str) and bool(
        re.match(r"^postgres(ql)?(\+[a-z0-9]+)?://", location)
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_type(kind: Any) -> str:
    if isinstance(kind, str):
        return _TYPE_NAMES.get(kind.lower(), kind.upper())
    return _TYPES.get(kind, "TEXT")


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"
