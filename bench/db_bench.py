"""What the database costs per answered SMS, with the storage settings of before and now.

    .venv/bin/python bench/db_bench.py [--messages 400]

Sends held-out texts through ``POST /sms/twilio`` of the real app (Flask test client,
keyword parser, so no NLU) four ways: a connection opened and closed per request or kept
per thread (storage/db.py now), and ``PRAGMA synchronous`` FULL (fsync per commit) or
NORMAL (now). "Before" is simulated by patching storage.db in this process only.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("request+FULL", "request+NORMAL", "kept+FULL", "kept+NORMAL")


def measure(mode: str, messages: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per message in this process, storage set up as ``mode``."""
    os.environ.setdefault("HOTLINE_HASH_KEY", base64.urlsafe_b64encode(b"h" * 32).decode())
    os.environ.setdefault("HOTLINE_ENCRYPTION_KEY", base64.urlsafe_b64encode(b"e" * 32).decode())
    import storage.db as sdb

    conn_mode, sync = mode.split("+")
    original_connect = sdb.connect
    original_get_db, original_close_db = sdb.get_db, sdb.close_db

    def connect(path, **kwargs):
        db = original_connect(path, **kwargs)
        db.conn.execute(f"PRAGMA synchronous = {sync}")
        return db

    sdb.connect = connect
    if conn_mode == "request":  # the old get_db / close_db

        def get_db():
            from flask import current_app, g

            if "db" not in g:
                g.db = connect(current_app.config["HOTLINE_DB"], migrate_schema=False)
            return g.db

        def close_db(_exc=None):
            from flask import g

            db = g.pop("db", None)
            if db is not None:
                db.conn.close()

        sdb.get_db, sdb.close_db = get_db, close_db
    import bot.app
    from bench.twilio_webhooks import PUBLIC_URL, TOKEN, in_process_sender
    from nlu import evaluate
    from nlu.keywords import KeywordParser

    app = bot.app.create_app(
        {
            "HOTLINE_VAR": tempfile.mkdtemp(prefix="hotline-db-bench-"),
            "HOTLINE_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_AUTH_TOKEN": TOKEN,
        },
        parser=KeywordParser(),
    )
    if conn_mode == "request":  # every module that imported them by name
        for module in list(sys.modules.values()):
            if getattr(module, "get_db", None) is original_get_db:
                module.get_db = sdb.get_db
        app.teardown_appcontext_funcs[:] = [
            sdb.close_db if f is original_close_db else f for f in app.teardown_appcontext_funcs
        ]
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    send = in_process_sender(app.test_client(), "db", texts)

    for i in range(30):
        send(1_000_000 + i)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(messages):
        send(i)
    return (
        1000 * (time.perf_counter() - wall) / messages,
        1000 * (time.process_time() - cpu) / messages,
    )


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--messages", type=int, default=400)
    args.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    opts = args.parse_args(argv)
    if opts.mode:
        wall, cpu = measure(opts.mode, opts.messages)
        print(f"{wall:.2f} {cpu:.2f}")
        return
    print("| connection, synchronous | wall / message | CPU / message |")
    print("|---|---|---|")
    for mode in MODES:  # each in a fresh process: the patches must not leak
        out = subprocess.run(
            [sys.executable, __file__, "--mode", mode, "--messages", str(opts.messages)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(f"| {mode.replace('+', ', ')} | {out[-2]} ms | {out[-1]} ms |")


if __name__ == "__main__":
    main(sys.argv[1:])
