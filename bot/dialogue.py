"""Where a message is understood and answered.

Every channel hands an ``InboundMessage`` to ``Dialogue.handle`` and sends back the
texts it returns. The order of the checks below is the policy:

0. a flood from one sender (ratelimit)   -> logged, not answered (one slow-down notice)
1. nothing usable (empty, emoji only)    -> ask for words
2. an opt-out / opt-in word              -> honoured before anything else, model or not
3. a form in progress (the report form)  -> the form takes the message
4. a bare menu digit, or 0 for "more"     -> that menu entry
5. otherwise NLU                         -> the intent's step
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

import responses
from bot import conversations, subscriptions
from bot.messages import InboundMessage
from bot.ratelimit import RateLimiter
from nlu import Parse, Parser
from nlu.parser import FALLBACK_INTENT
from review.queue import record_if_unsure
from storage.privacy import Vault

log = logging.getLogger(__name__)

# The model sees at most this much; a villager's 10,000-character paste is kept
# (up to conversations.MAX_STORED) but not fed whole to the classifier.
MAX_TEXT = 500
# Below this, the answer is "say it again" rather than a guess.
MIN_CONFIDENCE = 0.4
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Turn:
    """One inbound message on its way through the dialogue."""

    message: InboundMessage
    sender_hash: str
    text: str
    state: dict[str, Any]
    parse: Parse | None = None
    replies: list[str] = field(default_factory=list)
    provider: str | None = None  # who delivered it (twilio, wechat, aliyun...)

    def say(self, *texts: str) -> None:
        self.replies.extend(t for t in texts if t)

    @property
    def source(self) -> str | None:
        """The message's provider-wide identity, or None when the provider gave no id."""
        if self.provider and self.message.message_id:
            return f"{self.provider}:{self.message.message_id}"[:300]
        return None


# A step answers one intent. Steps for report intake and report status are added
# by the reporting form (see ``register_step``), keeping this module small.
Step = Callable[["Dialogue", Turn], None]
STEPS: dict[str, Step] = {}


def register_step(*intents: str) -> Callable[[Step], Step]:
    def wrap(step: Step) -> Step:
        for intent in intents:
            STEPS[intent] = step
        return step

    return wrap


def clean(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII), no control characters."""
    return _CONTROL.sub("", unicodedata.normalize("NFKC", text)).strip()


def has_words(text: str) -> bool:
    """True when the text has a letter, a digit or a CJK character (not just emoji)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def join_if_fits(*texts: str) -> list[str]:
    """One SMS when the parts fit together in 3 segments, else one per part."""
    joined = "\n".join(t for t in texts if t)
    return [joined] if responses.fits_sms(joined) else [t for t in texts if t]


class Dialogue:
    def __init__(
        self,
        db: sqlite_utils.Database,
        vault: Vault,
        parser: Parser,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.parser = parser
        self.limiter = limiter

    def handle(self, message: InboundMessage, provider: str | None = None) -> list[str]:
        sender_hash = self.vault.hash(message.sender)
        # Lone surrogates (from JSON "\ud800") cannot be stored as UTF-8.
        message.text = message.text.encode("utf-8", "replace").decode("utf-8")
        # Logged before anything can fail: nothing a villager sent is lost.
        # With the provider's id: logged once even when handled again after a crash.
        conversations.log_inbound(
            self.db, sender_hash, message.channel, message.text, provider, message.message_id
        )
        text = clean(message.text)
        state = conversations.load_state(self.db, sender_hash)
        turn = Turn(message, sender_hash, text, state, provider=provider)
        if self._admitted(turn):
            self._respond(turn)
        for reply in turn.replies:
            intent = turn.parse.intent if turn.parse else None
            conf = turn.parse.confidence if turn.parse else None
            conversations.log_message(
                self.db, sender_hash, message.channel, "out", reply, intent, conf
            )
        conversations.save_state(self.db, sender_hash, message.channel, turn.state)
        return turn.replies

    def _admitted(self, turn: Turn) -> bool:
        """False when the sender floods us (bot/ratelimit.py): the message stays logged
        but unanswered, with one slow-down notice per window. Opt-out words always pass."""
        if self.limiter is None or subscriptions.command_intent(turn.text) == "unsubscribe":
            return True
        decision = self.limiter.check(turn.sender_hash)
        if not decision.allowed and decision.notify:
            turn.say(responses.text("slow_down"))
        return decision.allowed

    def _respond(self, turn: Turn) -> None:
        text = turn.text
        if not has_words(text) and not turn.message.media:
            key = "empty_message" if not text else "unreadable_message"
            turn.say(*join_if_fits(responses.text(key), responses.text("menu")))
            return
        command = subscriptions.command_intent(text)
        if command:
            turn.parse = Parse(text, command, 1.0)
            self.run(command, turn)
            return
        form = turn.state.get("form")
        if form and form.get("step") in FORM_HANDLERS:
            FORM_HANDLERS[form["step"]](self, turn)
            return
        if turn.message.media:  # a photo, most likely of a QR code: judge it
            from bot.qr import media_step

            media_step(self, turn)
            return
        if text == "0":
            self._more(turn)
            return
        if text in responses.MENU_CHOICES:
            turn.parse = Parse(text, responses.MENU_CHOICES[text], 1.0)
            self.run(turn.parse.intent, turn)
            return
        if verify_team.code_step(self, turn):  # a code from a team's letter: check it
            return
        if is_bare_lookup(text):  # just a number or a link: how often was it reported?
            turn.parse = Parse(text, "check_number", 1.0)
            self.run("check_number", turn)
            return
        if len(text) > MAX_TEXT:
            turn.say(responses.text("too_long"))
            text = text[:MAX_TEXT]
        turn.parse = self.parser.parse(text)
        record_if_unsure(self.db, text, turn.parse, turn.message.channel)  # REVIEW HOOK
        intent = turn.parse.intent
        if intent == FALLBACK_INTENT or turn.parse.confidence < MIN_CONFIDENCE:
            turn.say(*join_if_fits(responses.text("not_understood"), responses.text("menu")))
            return
        self.run(intent, turn)

    def run(self, intent: str, turn: Turn) -> None:
        """Answer ``intent``: a registered step, or the plain answer from replies.yml."""
        step = STEPS.get(intent, answer_step)
        step(self, turn)

    def _more(self, turn: Turn) -> None:
        intent = turn.state.pop("more", None)
        if not intent:
            turn.say(*join_if_fits(responses.text("no_more"), responses.text("menu")))
            return
        _text, more = responses.answer(intent)
        turn.say(more or responses.text("no_more"))


# A form in progress names its handler in state["form"]["step"].
FORM_HANDLERS: dict[str, Step] = {}


def answer_step(dialogue: Dialogue, turn: Turn) -> None:
    intent = turn.parse.intent if turn.parse else "help"
    text, more = responses.answer(intent)
    if more:
        turn.state["more"] = intent
    else:
        turn.state.pop("more", None)
    if intent in ("help", "greet", "out_of_scope"):
        turn.say(*join_if_fits(text, responses.text("menu")))
    else:
        turn.say(text)


# Steps and forms that live with their domain register themselves here on import.
from bot import (  # noqa: E402
    report_form,  # noqa: F401  (report intake, report status)
    verify_team,  # (is this team authorised?) imported before enrollment, which wraps its step
)
from bot.lookups import is_bare_lookup  # noqa: E402  (查号码/链接: counts of reports)
from bot.outreach import enrollment  # noqa: E402,F401  (订阅/退订, village form, 真假短信)
