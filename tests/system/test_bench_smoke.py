"""bench/load_bench.py drives a real `hotline serve` and reports its figures (keyword
fallback, two seconds: a check that the benchmark works, not a timed test)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import load_bench  # noqa: E402


def test_load_bench_reports_every_figure(tmp_path):
    empty_models = tmp_path / "no-models"
    empty_models.mkdir()

    result = load_bench.run(seconds=1.0, senders=(1, 3), model_dir=empty_models)

    assert result["nlu"] == "keywords" and result["status"] == "degraded"
    assert 0 < result["first_answer_s"] <= result["model_loaded_s"]
    assert result["rss_loaded_mb"] > 0 and result["rss_end_mb"] > 0
    assert [level["senders"] for level in result["levels"]] == [1, 3]
    for level in result["levels"]:
        assert level["requests"] > 0
        assert level["errors"] == 0, level["error_samples"]
        assert level["p50"] <= level["p95"] <= level["p99"] <= level["max"]
        assert level["rps"] > 0 and level["server_cpu_s"] >= 0
    table = load_bench.markdown(result, raw_per_s=100.0)
    assert "| 3 |" in table and "resident memory" in table


def test_a_refused_signature_counts_as_an_error():
    # The bench must not report a server that refuses every webhook as fast.
    assert not load_bench.answered(403, "Forbidden")
    assert not load_bench.answered(200, "<?xml version='1.0'?><Response />")
    assert load_bench.answered(200, "<Response><Message>您好</Message></Response>")
