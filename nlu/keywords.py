"""The degraded-mode parser: keyword rules from ``keywords.yml``, used only when the
Rasa model cannot be loaded. It covers the core intents and nothing subtle."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from nlu.parser import Entity, Parse

KEYWORDS_FILE = Path(__file__).with_name("keywords.yml")


@cache
def _rules() -> dict:
    with open(KEYWORDS_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


class KeywordParser:
    name = "keywords"

    def parse(self, text: str) -> Parse:
        rules = _rules()
        folded = text.casefold()
        intent, confidence = "out_of_scope", 0.0
        # Rules are ordered by urgency: a victim who also mentions a QR code is a victim.
        for rule in rules["intents"]:
            if any(word.casefold() in folded for word in rule["any"]):
                intent, confidence = rule["intent"], 1.0
                break
        entities = [
            Entity(name, m.group(0), m.start(), m.end())
            for name, pattern in rules["entities"].items()
            for m in re.finditer(pattern, text)
        ]
        return Parse(text=text, intent=intent, confidence=confidence, entities=entities)
