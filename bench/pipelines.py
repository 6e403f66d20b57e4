"""Compare NLU pipelines on the held-out set: accuracy, macro F1, per-intent F1, entity
P/R/F1, parse latency, model load time and train time.

    nice -n 10 .venv/bin/python bench/pipelines.py [--only NAME ...] [--out FILE]

Each variant is a full Rasa pipeline (see ``variants``), trained
into a temporary folder (never models/) with ``nlu.training.train`` — the code
``hotline train`` runs — and scored on nlu/tests/heldout/ (never trained on):
intents, and entity precision / recall over its annotated (entity, value) pairs.
Training costs minutes of CPU per DIET variant:
`make bench-pipelines` runs this, plain `make bench` does not.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu import evaluate  # noqa: E402
from nlu.entities import organisation_value, phone_value  # noqa: E402
from nlu.normalise import normalise  # noqa: E402
from nlu.parser import INTENTS, RasaParser  # noqa: E402
from nlu.training import CONFIG, DATA, train  # noqa: E402

JIEBA = {"name": "JiebaTokenizer", "dictionary_path": "nlu/dictionary"}
OURS = {"name": "nlu.components.tfidf_intent.TfidfIntentClassifier"}
DIET = {
    "name": "DIETClassifier",
    "epochs": 100,
    "number_of_transformer_layers": 1,
    "transformer_size": 128,
    "constrain_similarities": True,
    "random_seed": 42,
}
LOGREG = {"name": "LogisticRegressionClassifier", "max_iter": 1000, "random_state": 42}
CRF = {"name": "CRFEntityExtractor"}
# The pipeline before our component: jieba, regex features, word 1-3 and char_wb 1-3
# count vectors, then the classifier under test.
BEFORE = [
    JIEBA,
    {"name": "RegexFeaturizer", "use_word_boundaries": False},
    {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1, "max_ngram": 3},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3},
]


def variants(base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> full Rasa config. Every variant is parsed through RasaParser, so the
    rule entities (nlu/entities.py) are there for all: what differs is the classifier
    and whether a learned CRF adds entities where no rule matched."""
    fallback = [s for s in base["pipeline"] if s["name"] == "FallbackClassifier"]
    old_fallback = [{"name": "FallbackClassifier", "threshold": 0.4, "ambiguity_threshold": 0.1}]
    pipelines = {
        "product (config.yml)": base["pipeline"],
        "product + CRF entities": [JIEBA, OURS, CRF, *fallback],
        "Rasa LR + CRF (before)": [*BEFORE, LOGREG, CRF, *old_fallback],
        "DIET 1 layer x 128": [*BEFORE, DIET, *old_fallback],
    }
    return {
        name: {**copy.deepcopy(base), "pipeline": copy.deepcopy(steps)}
        for name, steps in pipelines.items()
    }


def entity_pairs() -> list[tuple[str, set[tuple[str, str]]]]:
    """(text, {(entity, value)}) for every held-out example, annotations included."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(evaluate.HELDOUT))
    return [
        (
            ex.get("text"),
            {canonical(e["entity"], str(e["value"])) for e in ex.get("entities") or []},
        )
        for ex in data.intent_examples
    ]


def canonical(entity: str, value: str) -> tuple[str, str]:
    """An annotated value in the form the parser gives it (normalised; a phone number
    as digits, an organisation under its canonical name)."""
    value = normalise(value)
    if entity == "phone_number":
        return entity, phone_value(value)
    if entity == "organization":
        return entity, organisation_value(value)
    return entity, value


def entity_scores(found: list[list[list[str]]], expected: list[list[list[str]]]) -> dict:
    """Micro precision / recall / F1 of (entity, value) pairs over the held-out set."""
    tp = fp = fn = 0
    for got, want in zip(found, expected, strict=True):
        got_set, want_set = {tuple(x) for x in got}, {tuple(x) for x in want}
        tp += len(got_set & want_set)
        fp += len(got_set - want_set)
        fn += len(want_set - got_set)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "expected": tp + fn}


def f1_table(pairs: list[tuple[str, str]]) -> tuple[dict[str, float], float]:
    """Per-intent F1 from (expected, predicted) pairs, and the macro average over the
    intents of the held-out set (nlu_fallback counts as a wrong prediction)."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for expected, predicted in pairs:
        if expected == predicted:
            tp[expected] += 1
        else:
            fn[expected] += 1
            fp[predicted] += 1
    f1 = {}
    for intent in sorted({e for e, _ in pairs}):
        denom = 2 * tp[intent] + fp[intent] + fn[intent]
        f1[intent] = 2 * tp[intent] / denom if denom else 0.0
    return f1, statistics.mean(f1.values())


