"""Where the CPU of one answered SMS goes, by phase: signed Twilio webhooks through the
real app in-process (as bench/answer_cpu.py), each phase timed inclusively by the
process clock around the function that runs it.

    .venv/bin/python bench/answer_phases.py [--messages 1000] [--product]

cProfile charges its own cost to every Python call, so it inflates call-heavy code
(Werkzeug, the engine) against C work (SQLite); a few wrappers per message do not.
``--product`` loads the trained archive (nlu/archive.py) instead of the keyword parser,
to see the parse beside everything else. Phases nest: the indented ones are inside the
one above them.
"""

from __future__ import annotations

import argparse
import base64
import collections
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.twilio_webhooks import bench_app, in_process_sender  # noqa: E402
from nlu import evaluate  # noqa: E402

_spent: collections.Counter[str] = collections.Counter()
_calls: collections.Counter[str] = collections.Counter()


def _wrap(owner: Any, attr: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, attr)
    clock = time.process_time_ns

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return original(*args, **kwargs)
        finally:
            _spent[label] += clock() - started
            _calls[label] += 1

    setattr(owner, attr, timed)


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--messages", type=int, default=1000)
    args.add_argument("--product", action="store_true", help="the trained archive")
    opts = args.parse_args(argv)
    os.environ.setdefault("HOTLINE_HASH_KEY", base64.urlsafe_b64encode(b"h" * 32).decode())
    os.environ.setdefault("HOTLINE_ENCRYPTION_KEY", base64.urlsafe_b64encode(b"e" * 32).decode())
    import flask.app
    import flask.ctx
    import flask.wrappers

    from bot import conversations, skills
    from bot.channels import gateway_webhooks, twilio_sms
    from bot.engine import Engine
    from scamcheck import seen
    from storage.buckets import DbBucketStore

    if opts.product:
        from nlu.parser import find_model, product_parser
        from nlu.training import MODELS

        parser: Any = product_parser(find_model(MODELS))
    else:
        from nlu.keywords import KeywordParser

        parser = KeywordParser()
    app = bench_app("phases", parser)
    phases = [
        (flask.app.Flask, "wsgi_app", "server: Flask's WSGI app (the rest is the test client)"),
        (flask.ctx.RequestContext, "push", "  request context in"),
        (flask.ctx.RequestContext, "pop", "  request context out"),
        (twilio_sms.TwilioSms, "authenticate", "  signature check"),
        (flask.wrappers.Request, "_load_form_data", "    form parsing (Werkzeug)"),
        (twilio_sms.TwilioSms, "ack", "  TwiML answer"),
        (gateway_webhooks, "deliver", "  the engine, with its two transactions"),
        (conversations.Store, "receive", "    claim, log, state read (transaction 1)"),
        (DbBucketStore, "take", "      flood bucket"),
        (Engine, "respond", "    the order of checks"),
        (type(parser), "parse", "      NLU parse"),
        (skills.PastedMessageSkill, "recognise", "      pasted-message check"),
        (seen, "record", "        seen-before count"),
        (Engine, "run", "      the intent's skill"),
        (conversations.Store, "finish", "    replies, state, review row (transaction 2)"),
    ]
    for owner, attr, label in phases:
        _wrap(owner, attr, label)
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    send = in_process_sender(app.test_client(), "phases", texts)
    for i in range(300):  # warm-up: lazy imports (scikit-learn for pasted messages)
        send(10_000_000 + i)
    _spent.clear()
    _calls.clear()
    started = time.process_time_ns()
    for i in range(opts.messages):
        send(i)
    total = time.process_time_ns() - started
    n = opts.messages
    print(f"{n} answered SMS, parser {parser.name}: {total / n / 1e6:.2f} ms CPU each\n")
    print("| phase | ms CPU per message | calls per message |\n|---|---|---|")
    for _owner, _attr, label in phases:
        name = label.strip()
        indent = "&nbsp;" * (len(label) - len(label.lstrip()))
        print(f"| {indent}{name} | {_spent[label] / n / 1e6:.3f} | {_calls[label] / n:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
