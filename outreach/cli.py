"""`hotline groups`, `hotline tips`, `hotline alert`, `hotline outbox` (`hotline scheduler`,
which runs every domain's jobs, is the app's: bot/cli.py).

These commands open the database directly (no NLU model is loaded) and send through
the configured SMS provider (SMS_PROVIDER; `console` prints) and, to WeChat
followers, the WeChat customer-service API (SMS fallback outside the 48-hour window),
paced to HOTLINE_SMS_RATE calls per second (a call carries up to HOTLINE_SMS_BATCH numbers
through a batch gateway, paced to HOTLINE_SMS_NUMBERS_RATE numbers per second too).
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any

import click

from jobs import runner
from outreach import alerts, campaigns, groups, outbox, schedules, tips
from outreach.quiet_hours import BEIJING, in_quiet_hours, utcnow


class _Rate(click.ParamType):
    """Calls per second: a finite number, 0 for no pacing (float alone accepts nan,
    inf and negative paces, which the drain then runs with)."""

    name = "rate"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            rate = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (0 <= rate < float("inf")):
            self.fail(f"{value!r} is not a rate per second (0: no pacing)", param, ctx)
        return rate


RATE = _Rate()
# A row id: SQLite's INTEGER range, so a huge number is "not found", not an OverflowError.
ROW_ID = click.IntRange(1, 2**63 - 1)


RATE_HELP = (
    "Provider calls per second: one number each, or a batch through Aliyun / Tencent "
    "(default HOTLINE_SMS_RATE or the provider's)."
)


class Env:
    def __init__(self) -> None:
        from settings import load_config
        from storage.db import connect
        from storage.privacy import load_vault

        self.config = load_config()
        self.db = connect(self.config["HOTLINE_DB"])
        self.vault = load_vault(self.config["HOTLINE_VAR"] / "keys.json")

    def sender(self) -> Any:
        """channel -> sender (SMS, WeChat), built once per drain."""
        try:
            return outbox.senders_from_config(self.config)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc


def _who(by: str | None) -> str:
    return (by or getpass.getuser()).strip()


def _target(group: str | None, township: str | None, county: str | None) -> tuple[str, str]:
    given = [(k, v) for k, v in (("group", group), ("township", township), ("county", county)) if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --group, --township, --county")
    return given[0]


def _target_options(func: Any) -> Any:
    func = click.option("--county", help="Every village of a county (county name).")(func)
    func = click.option(
        "--township", help="Every village of a township (name, or county/township)."
    )(func)
    return click.option(
        "--group", help="One village group: its id, village name, or county/township/village."
    )(func)


def _local(value: str | None) -> str:
    if not value:
        return "-"
    moment = dt.datetime.fromisoformat(value)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _drain_with_bar(env: Env, rate: float | None, campaign_id: int | None, label: str) -> None:
    rate = schedules.rate_from_config(env.config) if rate is None else rate
    due = env.db.execute(
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND (? IS NULL OR campaign_id = ?)",
        [campaign_id, campaign_id],
    ).fetchone()[0]
    sender = env.sender()
    with click.progressbar(length=due, label=label, file=sys.stderr) as bar:
        stats = outbox.drain(
            env.db,
            env.vault,
            sender,
            rate=rate,
            campaign_id=campaign_id,
            progress=lambda _outcome: bar.update(1),
        )
    click.echo(
        f"sent {stats.sent}, failed {stats.failed}, to retry {stats.retried}, "
        f"skipped (opted out) {stats.skipped}, WeChat->SMS {stats.fell_back}, "
        f"undeliverable {stats.undeliverable} in {stats.elapsed:.1f}s at {rate:g}/s"
    )
    if stats.errors:
        click.echo("errors: " + ", ".join(f"{k}×{v}" for k, v in sorted(stats.errors.items())))


# --- groups ------------------------------------------------------------------------


@click.group("groups")
def groups_cli() -> None:
    """Village groups (village -> township -> county) and who is enrolled in them."""


@groups_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "by", help="Who collected the villagers' consent (default: you).")
@click.option(
    "--channel",
    default="csv",
    show_default=True,
    help="How consent was given, when the file has no consent_channel column.",
)
def groups_import(csv_file: Path, by: str | None, channel: str) -> None:
    """Enroll villagers from a CSV with the columns phone, village, township, county
    (optional: consent_at, consent_channel). UTF-8 or GBK (Excel) both work.

    Groups are created as needed. Numbers that opted out are never re-enrolled: only
    their owner can rejoin, by texting 订阅 or START. Each enrollment records consent
    (when, how, by whom)."""
    env = Env()
    try:
        result = groups.import_csv(
            env.db,
            env.vault,
            csv_file.read_bytes(),
            by=_who(by),
            channel=channel,
            source=csv_file.name,
        )
    except groups.EnrollmentFileError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.summary())
    for error in result.errors[:50]:
        click.echo(f"  {error}", err=True)


@groups_cli.command("list")
def groups_list() -> None:
    """Every village group with its active and opted-out subscribers."""
    env = Env()
    rows = groups.list_groups(env.db)
    if not rows:
        click.echo("no village groups yet: `hotline groups import FILE.csv`")
        return
    click.echo(f"{'id':>4}  {'county / township / village':<36} {'active':>7} {'opted out':>9}")
    for r in rows:
        place = f"{r['county']} / {r['township']} / {r['village']}"
        click.echo(f"{r['id']:>4}  {place:<36} {r['active'] or 0:>7} {r['opted_out'] or 0:>9}")


# --- tips --------------------------------------------------------------------------


@click.group("tips")
def tips_cli() -> None:
    """Weekly anti-fraud tips: schedules per group / township / county, run now."""


@tips_cli.command("schedule")
@_target_options
@click.option("--day", required=True, help="mon..sun, or several: mon,thu.")
@click.option("--time", "time_", required=True, help="HH:MM, Beijing time.")
@click.option("--by", "by", help="Who sets the schedule (default: you).")
def tips_schedule(
    group: str | None,
    township: str | None,
    county: str | None,
    day: str,
    time_: str,
    by: str | None,
) -> None:
    """Push a tip every week at DAY TIME (Asia/Shanghai) to a target.

    Stored in the database: it survives restarts, and a run missed while the hotline
    was down fires once when it is back. Runs falling in quiet hours (21:00-08:00)
    are sent at 08:00. A second schedule reaching the same villages on the same day's
    morning (or afternoon) is refused, naming the one already there."""
    env = Env()
    scope_type, value = _target(group, township, county)
    with runner.open_store(env.config["HOTLINE_DB"]) as store:
        try:
            row = schedules.add_schedule(
                env.db,
                store,
                scope_type=scope_type,
                scope_value=value,
                day=day,
                time=time_,
                created_by=_who(by),
            )
        except schedules.ScheduleError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"schedule {row['id']}: tips to {scope_type} {value} every {row['day_of_week']} "
        f"{row['time']} (Beijing); next run {row['next_run']:%Y-%m-%d %H:%M %Z}"
    )
    if row["quiet"]:
        click.echo("note: that time is in quiet hours (21:00-08:00): tips will go at 08:00")


@tips_cli.command("list")
@click.option("--catalogue", is_flag=True, help="List the tips themselves instead.")
def tips_list(catalogue: bool) -> None:
    """The tip schedules and their next run (or, with --catalogue, the tips)."""
    if catalogue:
        for tip in tips.all_tips():
            click.echo(f"{tip.id:<22} {tip.topic:<18} {tip.text}")
        return
    env = Env()
    with runner.open_store(env.config["HOTLINE_DB"]) as store:
        rows = schedules.list_schedules(env.db, store)
    if not rows:
        click.echo("no tip schedules: `hotline tips schedule --group ... --day tue --time 10:00`")
        return
    for r in rows:
        nxt = f"{r['next_run']:%Y-%m-%d %H:%M}" if r["next_run"] else "not scheduled"
        click.echo(
            f"{r['id']:>3}  {r['scope_type']} {r['scope_value']}: every {r['day_of_week']} "
            f"{r['time']}  next {nxt}  (by {r['created_by']})"
        )


@tips_cli.command("unschedule")
@click.argument("schedule_id", type=ROW_ID)
def tips_unschedule(schedule_id: int) -> None:
    """Stop a tip schedule."""
    env = Env()
    with runner.open_store(env.config["HOTLINE_DB"]) as store:
        try:
            schedules.remove_schedule(env.db, store, schedule_id)
        except schedules.ScheduleError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"schedule {schedule_id} stopped")


@tips_cli.command("run-now")
@_target_options
@click.option("--tip", "tip_id", help="This tip (an id from `tips list --catalogue`).")
@click.option(
    "--rate",
    type=RATE,
    help=RATE_HELP,
)
@click.option("--by", "by", help="Who starts the push (default: you).")
def tips_run_now(
    group: str | None,
    township: str | None,
    county: str | None,
    tip_id: str | None,
    rate: float | None,
    by: str | None,
) -> None:
    """Push the next tip to a target now, with a progress bar. Each subscriber gets a
    tip they have not had yet. In quiet hours it is queued for 08:00 instead."""
    env = Env()
    scope_type, value = _target(group, township, county)
    try:
        planned = campaigns.plan(
            env.db,
            kind="tip",
            scope_type=scope_type,
            scope_value=value,
            tip_id=tip_id,
            created_by=_who(by),
        )
    except (groups.ScopeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"campaign {planned.campaign_id}: {planned.recipients} recipients")
    if in_quiet_hours(utcnow()):
        click.echo(f"quiet hours (21:00-08:00): queued until {_local(planned.not_before)}")
        return
    _drain_with_bar(env, rate, planned.campaign_id, "sending tips")


# --- alerts ------------------------------------------------------------------------


@click.group("alert")
def alert_cli() -> None:
    """Urgent alerts to the villages of a township or county."""


@alert_cli.command("send")
@click.option("--township", help="Every village of a township (name, or county/township).")
@click.option("--county", help="Every village of a county.")
@click.option("--group", help="One village group.")
@click.option("--text", required=True, help="What to tell the villagers (no links).")
@click.option(
    "--urgent/--not-urgent",
    default=True,
    show_default=True,
    help="Urgent alerts go at once, even at night; others wait out quiet hours.",
)
@click.option("--by", "by", help="Who sends it: logged with the alert (default: you).")
@click.option("--report", "report_id", type=ROW_ID, help="The police-queue report it is about.")
@click.option(
    "--rate",
    type=RATE,
    help=RATE_HELP,
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def alert_send(
    township: str | None,
    county: str | None,
    group: str | None,
    text: str,
    urgent: bool,
    by: str | None,
    report_id: int | None,
    rate: float | None,
    yes: bool,
) -> None:
    """Warn a township or county now, e.g. --text "今天有人冒充医保局在XX镇活动…".

    Shows who will get it and how it reads, asks for confirmation (unless --yes),
    logs it with who sent it, then sends with a progress bar."""
    env = Env()
    scope_type, value = _target(group, township, county)
    try:
        shown = alerts.preview(env.db, scope_type, value, text, urgent=urgent)
    except alerts.AlertError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"alert to {scope_type} {shown.scope_value}: {shown.villages} villages, "
        f"{shown.recipients} subscribers, {shown.segments} SMS each"
    )
    click.echo(f"reads: {shown.sample}")
    if shown.goes_at and not urgent and in_quiet_hours(utcnow()):
        click.echo(f"not urgent and in quiet hours: goes at {_local(shown.goes_at)}")
    if not yes and not click.confirm("send this alert?", default=False):
        raise click.ClickException("not sent")
    try:
        alert_id, planned = alerts.send(
            env.db,
            scope_type,
            value,
            text,
            confirm=shown.code,
            sent_by=_who(by),
            urgent=urgent,
            report_id=report_id,
        )
    except alerts.AlertError as exc:
        raise click.ClickException(str(exc)) from exc
    note = "" if planned.created else " (already sent today: not sent again)"
    click.echo(f"alert {alert_id} logged, campaign {planned.campaign_id}{note}")
    _drain_with_bar(env, rate, planned.campaign_id, "sending alert")


@alert_cli.command("list")
def alert_list() -> None:
    """The latest alerts and who sent them."""
    env = Env()
    for a in alerts.recent(env.db):
        click.echo(
            f"{a['id']:>3}  {_local(a['confirmed_at'])}  {a['scope_type']} {a['scope_value']}  "
            f"{a['recipients']} recipients  by {a['sent_by']}: {a['text']}"
        )


# --- outbox ------------------------------------------------------------------------


@click.group("outbox")
def outbox_cli() -> None:
    """The queue of tips and alerts to send."""


@outbox_cli.command("drain")
@click.option(
    "--rate",
    type=RATE,
    help=RATE_HELP,
)
@click.option("--campaign", "campaign_id", type=ROW_ID, help="Only this campaign.")
@click.option(
    "--recover",
    is_flag=True,
    help="First take back rows a crashed drainer left (only when no other drainer runs).",
)
def outbox_drain(rate: float | None, campaign_id: int | None, recover: bool) -> None:
    """Send everything due now, paced, with a progress bar; routine messages wait out
    quiet hours. Safe to interrupt and run again: nobody gets a message twice."""
    env = Env()
    if recover:
        sender = env.sender()
        released, in_doubt = outbox.recover(
            env.db,
            resend_in_doubt=outbox.idempotent_channels(sender),
            stale_after=0,
        )
        click.echo(f"recovered: {released} claimed rows released, {in_doubt} in doubt")
    _drain_with_bar(env, rate, campaign_id, "sending")


@outbox_cli.command("status")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 10000))
def outbox_status(limit: int) -> None:
    """Sent / delivered / failed / undeliverable per campaign, then the notices
    (report_update: reporters told their report was closed; scam_verdict: villagers
    told a police verdict; late_answer: answers that missed WeChat's passive reply;
    reply: answers to an SMS through Aliyun or Tencent) per kind.

    undeliv: WeChat followers outside their 48-hour window who gave no phone number;
    wx: sent by WeChat; wx>sms: WeChat refused, sent (or queued) by SMS instead."""
    env = Env()
    click.echo(
        f"{'id':>4} {'kind':<5} {'target':<24} {'created (Beijing)':<17} "
        f"{'to':>6} {'queued':>6} {'sent':>6} {'deliv':>6} {'failed':>6} {'undeliv':>7} "
        f"{'skip':>5} {'wx':>5} {'wx>sms':>6}"
    )
    for c in outbox.overview(env.db, limit):
        target = f"{c['scope_type']} {c['scope_value']}"[:24]
        click.echo(
            f"{c['id']:>4} {c['kind']:<5} {target:<24} {_local(c['created_at']):<17} "
            f"{c['recipients']:>6} {c['queued'] or 0:>6} {c['sent'] or 0:>6} "
            f"{c['delivered'] or 0:>6} {c['failed'] or 0:>6} {c['undeliverable'] or 0:>7} "
            f"{c['skipped'] or 0:>5} {c['wechat'] or 0:>5} {c['via_sms'] or 0:>6}"
        )
    for n in outbox.notice_counts(env.db):
        click.echo(
            f"{'-':>4} {n['kind']:<30} {'':<17} "
            f"{n['total']:>6} {n['queued'] or 0:>6} {n['sent'] or 0:>6} "
            f"{n['delivered'] or 0:>6} {n['failed'] or 0:>6} {n['undeliverable'] or 0:>7} "
            f"{n['skipped'] or 0:>5} {n['wechat'] or 0:>5} {n['via_sms'] or 0:>6}"
        )


COMMANDS = (groups_cli, tips_cli, alert_cli, outbox_cli)
