"""Reviewed messages as Rasa NLU training data: one block per intent, one example per
group of near-identical texts, written under ``$HOTLINE_VAR/nlu-reviewed/`` where
``hotline train`` picks them up (nlu/training.py). They come from villagers (redacted):
the folder is under var/, which git ignores."""

from __future__ import annotations

import os
import re
from pathlib import Path

import sqlite_utils

from review import queue

FOLDER = "nlu-reviewed"
FILE = "reviewed.yml"
_SPACE = re.compile(r"\s+")


def folder(var: Path) -> Path:
    return Path(var) / FOLDER


def training_yaml(examples: dict[str, list[str]]) -> str:
    """Rasa's own YAML writer, so the file reads back exactly as Rasa's loader expects."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = [
        # One line per example: a newline would end the YAML list item.
        Message(data={"text": _SPACE.sub(" ", text).strip(), "intent": intent})
        for intent, texts in sorted(examples.items())
        for text in texts
    ]
    return RasaYAMLWriter().dumps(TrainingData(messages))


def export(db: sqlite_utils.Database, var: Path) -> tuple[Path, dict[str, int]]:
    """Write the reviewed examples to ``<var>/nlu-reviewed/reviewed.yml``; return the path
    and the count per intent. With nothing reviewed the file is removed, so training
    falls back to the project's data alone."""
    examples = queue.reviewed_examples(db)
    target = folder(var) / FILE
    if not examples:
        target.unlink(missing_ok=True)
        return target, {}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".yml.tmp")
    partial.write_text(training_yaml(examples), encoding="utf-8")
    os.replace(partial, target)  # a training started meanwhile never reads half a file
    return target, {intent: len(texts) for intent, texts in examples.items()}
