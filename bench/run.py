"""`make bench`: run the benchmarks and print their figures (Markdown).

Copy the output into docs/benchmarks.md when the figures change.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import answer_bench  # noqa: E402
import outbox_bench  # noqa: E402

if __name__ == "__main__":
    answer_bench.main([])
    print()
    outbox_bench.main(sys.argv[1:])
