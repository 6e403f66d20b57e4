"""Entities found by rule, on normalised text (nlu.normalise): phone numbers in every
written form, links, organisations from nlu/organisations.yml, times, and villages and
townships from a gazetteer — the training lookup plus the jurisdiction table the app
hands the parser at run time (``Gazetteer.set_places``).

Values are canonical: a phone number as its digits (+86 and spaces dropped), an
organisation under its canonical name, a village as written in the table.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

from nlu.normalise import normalise
from nlu.types import Entity

_HERE = Path(__file__).parent
ORGANISATIONS = _HERE / "organisations.yml"
ENTITY_DATA = _HERE / "data" / "entities.yml"

# After normalise() digit groups are joined; a number may still follow +86 / 0086 / 86,
# or an area code in brackets, and must not be part of a longer run of digits.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z.])(?:(?:\+|00)86[ \-]?|86(?=1[3-9]\d{9}(?!\d)))?"
    r"(?P<number>1[3-9]\d{9}"
    r"|[48]00\d{7}"
    r"|\(0\d{2,3}\)[ \-]?\d{7,8}"
    r"|0\d{2,3}-?\d{7,8})"
    r"(?!\d)"
)
_URL = re.compile(
    r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+"
    r"|(?<![A-Za-z0-9@.])[A-Za-z0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)*"
    r"\.(?:com|cn|net|org|top|vip|cc|xyz|info|site|shop|icu|club|app)"
    r"(?:/[A-Za-z0-9\-._~/?=&%#]*)?(?![A-Za-z0-9])"
)
_DAY = (
    "今天|昨天|前天|大前天|明天|今早|昨晚|今晚|前几天|这几天|上周|上个星期|上星期|这周"
    "|本周|上个月|这个月|刚才|刚刚|现在|早上|大清早"
)
_PART = "上午|下午|中午|晚上|早上|傍晚|半夜|凌晨|夜里"
_TIME = re.compile(
    rf"(?:(?:{_DAY})(?:{_PART})?|(?:{_PART}))(?:\d{{1,2}}点(?:多|半|左右)?)?|\d{{1,2}}点(?:多|半|左右)?"
)
_QUALIFIER = "(?:国家|省|市|县|区|镇|乡)?"


@cache
def organisation_names() -> dict[str, str]:
    """spelling -> canonical name."""
    table = yaml.safe_load(ORGANISATIONS.read_text(encoding="utf-8"))
    return {spelling: canonical for canonical, spellings in table.items() for spelling in spellings}


@cache
def _organisation_pattern() -> re.Pattern[str]:
    names = sorted(organisation_names(), key=len, reverse=True)
    return re.compile(rf"{_QUALIFIER}(?:{'|'.join(map(re.escape, names))})")


@cache
def training_villages() -> tuple[str, ...]:
    doc = yaml.safe_load(ENTITY_DATA.read_text(encoding="utf-8"))
    for block in doc.get("nlu") or []:
        if block.get("lookup") == "village":
            return tuple(
                line.strip()[2:].strip()
                for line in block["examples"].splitlines()
                if line.strip().startswith("- ")
            )
    return ()


def phone_value(span: str) -> str:
    digits = re.sub(r"\D", "", span)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def organisation_value(span: str) -> str:
    names = organisation_names()
    for qualifier in ("国家", "省", "市", "县", "区", "镇", "乡"):
        if span.startswith(qualifier) and span[len(qualifier) :] in names:
            return qualifier + names[span[len(qualifier) :]]
    return names.get(span, span)


class Gazetteer:
    """Village and township names to find in messages. The app hands it the
    jurisdiction table's names at start (nlu imports nothing of ours)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._villages: dict[str, str] = {}
        self._townships: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self.set_places(training_villages(), ())

    def set_places(self, villages: Iterable[str], townships: Iterable[str] = ()) -> None:
        """Replace the place names (the training lookup's villages are always kept)."""
        v: dict[str, str] = {}
        t: dict[str, str] = {}
        for table, names in ((v, [*training_villages(), *villages]), (t, townships)):
            for name in names:
                name = normalise((name or "").strip())
                if len(name) >= 2:
                    table[name] = name
        with self._lock:
            self._villages, self._townships = v, t
            names = sorted({*v, *t}, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, names))) if names else None

    def find(self, text: str) -> list[Entity]:
        with self._lock:
            pattern, villages = self._pattern, self._villages
        if pattern is None:
            return []
        return [
            Entity(
                "village" if m.group(0) in villages else "township", m.group(0), m.start(), m.end()
            )
            for m in pattern.finditer(text)
        ]


def extract(text: str, gazetteer: Gazetteer | None = None) -> list[Entity]:
    """Every rule entity in ``text`` (normalised), without overlaps: earlier kinds in
    this order win a contested span (a phone number inside a link stays the link's)."""
    found: list[Entity] = []
    found += [Entity("url", m.group(0), m.start(), m.end()) for m in _URL.finditer(text)]
    for m in _PHONE.finditer(text):
        found.append(Entity("phone_number", phone_value(m.group("number")), m.start(), m.end()))
    if gazetteer is not None:
        found += gazetteer.find(text)
    for m in _organisation_pattern().finditer(text):
        found.append(Entity("organization", organisation_value(m.group(0)), m.start(), m.end()))
    found += [Entity("time", m.group(0), m.start(), m.end()) for m in _TIME.finditer(text)]
    return merge(found, [])


def merge(preferred: list[Entity], others: list[Entity]) -> list[Entity]:
    """``preferred`` in order, then ``others``, each kept only if it overlaps nothing
    kept before; sorted by position."""
    kept: list[Entity] = []
    for e in [*preferred, *others]:
        if any(e.start < k.end and k.start < e.end for k in kept):
            continue
        kept.append(e)
    return sorted(kept, key=lambda e: e.start)
