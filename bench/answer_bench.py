"""How fast the hotline answers, and what the loaded model costs in memory.

    .venv/bin/python bench/answer_bench.py [--messages 300]

Loads the trained model once (as the server does), then sends realistic messages through
the signed Twilio webhook of the real Flask app (database, dialogue, NLU, TwiML) and
reports latency percentiles per message and the process's resident memory. Target from
the issue: a villager gets the answer within a second.
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

from nlu import evaluate  # noqa: E402

TOKEN = "bench-token"  # noqa: S105 (a test credential)
PUBLIC_URL = "https://bench.example.org"


def rss_mb() -> float:
    """Current resident set size in MB (Linux), else the peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--messages", type=int, default=300)
    opts = args.parse_args(argv)

    os.environ.setdefault("HOTLINE_HASH_KEY", base64.urlsafe_b64encode(b"h" * 32).decode())
    os.environ.setdefault("HOTLINE_ENCRYPTION_KEY", base64.urlsafe_b64encode(b"e" * 32).decode())
    before = rss_mb()
    started = time.perf_counter()
    from bot.app import create_app

    app = create_app(
        {
            "HOTLINE_VAR": tempfile.mkdtemp(prefix="hotline-bench-"),
            "HOTLINE_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_AUTH_TOKEN": TOKEN,
        }
    )
    load_s = time.perf_counter() - started
    loaded = rss_mb()
    parser = app.extensions["hotline_parser"].name
    client = app.test_client()
    validator = RequestValidator(TOKEN)
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    latencies = []
    for i in range(opts.messages):
        params = {
            "MessageSid": f"SMbench{i:06d}",
            "From": f"+86138{i % 50:08d}",  # 50 villagers, conversations carry on
            "To": "+8610690000",
            "Body": texts[i % len(texts)],
        }
        signature = validator.compute_signature(PUBLIC_URL + "/sms/twilio", params)
        t0 = time.perf_counter()
        response = client.post(
            "/sms/twilio", data=params, headers={"X-Twilio-Signature": signature}
        )
        latencies.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    print("## Answering: latency and memory\n")
    print(
        f"NLU: {parser}; {opts.messages} messages from nlu/tests/heldout.yml through "
        "POST /sms/twilio (signature check, dialogue, database, TwiML), one at a time.\n"
    )
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| start-up (app + model load) | {load_s:.1f} s | |")
    print(f"| latency p50 | {pct(50):.1f} ms | |")
    print(f"| latency p95 | {pct(95):.1f} ms | < 1000 ms |")
    print(f"| latency max | {latencies[-1]:.1f} ms | |")
    print(f"| mean | {statistics.mean(latencies):.1f} ms | |")
    print(f"| resident memory before / after loading | {before:.0f} MB / {loaded:.0f} MB | |")
    print(f"| resident memory after {opts.messages} messages | {rss_mb():.0f} MB | |")


if __name__ == "__main__":
    main(sys.argv[1:])
