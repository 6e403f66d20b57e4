"""``hotline nlu``: the NLU commands that work on the review table. Registered on the
main ``hotline`` group in bot/cli.py."""

from __future__ import annotations

import click

import settings
from reporting.cli import open_db
from review import export as exporting


@click.group("nlu")
def nlu_cli() -> None:
    """Messages supervisors reviewed under /police/review, as training data."""


@nlu_cli.command("export-reviewed")
def export_reviewed() -> None:
    """Write reviewed messages as Rasa training data to $HOTLINE_VAR/nlu-reviewed/
    (one block per intent; "not a real message" is left out). The next `hotline train`
    includes them. The files come from villagers (redacted): never commit them."""
    db = open_db()
    try:
        path, counts = exporting.export(db, settings.var_dir())
    finally:
        db.conn.close()
    if not counts:
        click.echo("nothing reviewed yet: no training data written")
        return
    for intent, count in sorted(counts.items()):
        click.echo(f"{intent}: {count}")
    click.echo(f"wrote {sum(counts.values())} examples to {path}")
