"""The degraded-mode parser: keyword rules from ``keywords.yml``, used only when the
Rasa model cannot be loaded. It covers the core intents and nothing subtle."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from nlu.entities import Gazetteer, extract
from nlu.normalise import normalise
from nlu.types import Parse

KEYWORDS_FILE = Path(__file__).with_name("keywords.yml")


@cache
def _rules() -> dict:
    with open(KEYWORDS_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


class KeywordParser:
    name = "keywords"

    def __init__(self) -> None:
        self.gazetteer = Gazetteer()

    def set_places(self, villages: object, townships: object = ()) -> None:
        self.gazetteer.set_places(villages, townships)  # type: ignore[arg-type]

    def parse(self, text: str) -> Parse:
        text = normalise(text)
        rules = _rules()
        folded = text.casefold()
        intent, confidence = "out_of_scope", 0.0
        # Rules are ordered by urgency: a victim who also mentions a QR code is a victim.
        for rule in rules["intents"]:
            if any(word.casefold() in folded for word in rule["any"]):
                intent, confidence = rule["intent"], 1.0
                break
        entities = extract(text, self.gazetteer)
        return Parse(text=text, intent=intent, confidence=confidence, entities=entities)
