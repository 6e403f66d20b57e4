"""Raw NLU speed: the loaded model alone, the ceiling for the whole hotline.

    .venv/bin/python bench/nlu_bench.py [--seconds 15] [--models models] [--all-cores]

Run alone it pins itself to one core (the issue's target is p50 ≤ 3 ms on one core).

Loads the trained model once (as the server does), then parses the held-out texts
(nlu/tests/heldout/) over and over for ``--seconds``, one at a time, three ways, each
parser in a fresh process so that its memory is its own:

- the product: ``ArchiveParser.parse`` (nlu/archive.py reads the Rasa archive and runs
  its classifier and fallback without loading Rasa), what ``hotline serve`` runs;
- through ``RasaParser.parse``: the same archive loaded by Rasa's agent (TensorFlow and
  all of Rasa's default recipe imported), the graph run on the calling thread;
- Rasa's NLU graph called directly (what ``parse_message`` runs, without its async
  wrapper, our lock or our ``Parse``).

Prints Markdown; ``run()`` returns the figures for bench/run.py.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu import evaluate  # noqa: E402
from nlu.archive import ArchiveParser  # noqa: E402
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


def _model_loop(agent: Any, texts: list[str], seconds: float) -> dict[str, Any]:
    """Rasa's NLU graph called directly, nothing around it: the ceiling."""
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor

    def parse(text: str) -> None:
        message = UserMessage(text)
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
        processor._parse_message_with_graph(message, tracker, True)

    return _timed(parse, texts, seconds)


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(parse: Callable[[str], Any], texts: list[str], seconds: float) -> dict[str, Any]:
    """``parse`` over the texts, one at a time, for ``seconds``: throughput and latency."""
    latencies = []
    started = time.perf_counter()
    deadline = started + seconds
    i = 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        parse(texts[i % len(texts)])
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    return _summary(latencies, time.perf_counter() - started)


def measure(kind: str, seconds: float, models: Path) -> dict[str, Any]:
    """One parser in this process: ``archive`` (the product, nlu/archive.py) or ``rasa``
    (the same archive through Rasa's agent). Run each in its own process (``run``), so
    that resident memory is that parser's alone."""
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # jieba and Rasa chatter while loading
        parser = (
            ArchiveParser(find_model(models))
            if kind == "archive"
            else RasaParser(find_model(models))
        )
    # The way the server runs it: the jurisdiction table's places handed in.
    parser.set_places([f"测试{i}村" for i in range(300)], [f"测试{i}镇" for i in range(30)])
    load_s = time.perf_counter() - started
    for text in texts[:20]:  # warm-up: first parses load jieba's dictionary
        parser.parse(text)
    result: dict[str, Any] = {"kind": kind, "load_s": load_s, "texts": len(texts)}
    if kind == "rasa":
        result["alone"] = _model_loop(parser._agent, texts, seconds)
    cpu = time.process_time()
    result["parse"] = _timed(parser.parse, texts, seconds)
    # CPU of the whole process per parse: above the wall time if a library uses 2 cores.
    result["cpu_ms"] = 1000 * (time.process_time() - cpu) / max(result["parse"]["parses"], 1)
    result["rss_mb"] = rss_mb()
    return result


def run(seconds: float = 15.0, models: Path = MODELS) -> dict[str, Any]:
    """Both parsers, each in a fresh process (spawned: nothing of the other's imports)."""
    context = multiprocessing.get_context("spawn")
    results = {}
    for kind in ("archive", "rasa"):
        with context.Pool(1) as pool:
            results[kind] = pool.apply(measure, (kind, seconds, models))
    return {
        "model": str(find_model(models).relative_to(ROOT)) if models == MODELS else str(models),
        "seconds": seconds,
        **results,
    }


def _parallel_one(seconds: float, models: Path, ready: Any, results: Any) -> None:
    """One of ``parallel``'s processes: load, wait for the others, parse for ``seconds``."""
    os.environ["OMP_NUM_THREADS"] = "1"  # as a server worker runs (bot/prefork.py)
    texts = [text for text, _ in evaluate.load_examples(evaluate.HELDOUT)]
    with contextlib.redirect_stdout(sys.stderr):
        parser = ArchiveParser(find_model(models))
    parser.set_places([f"测试{i}村" for i in range(300)], [f"测试{i}镇" for i in range(30)])
    for text in texts[:20]:
        parser.parse(text)
    ready.wait()
    results.put(_timed(parser.parse, texts, seconds))


def parallel(processes: int, seconds: float = 10.0, models: Path = MODELS) -> dict[str, Any]:
    """The product parser in ``processes`` processes at once, each parsing one message at
    a time: the raw ceiling for ``hotline serve --workers <processes>``."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes)
    results = context.Queue()
    procs = [
        context.Process(target=_parallel_one, args=(seconds, models, ready, results))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    per = [results.get(timeout=seconds + 300) for _ in procs]
    for proc in procs:
        proc.join()
    return {
        "processes": processes,
        "seconds": seconds,
        "per_s": sum(r["per_s"] for r in per),
        "per_process": [r["per_s"] for r in per],
        "p50": max(r["p50"] for r in per),
        "p99": max(r["p99"] for r in per),
    }


def markdown(result: dict[str, Any]) -> str:
    a, r = result["archive"], result["rasa"]

    def row(name: str, s: dict[str, Any], load: str, rss: str) -> str:
        return (
            f"| {name} | {s['per_s']:.1f} | {s['p50']:.2f} ms | {s['p95']:.2f} ms | "
            f"{s['p99']:.2f} ms | {load} | {rss} |"
        )

    p = a["parse"]
    lines = [
        "| NLU, single-threaded | parses/s | p50 | p95 | p99 | model load | resident memory |",
        "|---|---|---|---|---|---|---|",
        row(
            "**product**: `ArchiveParser.parse` (nlu/archive.py, what the server runs)",
            p,
            f"{a['load_s']:.1f} s",
            f"{a['rss_mb']:.0f} MB",
        ),
        row(
            "the same archive through Rasa: `RasaParser.parse`",
            r["parse"],
            f"{r['load_s']:.1f} s",
            f"{r['rss_mb']:.0f} MB",
        ),
        row("Rasa's NLU graph alone (called directly, nothing around it)", r["alone"], "", ""),
        "",
        f"{a['texts']} held-out texts cycled for {result['seconds']:g} s each way, each "
        f"parser in its own process; CPU time per parse {a['cpu_ms']:.2f} ms (product), "
        f"{r['cpu_ms']:.2f} ms (through Rasa).",
        "",
        "Targets (issue 12), on the product parser: p50 ≤ 3 ms on one core, load ≤ 10 s, "
        f"RSS ≤ 700 MB: p50 {'met' if p['p50'] <= 3 else 'MISSED'}, load "
        f"{'met' if a['load_s'] <= 10 else 'MISSED'}, RSS "
        f"{'met' if a['rss_mb'] <= 700 else 'MISSED'}.",
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
