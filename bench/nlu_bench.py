"""Raw NLU speed: the loaded model alone, the ceiling for the whole hotline.

    .venv/bin/python bench/nlu_bench.py [--seconds 15] [--models models] [--all-cores]

Run alone it pins itself to one core (the issue's target is p50 ≤ 3 ms on one core).

Loads the trained model once (as the server does), then parses the held-out texts
(nlu/tests/heldout/) over and over for ``--seconds``, one at a time, two ways:

- model alone: Rasa's NLU graph called directly (what ``parse_message`` runs, without
  its async wrapper, our lock or our ``Parse``) — what the model can do at most;
- through ``RasaParser.parse``, the way a request handler calls it (the NLU graph run
  on the calling thread, behind the parser's lock).

Prints Markdown; ``run()`` returns the figures for bench/run.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu import evaluate  # noqa: E402
from nlu.parser import RasaParser, find_model  # noqa: E402
from nlu.training import MODELS  # noqa: E402


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max of a list of milliseconds (nearest rank)."""
    values = sorted(latencies_ms)
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": 0.0}

    def rank(p: float) -> float:
        return values[min(len(values) - 1, int(p / 100 * len(values)))]

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": values[-1]}


def _summary(latencies_ms: list[float], elapsed: float) -> dict[str, Any]:
    return {
        "parses": len(latencies_ms),
        "per_s": len(latencies_ms) / elapsed,
        **percentiles(latencies_ms),
    }


def _model_loop(agent: Any, texts: list[str], seconds: float) -> tuple[list[float], float]:
    """Rasa's NLU graph called directly, nothing around it: the ceiling."""
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor
    latencies = []
    started = time.perf_counter()
    deadline = started + seconds
    i = 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        message = UserMessage(texts[i % len(texts)])
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
        processor._parse_message_with_graph(message, tracker, True)
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    return latencies, time.perf_counter() - started


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(seconds: float = 15.0, models: Path = MODELS) -> dict[str, Any]:
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # jieba and Rasa chatter while loading
        parser = RasaParser(find_model(models))
    # The way the server runs it: the jurisdiction table's places handed in.
    parser.set_places([f"测试{i}村" for i in range(300)], [f"测试{i}镇" for i in range(30)])
    load_s = time.perf_counter() - started
    for text in texts[:20]:  # warm-up: first parses build TensorFlow functions
        parser.parse(text)

    cpu = time.process_time()
    alone = _summary(*_model_loop(parser._agent, texts, seconds))
    # CPU of the whole process per parse: above the wall time if TensorFlow uses 2 cores.
    alone["cpu_ms"] = 1000 * (time.process_time() - cpu) / max(alone["parses"], 1)

    latencies = []
    t_start = time.perf_counter()
    deadline = t_start + seconds
    i = 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        parser.parse(texts[i % len(texts)])
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    handoff = _summary(latencies, time.perf_counter() - t_start)
    return {
        "rss_mb": rss_mb(),
        "model": str(find_model(models).relative_to(ROOT)) if models == MODELS else str(models),
        "texts": len(texts),
        "seconds": seconds,
        "load_s": load_s,
        "alone": alone,
        "handoff": handoff,
    }


def markdown(result: dict[str, Any]) -> str:
    a, h = result["alone"], result["handoff"]
    lines = [
        "| NLU, single-threaded | parses/s | p50 | p95 | p99 |",
        "|---|---|---|---|---|",
        f"| model alone (Rasa's NLU graph, called directly) | **{a['per_s']:.1f}** | "
        f"{a['p50']:.1f} ms | {a['p95']:.1f} ms | {a['p99']:.1f} ms |",
        f"| `RasaParser.parse` (what a request handler calls) | {h['per_s']:.1f} | "
        f"{h['p50']:.1f} ms | {h['p95']:.1f} ms | {h['p99']:.1f} ms |",
        "",
        f"{result['texts']} held-out texts cycled for {result['seconds']:g} s each way; "
        f"model load {result['load_s']:.1f} s; CPU time per parse (model alone, all "
        f"threads) {a['cpu_ms']:.1f} ms; resident memory after the run "
        f"{result['rss_mb']:.0f} MB.",
        "",
        "Targets (issue 12): `RasaParser.parse` p50 ≤ 3 ms on one core, load ≤ 10 s, "
        f"RSS ≤ 700 MB: p50 {'met' if h['p50'] <= 3 else 'MISSED'}, load "
        f"{'met' if result['load_s'] <= 10 else 'MISSED'}, RSS "
        f"{'met' if result['rss_mb'] <= 700 else 'MISSED'}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--seconds", type=float, default=15.0)
    args.add_argument("--models", type=Path, default=MODELS)
    args.add_argument("--all-cores", action="store_true", help="do not pin the process to one core")
    opts = args.parse_args(argv)
    if not opts.all_cores:  # the target is per core: one parse never uses two
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(markdown(run(opts.seconds, opts.models)))


if __name__ == "__main__":
    main(sys.argv[1:])
