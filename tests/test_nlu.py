"""The NLU model: held-out accuracy, the data's shape, `hotline nlu-parse`, training."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from nlu import evaluate
from nlu.parser import INTENTS
from nlu.training import DATA, is_stale, model_path

MIN_TRAINING_EXAMPLES = 40
MIN_HELDOUT_EXAMPLES = 10


def test_training_data_covers_every_intent():
    counts = Counter(intent for _text, intent in evaluate.load_examples(DATA))
    assert set(counts) == set(INTENTS)
    thin = {i: n for i, n in counts.items() if n < MIN_TRAINING_EXAMPLES}
    assert not thin, thin


def test_heldout_is_separate_from_training():
    training = {text for text, _ in evaluate.load_examples(DATA)}
    heldout = evaluate.load_examples(evaluate.HELDOUT)
    counts = Counter(intent for _, intent in heldout)
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= MIN_HELDOUT_EXAMPLES
    assert not [text for text, _ in heldout if text in training]


def test_heldout_accuracy_at_least_90_percent(rasa_parser):
    result = evaluate.evaluate_heldout(rasa_parser)
    assert result.accuracy >= 0.90, evaluate.heldout_markdown(result, "pytest")


def test_entities_are_found_without_overlaps(rasa_parser):
    parse = rasa_parser.parse("石桥村来了几个人 用13812345678打电话 说是医保局的")
    found = [(e.entity, e.value) for e in parse.entities]
    assert ("phone_number", "13812345678") in found
    assert ("village", "石桥村") in found
    spans = sorted((e.start, e.end) for e in parse.entities)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    org = rasa_parser.parse("他们说是县医保局的 电话13812345678").entities
    assert ("organization", "县医保局") in [(e.entity, e.value) for e in org]


def hotline(*args, stdin="", env=None):
    return subprocess.run(
        [sys.executable, "-m", "bot.cli_main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.usefixtures("rasa_parser")
def test_nlu_parse_writes_one_json_object_per_line():
    result = hotline("nlu-parse", stdin="村里来了一伙人说是医保局的，是真的吗\n退订\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert set(first) == {"text", "intent", "confidence", "entities"}
    assert first["intent"] == "verify_team"
    assert json.loads(lines[1])["intent"] == "unsubscribe"


def test_nlu_parse_without_model_fails_clearly(tmp_path):
    result = hotline("nlu-parse", "--models", str(tmp_path), stdin="你好\n")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "hotline train" in result.stderr


def test_model_is_stale_when_its_inputs_change(tmp_path, monkeypatch):
    from nlu import training

    models, data = tmp_path / "models", tmp_path / "data"
    models.mkdir()
    data.mkdir()
    config = tmp_path / "config.yml"
    config.write_text("pipeline: []\n")
    (data / "nlu.yml").write_text("nlu: []\n")
    assert is_stale(models, config, data)  # no model yet

    def fake_rasa_training(models_dir, _config, _data):
        model_path(models_dir).write_bytes(b"model")
        return model_path(models_dir)

    monkeypatch.setattr(training, "_train", fake_rasa_training)
    assert training.train(models=models, config=config, data=data) == (model_path(models), True)
    assert not is_stale(models, config, data)
    assert training.train(models=models, config=config, data=data)[1] is False  # no-op
    (data / "nlu.yml").write_text("nlu: [changed]\n")
    assert is_stale(models, config, data)


def test_parser_works_from_threads_and_inside_a_running_loop(rasa_parser):
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    async def inside_loop():
        return rasa_parser.parse("退订")

    # In a thread of its own: the test session's main thread may already run a loop
    # (Playwright's), which is the very case parse() must survive too.
    results = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(inside_loop())))
    thread.start()
    thread.join(timeout=60)
    assert results and results[0].intent == "unsubscribe"
    with ThreadPoolExecutor(4) as pool:
        intents = list(pool.map(lambda t: rasa_parser.parse(t).intent, ["退订", "你好"] * 4))
    assert intents == ["unsubscribe", "greet"] * 4
