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

from nlu.normalise import normalise
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


_ANNOTATED = re.compile(r"\[([^\]]+)\]\((\w+)\)")


def load_annotated(path: Path = HELDOUT) -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(entity, value as written)]) for every held-out example that annotates
    at least one entity ("[石桥村](village)")."""
    rows = []
    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("- ") and (found := _ANNOTATED.findall(line)):
                rows.append((strip_annotations(line[2:].strip()), [(e, v) for v, e in found]))
    return rows


def entity_scores(parser: Parser, path: Path = HELDOUT) -> dict[str, Counter]:
    """Per entity type: true positives, false positives, false negatives of the parser's
    entities on the annotated held-out examples. A found entity matches an annotation of
    the same type when their surfaces overlap (one contains the other, both normalised):
    values are canonical (organisation names, joined digits), surfaces are what was
    written. Only annotated examples count, so an unannotated time word elsewhere in the
    set is not a false positive."""
    scores: dict[str, Counter] = {}
    for text, wanted in load_annotated(path):
        parse = parser.parse(text)
        found = [(e.entity, parse.text[e.start : e.end]) for e in parse.entities]
        expected = [(e, normalise(v)) for e, v in wanted]
        matched: set[int] = set()
        for kind, surface in expected:
            hit = next(
                (
                    i
                    for i, (k, f) in enumerate(found)
                    if i not in matched and k == kind and (surface in f or f in surface)
                ),
                None,
            )
            counts = scores.setdefault(kind, Counter())
            if hit is None:
                counts["fn"] += 1
            else:
                matched.add(hit)
                counts["tp"] += 1
        for i, (kind, _surface) in enumerate(found):
            if i not in matched:
                scores.setdefault(kind, Counter())["fp"] += 1
    return scores


def entity_markdown(scores: dict[str, Counter]) -> list[str]:
    def prf(c: Counter) -> str:
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return f"{p:.2f} | {r:.2f} | {f:.2f} | {c['tp'] + c['fn']}"

    total = sum(scores.values(), Counter())
    return [
        "## Entities (rules, nlu/entities.py)",
        "",
        "On the held-out examples that annotate entities; a match is the same type with",
        "overlapping surfaces (see `nlu.evaluate.entity_scores`).",
        "",
        "| entity | precision | recall | F1 | annotated |",
        "|---|---|---|---|---|",
        *(f"| {kind} | {prf(c)} |" for kind, c in sorted(scores.items())),
        f"| **all** | {prf(total)} |",
        "",
    ]


def heldout_markdown(
    result: HeldoutResult, command: str, entities: dict[str, Counter] | None = None
) -> str:
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
    lines.append("")
    if entities is not None:
        lines += entity_markdown(entities)
    lines += [
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
