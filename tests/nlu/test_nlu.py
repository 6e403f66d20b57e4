"""The NLU model: held-out accuracy and harms, the data's shape, `hotline nlu-parse`,
training, our intent component."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from nlu import comparison, evaluate
from nlu.normalise import normalise
from nlu.training import DATA, is_stale, model_path
from nlu.types import INTENTS

MIN_TRAINING_EXAMPLES = 100
MIN_HELDOUT_EXAMPLES = 30


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
    # The model sees normalised text: the same message in another script or width is
    # the same message.
    seen = {normalise(t).casefold() for t in training}
    assert not [t for t, _ in heldout if normalise(t).casefold() in seen]


def test_heldout_accuracy_recall_and_harms(rasa_parser):
    result = evaluate.evaluate_heldout(rasa_parser)
    report = evaluate.heldout_markdown(result, "pytest")
    assert result.accuracy >= 0.95, report
    recall = {i: c["correct"] / c["total"] for i, c in result.per_intent.items()}
    # Issue 12's target: no intent's held-out recall below 0.90 (out_of_scope, the
    # lowest, measures 0.92; docs/nlu-evaluation.md).
    assert min(recall.values()) >= 0.90, recall
    # Harm as the conversation applies nlu/signals.py (victim words get first aid, a
    # subscription parse that also says the opposite is asked about): none.
    misses = [(t, e, p) for t, e, p, _c in result.misses]
    outcomes = comparison.Scores(
        [(e, p) for _t, e, p in misses], texts=[t for t, _e, _p in misses]
    ).outcomes()
    assert outcomes["victim_without_first_aid"] == 0, report
    assert outcomes["subscription_flip"] == 0, report


def test_rule_entities_on_the_annotated_held_out_examples(rasa_parser):
    scores = evaluate.entity_scores(rasa_parser)
    recall = {k: c["tp"] / (c["tp"] + c["fn"]) for k, c in scores.items() if c["tp"] + c["fn"]}
    # Numbers in every written form and links are found (measured 1.00); organisations
    # and times too. Villages outside the gazetteer are not (0.33 without the
    # jurisdiction table): the floor only catches regressions.
    assert recall["phone_number"] >= 0.95 and recall["url"] >= 0.95, scores
    assert recall["organization"] >= 0.9 and recall["time"] >= 0.85, scores
    assert recall["village"] >= 0.3, scores


def test_the_intent_component_is_ours_with_c_chosen_by_cross_validation(rasa_parser):
    from nlu import textclf

    component = rasa_parser.component("TfidfIntentClassifier")
    assert component is not None and component.model is not None
    assert textclf.chosen_c(component.model) in textclf.C_GRID
    assert set(component.model.classes_) == set(INTENTS)


def test_traditional_and_full_width_parse_like_simplified(rasa_parser):
    pairs = [
        (
            "村里来了一伙人说是医保局的 要我的验证码 是真的吗",
            "村裡來了一夥人說是醫保局的 要我的驗證碼 是真的嗎",
        ),
        ("不想收了 别再发了", "不想收了 別再發了！！！"),
    ]
    for simplified, written in pairs:
        a, b = rasa_parser.parse(simplified), rasa_parser.parse(written)
        assert a.intent == b.intent
        assert b.text == normalise(written)


def test_entities_are_found_without_overlaps(rasa_parser):
    parse = rasa_parser.parse("石桥村来了几个人 用13812345678打电话 说是医保局的")
    found = [(e.entity, e.value) for e in parse.entities]
    assert ("phone_number", "13812345678") in found
    assert ("village", "石桥村") in found
    spans = sorted((e.start, e.end) for e in parse.entities)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    org = rasa_parser.parse("他们说是县医保局的 电话138 1234 5678").entities
    assert ("organization", "县医保局") in [(e.entity, e.value) for e in org]
    assert ("phone_number", "13812345678") in [(e.entity, e.value) for e in org]
    rasa_parser.set_places(["枫树坪村"], ["青石镇"])
    placed = rasa_parser.parse("青石镇枫树坪村来了三个人").entities
    assert {("township", "青石镇"), ("village", "枫树坪村")} <= {
        (e.entity, e.value) for e in placed
    }


@pytest.mark.parametrize(
    ("expected", "predicted", "harm"),
    [
        ("already_victim", "nlu_fallback", "victim_without_first_aid"),
        ("already_victim", "report_qr_code", "victim_without_first_aid"),
        ("subscribe", "unsubscribe", "subscription_flip"),
        ("unsubscribe", "subscribe", "subscription_flip"),
        ("greet", "report_suspicious_visit", "unmeant_report"),
        ("out_of_scope", "unsubscribe", "unmeant_subscription_change"),
        ("greet", "help", "confident_wrong"),
        ("greet", "nlu_fallback", "fallback"),
        ("greet", "greet", None),
    ],
)
def test_harmful_outcomes(expected, predicted, harm):
    assert comparison.outcome(expected, predicted) == harm


def test_threshold_choice_trades_fallbacks_against_harm():
    # A victim at low confidence read as a QR-code report: falling back is cheaper
    # than a confident wrong answer only when the cost table says so; here the
    # victim is lost either way, the greeting's wrong answer costs 2, a fallback 1.
    expected = ["greet", "greet", "help"]
    ranked = [("greet", 0.9, 0.05), ("help", 0.3, 0.2), ("help", 0.8, 0.1)]
    threshold, cost, _ = comparison.choose_threshold(expected, ranked)
    assert 0.3 < threshold <= 0.8 and cost == 1.0


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
