"""The ``hotline`` command line. Each command's help text is its documentation."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nlu.training import MODELS, ROOT

if TYPE_CHECKING:
    from flask import Flask


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
def cli(verbose: bool) -> None:
    """Village anti-fraud hotline: SMS / WeChat bot, police report queue, tips."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@click.option("--force", is_flag=True, help="Train even if the model is up to date.")
def train(force: bool) -> None:
    """Train the Rasa NLU model into models/ (no-op when newer than its data and config).

    Includes the examples supervisors reviewed, $HOTLINE_VAR/nlu-reviewed/ (written by
    `hotline nlu export-reviewed`), when there are any."""
    from dotenv import load_dotenv

    from nlu.training import train as run_training

    load_dotenv(ROOT / ".env")  # HOTLINE_VAR as the app and `hotline nlu` read it
    path, trained = run_training(force=force)
    click.echo(f"{'trained' if trained else 'up to date'}: {path.relative_to(ROOT)}")


@cli.command("nlu-parse")
@click.option(
    "--models",
    type=click.Path(path_type=Path),
    default=MODELS,
    show_default=True,
    help="Folder with the trained model.",
)
def nlu_parse(models: Path) -> None:
    """Parse messages from stdin, one per line, into JSON lines on stdout.

    Each output line is {"text", "intent", "confidence", "entities": [{"entity",
    "value", "start", "end"}]}. Fails when no trained model can be loaded (it never
    falls back to keywords, which would make measurements lie).
    """
    from nlu.parser import ModelMissing, load_parser

    # Rasa and TensorFlow print while loading: keep stdout for our JSON alone.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            parser = load_parser(models, allow_fallback=False)
        except ModelMissing as exc:
            raise click.ClickException(str(exc)) from exc
    for line in sys.stdin:
        text = line.rstrip("\n")
        with contextlib.redirect_stdout(sys.stderr):
            parse = parser.parse(text)
        sys.stdout.write(json.dumps(parse.to_dict(), ensure_ascii=False) + "\n")
        sys.stdout.flush()


@cli.command("nlu-evaluate")
@click.option(
    "--cross-validation",
    "cv",
    is_flag=True,
    help="Also compare with the baselines: 5-fold cross-validation of the product's "
    "model and of each baseline, per-voice accuracy, harmful outcomes, the fallback "
    "threshold that minimises their cost, held-out/training overlap (minutes).",
)
@click.option("--folds", default=5, show_default=True, type=click.IntRange(min=2))
def nlu_evaluate(cv: bool, folds: int) -> None:
    """Measure the model on nlu/tests/heldout/; write docs/nlu-heldout.md (and, with
    --cross-validation, the side-by-side comparison to docs/nlu-cross-validation.md)."""
    from nlu import comparison, evaluate
    from nlu.parser import load_parser
    from nlu.training import DATA

    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    parser = load_parser(MODELS, allow_fallback=False)
    result = evaluate.evaluate_heldout(parser)
    (docs / "nlu-heldout.md").write_text(
        evaluate.heldout_markdown(result, "hotline nlu-evaluate", evaluate.entity_scores(parser)),
        encoding="utf-8",
    )
    click.echo(f"held-out accuracy: {result.accuracy:.1%} ({result.correct}/{result.total})")
    if not cv:
        return
    heldout = evaluate.load_voiced(evaluate.HELDOUT)
    product = comparison.Scores(
        [(intent, parser.parse(text).intent) for text, intent, _ in heldout],
        [voice for _, _, voice in heldout],
        [text for text, _, _ in heldout],
    )
    from nlu import textclf

    component = parser.component("TfidfIntentClassifier")  # type: ignore[attr-defined]
    if component is None or component.model is None:
        raise click.ClickException("the trained model has no TfidfIntentClassifier")
    markdown = comparison.report(
        evaluate.load_examples(DATA),
        heldout,
        product,
        textclf.chosen_c(component.model),
        evaluate.configured_threshold(),
        folds=folds,
        progress=lambda m: click.echo(m, err=True),
    )
    (docs / "nlu-cross-validation.md").write_text(
        "# NLU: the product and the baselines side by side\n\n"
        "Made by `make nlu-report` (`hotline nlu-evaluate --cross-validation`).\n\n" + markdown,
        encoding="utf-8",
    )
    click.echo(markdown)
    click.echo("wrote docs/nlu-heldout.md and docs/nlu-cross-validation.md")


