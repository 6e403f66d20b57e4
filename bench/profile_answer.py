"""Where the time of one answered SMS goes: cProfile over signed webhooks, in-process.

    .venv/bin/python bench/profile_answer.py [--messages 500] [--rasa] [--top 30]

Sends held-out texts through ``POST /sms/twilio`` of the real app (Flask test client, so
no waitress) with the keyword parser (default: isolates everything that is not NLU) or the
trained model (``--rasa``; its parse runs on the parser thread, which cProfile does not
see: the wait shows up as ``Future.result``). Prints the functions with the most
cumulative time, and a short breakdown by area.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.twilio_webhooks import bench_app, in_process_sender  # noqa: E402
from nlu import evaluate  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--messages", type=int, default=500)
    args.add_argument("--rasa", action="store_true", help="the trained model, not keywords")
    args.add_argument("--top", type=int, default=30)
    opts = args.parse_args(argv)

    os.environ.setdefault("HOTLINE_HASH_KEY", base64.urlsafe_b64encode(b"h" * 32).decode())
    os.environ.setdefault("HOTLINE_ENCRYPTION_KEY", base64.urlsafe_b64encode(b"e" * 32).decode())

    if opts.rasa:
        from nlu.parser import RasaParser, find_model
        from nlu.training import MODELS

        parser = RasaParser(find_model(MODELS))
    else:
        from nlu.keywords import KeywordParser

        parser = KeywordParser()
    app = bench_app("profile", parser)
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    send = in_process_sender(app.test_client(), "prof", texts)

    for i in range(300):  # warm-up (lazy imports: scikit-learn for pasted messages)
        send(10_000_000 + i)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for i in range(opts.messages):
        send(i)
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(
        f"{opts.messages} messages, parser {parser.name}: "
        f"{1000 * elapsed / opts.messages:.2f} ms per message under the profiler\n"
    )
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(opts.top)
        print(f"### by {order}\n{out.getvalue()}")


if __name__ == "__main__":
    main(sys.argv[1:])
