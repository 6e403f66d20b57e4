"""Issue 13's figure as `make bench` takes it, alone and quickly: the server CPU per
answered SMS through `hotline serve` (1 worker, product model, 1 sender) less the CPU
of one parse by the product parser in a process of its own (bench/nlu_bench.py).

    .venv/bin/python bench/serve_cpu.py [--runs 3] [--seconds 10]

Each run measures the parse, then the server, and prints both and what is left; the
last line is the median of the runs with the load average. CPU time (the process tree's
user + system ticks), so a busy machine moves it less than it moves latency; it still
moves it (cache and core sharing): compare runs made alternately at the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import load_bench  # noqa: E402
import nlu_bench  # noqa: E402

from nlu.training import MODELS  # noqa: E402


def run_once(seconds: float) -> dict[str, float]:
    load = os.getloadavg()[0]
    parse = nlu_bench.measure("archive", seconds, MODELS)["cpu_ms"]
    level = load_bench.run(seconds, (1,), workers=1)["levels"][0]
    server = level["server_cpu_ms_per_request"]
    return {"load": load, "parse": parse, "server": server, "rest": server - parse}


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--runs", type=int, default=3)
    args.add_argument("--seconds", type=float, default=10.0)
    opts = args.parse_args(argv)
    rests = []
    for i in range(opts.runs):
        r = run_once(opts.seconds)
        rests.append(r["rest"])
        print(
            f"run {i + 1}: load {r['load']:.1f}, parse {r['parse']:.2f} ms, server "
            f"{r['server']:.2f} ms per answered SMS, the rest {r['rest']:.2f} ms",
            flush=True,
        )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"median of {opts.runs}: {statistics.median(rests):.2f} ms outside the parse (load {load})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