@cli.command()
def settings() -> None:
    """Print every configuration variable, its default and meaning (Markdown)."""
    from settings import settings_table

    click.echo(settings_table())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="waitress threads per worker",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="worker processes sharing the port  [default: the number of cores]",
)
@click.option(
    "--preload/--no-preload",
    default=True,
    show_default=True,
    help="load the NLU model once before forking the workers (shared memory); "
    "--no-preload: each worker loads its own, answering from keywords meanwhile",
)
def serve(host: str, port: int, threads: int, workers: int | None, preload: bool) -> None:
    """Serve the hotline with a production WSGI server (waitress), in worker processes
    (bot/prefork.py)."""
    from bot import prefork
    from bot.channels import source_ip
    from settings import load_config

    config = load_config()
    try:  # behind a reverse proxy: waitress puts the client in REMOTE_ADDR
        proxy_options = source_ip.server_options(config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    count = workers or prefork.default_workers()

    def build_app(preloaded: bool) -> Flask:
        from bot.app import create_app
        from nlu.parser import BackgroundParser, load_parser

        if preloaded:  # loaded now, before any fork (no loading thread may be running)
            app = create_app(parser=load_parser(config["HOTLINE_MODEL_DIR"]))
            # One parse: what loads lazily (jieba's dictionary) is loaded here, once, and
            # shared with the workers, not loaded by each on its first message.
            app.extensions["hotline_parser"].parse("你好")
            return app
        # Serving starts at once; answers use the keyword fallback until the model is in.
        return create_app(parser=BackgroundParser(config["HOTLINE_MODEL_DIR"]))

    def setup() -> None:
        # Once, before the workers: each worker's app factory then finds the schema
        # migrated and the key file written (two racing would crash on each other).
        from storage.db import connect
        from storage.privacy import load_vault

        connect(config["HOTLINE_DB"]).conn.close()
        load_vault(config["HOTLINE_VAR"] / "keys.json")

    def start_scheduler(app: Flask) -> Any:
        from bot.periodic import start_with_app

        # Every domain's periodic work: in one process only (worker 0).
        return start_with_app(app)

    def warm_up() -> None:
        from scamcheck import ocr

        ocr.warm_up()  # the photo reader loads in the background, not on the first photo

    def announce(app: Flask) -> None:
        nlu = app.extensions["hotline_parser"].name
        loading = " (NLU model loading; /healthz tells when in)" if not preload else ""
        click.echo(f"hotline on http://{host}:{port}/  {count} worker(s), NLU {nlu}{loading}")
        if app.config.get("SMS_PROVIDER") == "console":
            click.echo(
                "console SMS: POST /sms/console with X-Console-Token: "
                + app.config["SMS_CONSOLE_TOKEN"]
            )
        if proxy_options:
            peer = proxy_options["trusted_proxy"]
            click.echo(
                f"client addresses from X-Forwarded-For ({proxy_options['trusted_proxy_count']}"
                f" proxies) on connections from {'any address' if peer == '*' else peer}"
            )

    try:
        code = prefork.serve(
            host=host,
            port=port,
            threads=threads,
            workers=count,
            preload=preload,
            build_app=build_app,
            setup=setup,
            start_scheduler=start_scheduler,
            warm_up=warm_up,
            server_options=proxy_options,
            announce=announce,
        )
    except OSError as exc:  # the port is taken, the address is not ours
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    raise SystemExit(code)


@cli.command()
@click.option(
    "--sender",
    default="terminal",
    show_default=True,
    help="Who you are to the bot (a phone number tries the SMS path).",
)
def chat(sender: str) -> None:
    """Chat with the bot in the terminal. Ctrl-D or Ctrl-C ends."""
    from bot.app import create_app
    from bot.channels import deliver
    from bot.messages import InboundMessage

    app = create_app()
    click.echo("村村反诈热线 — type a message (Ctrl-D to quit)", err=True)
    with app.app_context():
        while True:
            try:
                text = input("> ")
            except (EOFError, KeyboardInterrupt):
                click.echo("", err=True)
                return
            for reply in deliver(InboundMessage("sms", sender, text)):
                click.echo(f"< {reply}")


from reporting import cli as reporting_cli  # noqa: E402

for _command in reporting_cli.COMMANDS:
    cli.add_command(_command)

from outreach import cli as outreach_cli  # noqa: E402

cli.add_command(outreach_cli.groups_cli)
cli.add_command(outreach_cli.tips_cli)
cli.add_command(outreach_cli.alert_cli)
cli.add_command(outreach_cli.outbox_cli)


@cli.command("scheduler")
def scheduler_cli() -> None:
    """Run every domain's periodic work alone, in the foreground: the outbox drain, tip
    schedules, the daily purges.

    `hotline serve` already runs them inside the web server: use this only when the
    web server runs elsewhere. It waits while another process leads (storage/leader.py)."""
    from bot.periodic import run_alone
    from settings import load_config
    from storage.db import connect
    from storage.privacy import load_vault

    config = load_config()
    connect(config["HOTLINE_DB"]).conn.close()  # migrated before any job runs
    vault = load_vault(config["HOTLINE_VAR"] / "keys.json")
    click.echo(f"scheduler on {config['HOTLINE_DB']} (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        run_alone(config, vault)


from registry.cli import registry_cli  # noqa: E402

cli.add_command(registry_cli)

from review.cli import nlu_cli  # noqa: E402

cli.add_command(nlu_cli)

from bot.db_cli import db_cli  # noqa: E402

cli.add_command(db_cli)
