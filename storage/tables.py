"""Typed access to what sqlite-utils leaves loosely typed.

Tables are opened with ``db.table("name")``, not ``db["name"]``: the two look up the
same table, but ``db[...]`` is typed ``Table | View`` (it returns a view when one has
that name, and this schema has none), so a type checker rejects ``.insert`` on it.
"""

from __future__ import annotations

from sqlite_utils.db import Table


def new_id(table: Table) -> int:
    """The id the last insert into ``table`` gave its row (``last_pk``, which sqlite-utils
    types ``Any | None``). Every table here has an integer ``id`` primary key, so
    anything else is a bug worth stopping on rather than a None stored as a reference."""
    pk = table.last_pk
    if not isinstance(pk, int):
        raise TypeError(f"insert into {table.name} gave no integer id: {pk!r}")
    return pk
