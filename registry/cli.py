"""``hotline registry``: the county medical-insurance bureau's register of authorised
activities, from the command line (the same as the /bureau pages). Every change is
written to the audit log as ``cli:<your login name>``."""

from __future__ import annotations

import getpass
from pathlib import Path

import click
import sqlite_utils

from accounts import officers
from registry import activities, staff
from reporting import jurisdiction
from reporting.cli import open_db, open_vault


def _actor() -> activities.Actor:
    return activities.Actor(name=f"cli:{getpass.getuser()}")


def _county(db: sqlite_utils.Database, county: str | None) -> str:
    county = county or jurisdiction.default_county(db)
    if not county:
        raise click.ClickException("several counties are loaded: give --county")
    return county


_COUNTY = click.option(
    "--county", help="County name as in the jurisdiction table (default: the only one loaded)."
)


@click.group("registry")
def registry_cli() -> None:
    """Activities the county medical-insurance bureau authorised (docs/registry.md).

    Villagers and cadres check a team against them by SMS or WeChat."""


@registry_cli.group("activity")
def activity() -> None:
    """Add, import, list and revoke authorised activities."""


@activity.command("add")
@click.option(
    "--code", required=True, help=f"Authorisation code on the letter: {activities.CODE_FORMAT}."
)
@click.option("--organisation", required=True, help="Who runs the activity (单位名称).")
@click.option("--leader", required=True, help="Team leader's name (stored encrypted).")
@click.option("--work-ids", default="", help="Members' work-ID numbers, separated by spaces or 、.")
@click.option("--townships", default="", help="Townships covered (all their villages).")
@click.option("--villages", default="", help="Villages covered; 镇名+村名 when a name repeats.")
@click.option("--start", required=True, help="First day, 2025-05-20 (Beijing calendar).")
@click.option("--end", required=True, help="Last day, inclusive.")
@click.option("--authorised-by", default="", help="Authorising body (default: <county>医疗保障局).")
@_COUNTY
def add_activity(county: str | None, **values: str) -> None:
    """Register one authorised activity."""
    db = open_db()
    try:
        record = activities.save(db, open_vault(), _county(db, county), values, _actor())
    except activities.ActivityError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_line(record))


@activity.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_COUNTY
def import_activities(csv_file: Path, county: str | None) -> None:
    """Load activities from CSV_FILE (UTF-8; columns code,organisation,leader,work_ids,
    townships,villages,start,end,authorised_by). A code already registered is updated.
    Bad rows are listed with their line number and skipped; the others are saved."""
    db = open_db()
    try:
        text = csv_file.read_text(encoding="utf-8")
        result = activities.import_csv(db, open_vault(), text, _county(db, county), _actor())
    except (activities.ActivityError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{csv_file}: {exc}") from exc
    click.echo(f"{result.created} added, {result.updated} updated, {len(result.errors)} rejected")
    for line, error in result.errors:
        click.echo(f"  line {line}: {error}")
    if result.errors:
        raise SystemExit(1)


STATUS = {"running": "running ", "upcoming": "upcoming", "ended": "ended   ", "revoked": "REVOKED "}


def _line(a: dict) -> str:
    places = "、".join(p["township"] + p["village"] for p in a["villages"])
    places = places or "、".join(a["townships"]) + "（全镇）"
    return (
        f"{STATUS[activities.status(a)]} {a['code']}  {a['start_date']}..{a['end_date']}"
        f"  {a['organisation']}  {places}"
    )


@activity.command("list")
@_COUNTY
@click.option("--all", "show_all", is_flag=True, help="Also ended and revoked activities.")
def list_activities(county: str | None, show_all: bool) -> None:
    """The county's activities, the latest first (running and upcoming unless --all)."""
    db = open_db()
    rows = activities.for_county(db, _county(db, county))
    shown = [a for a in rows if show_all or activities.status(a) in ("running", "upcoming")]
    for row in shown:
        click.echo(_line(row))
    if not shown:
        click.echo("no activities")


@activity.command("revoke")
@click.argument("code")
@click.option("--reason", required=True, help="Why (kept in the register and the audit log).")
@_COUNTY
def revoke_activity(code: str, reason: str, county: str | None) -> None:
    """Withdraw the authorisation of activity CODE: checks then answer "no record"."""
    db = open_db()
    found = activities.get_by_code(db, activities.parse_code(code) or "")
    if found is None:
        raise click.ClickException(f"no activity {code!r}")
    try:
        activities.revoke(db, found["id"], _county(db, county), reason, _actor())
    except activities.ActivityError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {found['code']}")


@registry_cli.group("code")
def code_group() -> None:
    """Authorisation codes seen on forged letters."""


@code_group.command("forged")
@click.argument("code")
@click.option("--reason", required=True, help="Where and when the forged letter was seen.")
@_COUNTY
def forged_code(code: str, reason: str, county: str | None) -> None:
    """Mark CODE as forged: a villager who sends it is told so at once."""
    db = open_db()
    try:
        canonical = activities.mark_forged(db, code, reason, _county(db, county), _actor())
    except activities.ActivityError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"marked {canonical} as forged")


@registry_cli.group("staff")
def staff_group() -> None:
    """Bureau staff accounts for the /bureau pages."""


@staff_group.command("add")
@click.option("--username", required=True)
@_COUNTY
@click.password_option(help="Prompted (twice) when not given.")
def add_staff(username: str, county: str | None, password: str) -> None:
    """Add a bureau account for the county; it logs in at /bureau/login. Change its
    password or deactivate it with `hotline officer password|deactivate`."""
    db = open_db()
    try:
        record = staff.add(db, username, password, _county(db, county))
    except officers.OfficerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added bureau account {record['username']} ({record['county']})")
