"""OCR and verdict accuracy on the rendered corpus (bench/ocr_corpus.py), OCR time per
photo on one core, and memory with OCR loaded; the figures go into docs/scamcheck.md.

    nice -n 10 .venv/bin/python bench/ocr_bench.py           # full corpus, rewrites the doc
    nice -n 10 .venv/bin/python bench/ocr_bench.py --quick   # 20 pictures, prints only

Only the block between ``bench:begin`` / ``bench:end`` in docs/scamcheck.md is rewritten.
Needs a Chinese font: ``apt-get install fonts-wqy-microhei``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import sys
import time
import unicodedata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import ocr_corpus  # noqa: E402

from scamcheck import ocr  # noqa: E402
from scamcheck.signals import judge  # noqa: E402

DOC = ROOT / "docs" / "scamcheck.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
MIN_VERDICT_ACCURACY = 0.9


def _chars(text: str) -> str:
    """What character accuracy compares: NFKC, no whitespace (layout, not reading)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(truth: str, read: str) -> float:
    t, r = _chars(truth), _chars(read)
    return max(0.0, 1 - edit_distance(t, r) / max(len(t), 1))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(quick: bool = False) -> dict[str, object]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as targeted
    rss_before = _rss_mb()
    start = time.perf_counter()
    ocr.engine()
    load_s = time.perf_counter() - start
    rss_loaded = _rss_mb()
    corpus = ocr_corpus.samples()
    if quick:
        corpus = corpus[::4][:20]
    times, accuracies, rows = [], [], []
    right = official_for_scam = 0
    for sample in corpus:
        reading = ocr.read_now(sample.image)
        times.append(reading.seconds)
        accuracies.append(char_accuracy(sample.drawn, reading.text))
        verdict = judge(reading.text, recipient_tail=sample.truth.recipient_tail).verdict
        right += verdict == sample.truth.verdict
        official_for_scam += sample.truth.verdict == "scam" and verdict == "official"
        if verdict != sample.truth.verdict:
            rows.append(f"{sample.name}: expected {sample.truth.verdict}, got {verdict}")
    pasted = [
        judge(t.text, recipient_tail=t.recipient_tail).verdict == t.verdict
        for t in ocr_corpus.TEXTS
    ]
    times.sort()
    return {
        "pictures": len(corpus),
        "texts": len(ocr_corpus.TEXTS),
        "char_accuracy": statistics.mean(accuracies),
        "char_accuracy_min": min(accuracies),
        "verdict_accuracy": right / len(corpus),
        "pasted_accuracy": sum(pasted) / len(pasted),
        "official_for_scam": official_for_scam,
        "p50_s": statistics.median(times),
        "p90_s": times[int(len(times) * 0.9) - 1],
        "load_s": load_s,
        "rss_before_mb": rss_before,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "misses": rows,
    }


def render(r: dict[str, object]) -> str:
    misses = "\n".join(f"  - {m}" for m in r["misses"]) or "  - none"  # type: ignore[union-attr]
    return (
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one core, "
        f"`nice -n 10 .venv/bin/python bench/ocr_bench.py`.\n\n"
        "| measure | value |\n|---|---|\n"
        f"| pictures (rendered, {r['texts']} texts x layouts/distortions) | {r['pictures']} |\n"
        f"| OCR character accuracy, mean (min) | {r['char_accuracy']:.3f}"
        f" ({r['char_accuracy_min']:.3f}) |\n"
        f"| verdict accuracy on pictures (OCR → judge) | {r['verdict_accuracy']:.3f} |\n"
        f"| verdict accuracy on the same texts pasted | {r['pasted_accuracy']:.3f} |\n"
        f'| "official" verdicts for a scam | {r["official_for_scam"]} |\n'
        f"| OCR time per photo p50 / p90 | {r['p50_s']:.2f} s / {r['p90_s']:.2f} s |\n"
        f"| engine load | {r['load_s']:.2f} s |\n"
        f"| RSS before / with OCR loaded / peak | {r['rss_before_mb']:.0f} /"
        f" {r['rss_loaded_mb']:.0f} / {r['peak_rss_mb']:.0f} MB |\n\n"
        f"Pictures judged differently from a person:\n{misses}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 pictures, print only")
    args = parser.parse_args()
    result = run(args.quick)
    block = render(result)
    print(block)
    if not args.quick:
        doc = DOC.read_text(encoding="utf-8")
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOC.write_text(f"{head}{BEGIN}\n{block}{END}{tail}", encoding="utf-8")
    ok = result["verdict_accuracy"] >= MIN_VERDICT_ACCURACY and result["official_for_scam"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
