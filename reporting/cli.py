"""``hotline jurisdictions``, ``hotline officer``, ``hotline cadres``, ``hotline reports``:
the police side's command line. Registered on the main ``hotline`` group in bot/cli.py."""

from __future__ import annotations

from pathlib import Path

import click
import sqlite_utils

import settings
from accounts import officers as officer_store
from reporting import cadres as cadre_store
from reporting import jurisdiction
from reporting import purge as purging
from storage.db import connect
from storage.privacy import Vault, load_vault


def open_db() -> sqlite_utils.Database:
    # The same settings the app reads (settings/): HOTLINE_DATABASE_URL, HOTLINE_DB, .env.
    return connect(settings.db_path())


def open_vault() -> Vault:
    return load_vault(settings.var_dir() / "keys.json")


@click.group()
def jurisdictions() -> None:
    """The jurisdiction table: which police station covers which village."""


@jurisdictions.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_jurisdictions(csv_file: Path) -> None:
    """Load CSV_FILE (columns: province,city,county,township,village,station_code,
    station_name; see docs/jurisdictions.md). Re-importing updates rows in place."""
    db = open_db()
    try:
        result = jurisdiction.import_csv(db, csv_file)
    except (jurisdiction.JurisdictionError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{csv_file}: {exc}") from exc
    duplicates = db.execute(
        "SELECT village_norm, count(DISTINCT township) n FROM jurisdictions"
        " GROUP BY county, village_norm HAVING n > 1"
    ).fetchall()
    click.echo(f"imported {result['rows']} villages, {result['stations']} stations")
    if duplicates:
        names = ", ".join(row[0] for row in duplicates)
        click.echo(f"names in more than one township (the bot will ask which): {names}")


@click.group()
def officer() -> None:
    """Police officers who log in to /police."""


@officer.command("add")
@click.option("--station", "station_code", required=True, help="Station code from the CSV.")
@click.option("--username", required=True)
@click.option("--supervisor", is_flag=True, help="County supervisor: sees the whole county.")
@click.password_option(help="Prompted (twice) when not given.")
def add_officer(station_code: str, username: str, supervisor: bool, password: str) -> None:
    """Add an officer of station CODE; the password is prompted for, with confirmation."""
    role = "supervisor" if supervisor else "officer"
    try:
        record = officer_store.add(open_db(), username, password, station_code, role)
    except officer_store.OfficerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {role} {record['username']} ({station_code}, {record['county']})")


@officer.command("password")
@click.option("--username", required=True)
@click.password_option(help="Prompted (twice) when not given.")
def set_password(username: str, password: str) -> None:
    """Give an officer a new password; their open sessions end."""
    try:
        officer_store.set_password(open_db(), username, password)
    except officer_store.OfficerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"new password for {username}; their sessions are ended")


@officer.command("deactivate")
@click.option("--username", required=True)
def deactivate(username: str) -> None:
    """Stop an officer logging in; their open sessions end at once."""
    try:
        officer_store.deactivate(open_db(), username)
    except officer_store.OfficerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"deactivated {username}; their sessions are ended")


@click.group()
def cadres() -> None:
    """Registered village cadres: their reports carry the village and rank higher."""


@cadres.command("add")
@click.option("--village", required=True)
@click.option("--phone", required=True, help="The cadre's mobile number (stored hashed).")
@click.option("--township", help="Needed when the village name exists in two townships.")
def add_cadre(village: str, phone: str, township: str | None) -> None:
    """Register a cadre's phone number for a village."""
    try:
        record = cadre_store.add(open_db(), open_vault(), phone, village, township)
    except cadre_store.CadreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"cadre {record['phone_masked']}: {record['township']} {record['village']}")


@cadres.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_cadres(csv_file: Path) -> None:
    """Load cadres from CSV_FILE with columns phone,village,township."""
    try:
        count = cadre_store.import_csv(open_db(), open_vault(), csv_file)
    except cadre_store.CadreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {count} cadres")


@click.group()
def reports() -> None:
    """Reports kept for the police."""


@reports.command("purge")
@click.option(
    "--days",
    type=click.IntRange(0, 36500),
    default=None,
    help="Closed for more than this many days (default: HOTLINE_PURGE_DAYS or 180).",
)
def purge_reports(days: int | None) -> None:
    """Erase the personal fields of closed reports now (`hotline serve` and
    `hotline scheduler` also do it daily at 03:00); the statistics stay."""
    days = days if days is not None else purging.purge_days()
    count = purging.purge_closed(open_db(), days, uploads=settings.var_dir() / "uploads")
    click.echo(f"purged {count} reports closed more than {days} days ago")


@reports.command("relink")
def relink_reports() -> None:
    """Link every submitted report again and form incidents from them (after an
    upgrade, or a jurisdiction import). Safe to repeat: links and incidents are kept once."""
    from reporting import incidents

    db = open_db()
    count = incidents.relink_all(db, open_vault())
    live = db.execute("SELECT count(*) FROM incidents WHERE cluster_id IS NOT NULL").fetchone()[0]
    click.echo(f"linked {count} reports; {live} incidents")


COMMANDS = (jurisdictions, officer, cadres, reports)
