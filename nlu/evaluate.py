"""Measuring the model: the held-out examples (with their voices) and accuracy on
them; nlu.comparison puts the product beside the baselines. Both write Markdown under
docs/ so the numbers travel with the code that made them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.training import CONFIG, ROOT
from nlu.types import Parser

HELDOUT = ROOT / "nlu" / "tests" / "heldout"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]+\}")


def strip_annotations(example: str) -> str:
    """'[石桥村](village)来人了' -> '石桥村来人了'."""
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), example)


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a Rasa NLU YAML file, or from every file of a folder."""
    return [(text, intent) for text, intent, _voice in load_voiced(path)]


def load_voiced(path: Path) -> list[tuple[str, str, str]]:
    """(text, intent, voice) triples; the voice is the block's ``metadata: {voice: ...}``
    (INTENTS.md lists them), "legacy" for blocks written before voices were tagged."""
    if path.is_dir():
        return [row for file in sorted(path.glob("*.yml")) for row in load_voiced(file)]
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    rows = []
    for block in doc.get("nlu") or []:
        if "intent" not in block:
            continue
        voice = str((block.get("metadata") or {}).get("voice") or "legacy")
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                rows.append((strip_annotations(line[2:].strip()), block["intent"], voice))
    return rows


@dataclass
class HeldoutResult:
    total: int = 0
    correct: int = 0
    per_intent: dict[str, Counter] = field(default_factory=dict)
    confusions: Counter = field(default_factory=Counter)
    misses: list[tuple[str, str, str, float]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def evaluate_heldout(parser: Parser, path: Path = HELDOUT) -> HeldoutResult:
    result = HeldoutResult()
    for text, expected in load_examples(path):
        parse = parser.parse(text)
        counts = result.per_intent.setdefault(expected, Counter())
        counts["total"] += 1
        result.total += 1
        if parse.intent == expected:
            counts["correct"] += 1
            result.correct += 1
        else:
            result.confusions[(expected, parse.intent)] += 1
            result.misses.append((text, expected, parse.intent, parse.confidence))
    return result


def heldout_markdown(result: HeldoutResult, command: str) -> str:
    lines = [
        "# Held-out intent accuracy",
        "",
        f"Made by `{command}` on `nlu/tests/heldout/` (never trained on).",
        "",
        f"**Accuracy: {result.accuracy:.1%}** ({result.correct}/{result.total})",
        "",
        "| intent | correct | total |",
        "|---|---|---|",
    ]
    for intent, c in sorted(result.per_intent.items()):
        lines.append(f"| {intent} | {c['correct']} | {c['total']} |")
    lines += [
        "",
        "## Misclassified",
        "",
        "| text | expected | predicted | confidence |",
        "|---|---|---|---|",
    ]
    for text, expected, predicted, conf in result.misses:
        lines.append(f"| {text} | {expected} | {predicted} | {conf:.2f} |")
    return "\n".join(lines) + "\n"


def configured_threshold(config: Path = CONFIG) -> float:
    """The FallbackClassifier threshold in config.yml (0 when there is none)."""
    pipeline = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("pipeline") or []
    for step in pipeline:
        if step.get("name") == "FallbackClassifier":
            return float(step.get("threshold", 0.3))
    return 0.0
