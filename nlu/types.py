"""What the NLU hands the rest of the hotline: the intents, a parse and its entities,
and the interface every parser (the Rasa model, the keyword fallback) has.

Kept apart from the parsers so that they can share it without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

INTENTS = (
    "verify_team",
    "activate_voucher",
    "report_qr_code",
    "report_phone_borrowing",
    "report_suspicious_visit",
    "already_victim",
    "check_report_status",
    "check_number",
    "privacy_advice",
    "subscribe",
    "unsubscribe",
    "greet",
    "help",
    "thanks",
    "out_of_scope",
    "insurance_question",
)
# What Rasa's FallbackClassifier predicts when the classifier is not confident enough.
FALLBACK_INTENT = "nlu_fallback"


@dataclass
class Entity:
    entity: str
    value: str
    start: int
    end: int


@dataclass
class Parse:
    """``text`` is the normalised message (nlu.normalise): entity offsets index it."""

    text: str
    intent: str
    confidence: float
    entities: list[Entity] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Parser(Protocol):
    @property
    def name(self) -> str: ...  # read-only: BackgroundParser's follows the model it holds

    def parse(self, text: str) -> Parse: ...
