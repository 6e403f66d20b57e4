"""Measuring the model: accuracy on the held-out file, and k-fold cross-validation.

Both write Markdown under docs/ so the numbers travel with the code that made them.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.parser import Parser, quiet_rasa
from nlu.training import CONFIG, DATA, ROOT

HELDOUT = ROOT / "nlu" / "tests" / "heldout"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]+\}")


def strip_annotations(example: str) -> str:
    """'[石桥村](village)来人了' -> '石桥村来人了'."""
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), example)


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a Rasa NLU YAML file, or from every file of a folder."""
    if path.is_dir():
        return [pair for file in sorted(path.glob("*.yml")) for pair in load_examples(file)]
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    pairs = []
    for block in doc.get("nlu") or []:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                pairs.append((strip_annotations(line[2:].strip()), block["intent"]))
    return pairs


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


def cross_validate(folds: int = 5, config: Path = CONFIG, data: Path = DATA) -> str:
    """Run Rasa's k-fold cross-validation; return the report as Markdown."""
    quiet_rasa()
    import os

    from rasa.nlu.test import cross_validate as rasa_cv
    from rasa.shared.nlu.training_data.loading import load_data

    cwd = os.getcwd()
    os.chdir(ROOT)  # the jieba dictionary path in config.yml is relative to the repo
    try:
        training_data = load_data(str(data), language="zh")
        with tempfile.TemporaryDirectory() as out:
            asyncio.run(
                rasa_cv(
                    training_data,
                    folds,
                    str(config),
                    out,
                    errors=True,
                    disable_plotting=True,
                    report_as_dict=True,
                )
            )
            report = json.loads((Path(out) / "intent_report.json").read_text())
            errors_file = Path(out) / "intent_errors.json"
            errors = json.loads(errors_file.read_text()) if errors_file.exists() else []
    finally:
        os.chdir(cwd)
    return cv_markdown(report, errors, folds)


def cv_markdown(report: dict, errors: list[dict], folds: int) -> str:
    lines = [
        f"# NLU cross-validation ({folds} folds)",
        "",
        "Made by `make nlu-report` (`hotline nlu-evaluate --cross-validation`) on nlu/data.",
        "",
        "| intent | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for intent, row in sorted(report.items()):
        if not isinstance(row, dict) or "precision" not in row or "avg" in intent:
            continue
        lines.append(
            f"| {intent} | {row['precision']:.3f} | {row['recall']:.3f} | "
            f"{row['f1-score']:.3f} | {row['support']} |"
        )
    for key in ("accuracy", "macro avg", "weighted avg"):
        if key in report:
            value = report[key]
            if isinstance(value, dict):
                lines.append(
                    f"| *{key}* | {value['precision']:.3f} | {value['recall']:.3f} | "
                    f"{value['f1-score']:.3f} | {value['support']} |"
                )
            else:
                lines.append(f"| *{key}* | | | {value:.3f} | |")
    pairs = Counter((e["intent"], (e.get("intent_prediction") or {}).get("name")) for e in errors)
    lines += ["", "## Confusion pairs (expected -> predicted, count)", ""]
    for (expected, predicted), n in pairs.most_common():
        lines.append(f"- {expected} -> {predicted}: {n}")
    return "\n".join(lines) + "\n"
