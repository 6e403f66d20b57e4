"""CPU of one answered SMS outside the NLU: signed Twilio webhooks through the real app
in-process (Flask test client, keyword parser), timed with the process clock.

    .venv/bin/python bench/answer_cpu.py [--messages 1000]

The keyword parser stands in for the model, so the figure is what the hotline itself
costs per message (plus the test client building each request, and the keyword match).
CPU time, not wall time: a busy machine changes it far less than it changes latency.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.twilio_webhooks import bench_app, in_process_sender  # noqa: E402
from nlu import evaluate  # noqa: E402


def measure(messages: int = 1000, database_url: str | None = None) -> float:
    """Milliseconds of CPU per answered SMS; ``database_url``: HOTLINE_DATABASE_URL
    (None: SQLite in a temporary var/)."""
    os.environ.setdefault("HOTLINE_HASH_KEY", base64.urlsafe_b64encode(b"h" * 32).decode())
    os.environ.setdefault("HOTLINE_ENCRYPTION_KEY", base64.urlsafe_b64encode(b"e" * 32).decode())
    from nlu.keywords import KeywordParser

    app = bench_app("cpu", KeywordParser(), database_url)
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    send = in_process_sender(app.test_client(), "cpu", texts)
    for i in range(300):  # warm-up: lazy imports (scikit-learn for pasted messages)
        send(10_000_000 + i)
    started = time.process_time()
    for i in range(messages):
        send(i)
    return 1000 * (time.process_time() - started) / messages


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--messages", type=int, default=1000)
    args.add_argument("--database-url", help="HOTLINE_DATABASE_URL (default: SQLite)")
    opts = args.parse_args(argv)
    per = measure(opts.messages, opts.database_url)
    print(f"{opts.messages} answered SMS: {per:.2f} ms CPU each (keyword parser, in-process)")


if __name__ == "__main__":
    main(sys.argv[1:])
