"""``hotline db``: the database itself (copying a county's SQLite into PostgreSQL)."""

from __future__ import annotations

import click

from settings import load_config
from storage.copy import CopyError, copy_database
from storage.db import is_postgres


@click.group("db")
def db_cli() -> None:
    """The hotline database (HOTLINE_DATABASE_URL / HOTLINE_DB)."""


@db_cli.command("copy")
@click.option("--to", "target", required=True, help="postgresql://user@host/db (empty)")
@click.option(
    "--from",
    "source",
    default=None,
    help="the SQLite file (default: HOTLINE_DB, i.e. $HOTLINE_VAR/hotline.db)",
)
def copy_cli(target: str, source: str | None) -> None:
    """Copy the SQLite database into an empty PostgreSQL one, table by table.

    Stop the hotline first (writes made during the copy are not carried over). Counts
    are checked per table; hashed and encrypted fields are copied as stored, so keep the
    same HOTLINE_HASH_KEY and HOTLINE_ENCRYPTION_KEY. Then set HOTLINE_DATABASE_URL."""
    if source is None:
        source = load_config()["HOTLINE_DB"]
        if is_postgres(source):
            raise click.ClickException("HOTLINE_DATABASE_URL is PostgreSQL: give --from FILE")
    try:
        counts = copy_database(
            source, target, progress=lambda table, n: click.echo(f"{table}: {n} rows")
        )
    except CopyError as exc:
        raise click.ClickException(f"nothing copied: {exc}") from None
    click.echo(f"copied {sum(counts.values())} rows in {len(counts)} tables; counts match")