def score(model: Path) -> dict[str, Any]:
    """Load ``model`` and parse the held-out set; run in a fresh process (``--score``) so
    each load time includes what a restarted server pays and models do not share memory."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        parser = RasaParser(model)
    load_s = time.perf_counter() - started
    examples = evaluate.load_examples(evaluate.HELDOUT)
    for text, _ in examples[:20]:  # first parses build TensorFlow functions; not counted
        parser.parse(text)
    pairs, latencies = [], []
    for text, expected in examples:
        t0 = time.perf_counter()
        parse = parser.parse(text)
        latencies.append((time.perf_counter() - t0) * 1000)
        pairs.append((expected, parse.intent))
    found, expected_entities = [], []
    for text, wanted in entity_pairs():
        found.append(sorted([e.entity, str(e.value)] for e in parser.parse(text).entities))
        expected_entities.append(sorted([list(w) for w in wanted]))
    return {
        "load_s": load_s,
        "pairs": pairs,
        "latencies": latencies,
        "entities": entity_scores(found, expected_entities),
    }


def measure(name: str, config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    folder = workdir / f"v{abs(hash(name)) % 10**8}"
    folder.mkdir()
    config_path = folder / "config.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    # An empty Rasa cache per variant: with the repo's .rasa/cache a component trained
    # before is reused and the train time would be seconds instead of minutes.
    os.environ["RASA_CACHE_DIRECTORY"] = str(folder / "rasa-cache")
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # Rasa's chatter; stdout is the table
        model, _ = train(models=folder / "models", config=config_path, data=DATA, force=True)
    train_s = time.perf_counter() - started
    scored = subprocess.run(
        [sys.executable, __file__, "--score", str(model)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(scored.stdout.strip().splitlines()[-1])
    pairs = [tuple(p) for p in measured["pairs"]]
    latencies = sorted(measured["latencies"])
    f1, macro = f1_table(pairs)
    correct = sum(e == p for e, p in pairs)
    return {
        "name": name,
        "train_s": train_s,
        "load_s": measured["load_s"],
        "accuracy": correct / len(pairs),
        "correct": correct,
        "total": len(pairs),
        "macro_f1": macro,
        "f1": f1,
        "fallbacks": sum(p == "nlu_fallback" for _, p in pairs),
        "p50_ms": latencies[len(latencies) // 2],
        "p95_ms": latencies[int(0.95 * len(latencies))],
        "entities": measured["entities"],
    }


def markdown(results: list[dict[str, Any]], load: str) -> str:
    lines = [
        "| pipeline | train time | model load | held-out accuracy | macro F1 "
        "| fell back | entities P / R / F1 | parse p50 / p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ent = r["entities"]
        lines.append(
            f"| {r['name']} | {r['train_s']:.0f} s | {r['load_s']:.1f} s | "
            f"{r['accuracy']:.1%} ({r['correct']}/{r['total']}) | {r['macro_f1']:.3f} | "
            f"{r['fallbacks']} | {ent['precision']:.2f} / {ent['recall']:.2f} / "
            f"{ent['f1']:.2f} ({ent['expected']}) | {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms |"
        )
    lines += ["", "Per-intent F1 on the held-out set:", ""]
    header = "| intent | " + " | ".join(r["name"] for r in results) + " |"
    lines += [header, "|---|" + "---|" * len(results)]
    intents = [i for i in INTENTS if i in results[0]["f1"]]
    for intent in intents:
        cells = " | ".join(f"{r['f1'][intent]:.2f}" for r in results)
        lines.append(f"| {intent} | {cells} |")
    lines += [
        "",
        f"Machine: {platform.processor() or platform.machine()}, load average before the "
        f"run {load}; Python {platform.python_version()}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--only", nargs="*", help="substring(s) of variant names to run")
    args.add_argument("--out", type=Path, help="also write the results as JSON here")
    args.add_argument("--score", type=Path, help=argparse.SUPPRESS)
    opts = args.parse_args(argv)
    if opts.score:
        result = score(opts.score)
        print(json.dumps(result, ensure_ascii=False))
        return
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    base = yaml.safe_load(CONFIG.read_text())
    results = []
    with tempfile.TemporaryDirectory(prefix="hotline-pipelines-") as tmp:
        for name, config in variants(base).items():
            if opts.only and not any(o.lower() in name.lower() for o in opts.only):
                continue
            print(f"training {name} ...", file=sys.stderr, flush=True)
            result = measure(name, config, Path(tmp))
            print(json.dumps(result, ensure_ascii=False), file=sys.stderr, flush=True)
            results.append(result)
    if opts.out:
        opts.out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(markdown(results, load))


if __name__ == "__main__":
    main(sys.argv[1:])
