"""The conversation engine: one inbound message in, the replies out.

The engine knows no skill. The app factory hands it an ordered list of skills
(``bot.skills.default_skills``); each skill answers some intents, may recognise a
message before the model reads it, and may be a ``Form`` (slots asked one at a time).
Skills never import each other: one asks the engine to run an intent (``engine.run``).

The order of checks (docs/conversation.md) is the policy:

0. a flood from one sender (ratelimit)     -> logged, not answered (one slow-down notice)
1. nothing usable (empty, emoji only)      -> ask for words
2. an opt-out / opt-in word                -> honoured before anything else, model or not
3. victim words (已经扫了, 验证码给了, 钱没了) -> first aid at once, in any form
4. a pending confirmation ("回1确认")        -> done or dropped
5. a form in progress                      -> the form takes the message (a confident
                                              question is answered, the slot re-asked)
6. a bare menu digit, or 0 for "more"       -> that menu entry
6b. a short reply about the last answer     -> read against it (没转 after first aid)
7. the skills' recognisers, in list order  -> photos, pasted SMS, cadre forwards, codes...
8. otherwise NLU                           -> the intent's skill; when unsure, ``unsure``

State is read with the claim and the log in one transaction and written with the
replies in one more (``conversations.Store``; docs/conversation.md says why two).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlite_utils
import zhconv

import responses
from bot import control_words, conversations, subscriptions
from bot.messages import InboundMessage
from bot.ratelimit import Decision, RateLimiter
from nlu import Parse, Parser
from nlu.parser import FALLBACK_INTENT, Entity
from nlu.signals import contrary, victim_words
from storage.privacy import Vault, redact_id_numbers

log = logging.getLogger(__name__)

# The model sees at most this much; a villager's 10,000-character paste is kept
# (up to conversations.MAX_STORED) but not fed whole to the classifier.
MAX_TEXT = 500
# Below this, the answer is "say it again" (with the safety line) rather than a guess: a
# floor above the model's own fallback threshold (config.yml, chosen by the CV cost of
# harmful outcomes, where 0.30 and 0.40 differ by 2 %), because an answer to a message
# barely read (嗯那个 answered 不客气) misleads more than the safety line does. Inside a
# form, a message that reads as a question is answered from this confidence.
MIN_CONFIDENCE = 0.4
# An answer given below this confidence is also handed to the supervisors' review.
REVIEW_BELOW = 0.6
# Below this, a subscription change is asked about first ("回1确认") rather than done.
# Report intents are not: they file a report only on explicit, non-negated report words
# (bot/report_form.explicit_report), which are the villager's plain ask, and otherwise
# only advise and offer 回3.
SURE_CONFIDENCE = 0.75
SIDE_EFFECT_INTENTS = frozenset({"subscribe", "unsubscribe"})
# Answers after which a short reply is read against them (_about_the_last_answer).
HARM_TOPICS = frozenset({"already_victim", "report_qr_code", "report_phone_borrowing"})
# (verify_team: only its general warning sets the topic; a registry answer does not.)
WARNING_TOPICS = HARM_TOPICS | {"report_suspicious_visit", "privacy_advice", "verify_team"}
# Answers about a team's visit, which may be a registered one.
VISIT_TOPICS = frozenset({"verify_team", "report_suspicious_visit"})
# Words and photos from this far back are carried into a report started now.
RECENT_WINDOW = dt.timedelta(minutes=15)
RECENT_KEEP = 4
# One place for the words that leave any form, and how long a form waits for an answer.
FORM_TTL = dt.timedelta(hours=2)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Digits and separators only (a phone number, "3点" without the 点): inside a form this is
# never a question for the model, which reads a bare number as anything at all (thanks).
_NUMBER_ONLY = re.compile(r"^[+\d\s\-()]{4,}$")


# "And now what?" right after advice that has further steps (回复0看下一步): the next
# steps, not the same advice again or "I can't help with that".
def clean(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII), traditional characters as
    simplified (工作證號, 不報了, 已經掃了: every rule and recogniser in bot/ is written in
    simplified characters, as the model reads them), no control characters. The message
    is stored as sent."""
    text = zhconv.convert(unicodedata.normalize("NFKC", text), "zh-hans")
    return _CONTROL.sub("", text).strip()


def has_words(text: str) -> bool:
    """True when the text has a letter, a digit or a CJK character (not just emoji)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def join_if_fits(*texts: str) -> list[str]:
    """One SMS when the parts fit together in 3 segments, else one per part."""
    joined = "\n".join(t for t in texts if t)
    return [joined] if responses.fits_sms(joined) else [t for t in texts if t]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Turn:
    """One inbound message on its way through the engine."""

    message: InboundMessage
    sender_hash: str
    text: str
    state: dict[str, Any]
    parse: Parse | None = None
    replies: list[str] = field(default_factory=list)
    provider: str | None = None  # who delivered it (twilio, wechat, aliyun...)
    # Set while a form lets a question through: the answer must not open another form.
    answer_only: bool = False
    # What the answer before this message was about (Engine._about_the_last_answer).
    last_topic: str | None = None
    # Writes that need not commit before the answer (the review queue): run inside the
    # turn's last transaction, so a message costs one write at the end, not one more.
    deferred: list[Callable[[], None]] = field(default_factory=list)

    def say(self, *texts: str) -> None:
        self.replies.extend(t for t in texts if t)

    @property
    def source(self) -> str | None:
        """The message's provider-wide identity, or None when the provider gave no id."""
        if self.provider and self.message.message_id:
            return f"{self.provider}:{self.message.message_id}"[:300]
        return None

    def entities(self, name: str) -> list[str]:
        found = self.parse.entities if self.parse else []
        return [str(e.value) for e in found if e.entity == name]

    @property
    def form(self) -> dict[str, Any] | None:
        return self.state.get("form")

    def recent(self) -> list[dict[str, Any]]:
        """What this sender said in the last minutes, oldest first (for a report)."""
        cutoff = (now() - RECENT_WINDOW).isoformat(timespec="seconds")
        return [r for r in self.state.get("recent", []) if r.get("at", "") >= cutoff]


class Skill:
    """Answers some intents. Override what you need; the engine calls nothing else."""

    name: ClassVar[str] = ""
    intents: ClassVar[tuple[str, ...]] = ()

    def recognise(self, engine: Engine, turn: Turn) -> bool:
        """Before the model (outside forms): True when this skill answered the message."""
        return False

    def follow_up(self, engine: Engine, turn: Turn) -> bool:
        """Before forms and menu digits: True when this message answered a short question
        this skill asked in its last reply (e.g. "回复1有用，2没用")."""
        return False

    def answer(self, engine: Engine, turn: Turn, intent: str) -> None:
        """Answer ``intent`` (one of ``intents``)."""
        engine.plain_answer(turn, intent)


class Form(Skill):
    """A skill that asks questions: declared ``slots``, asked in order, each validated,
    re-asked once, then the form is submitted (Rasa's ``required_slots`` idea).

    The engine runs the loop (``Engine.take_form``): time-to-live, leave words, victim
    words, questions let through, re-ask once. A subclass says how to ask, validate and
    submit; state lives in ``turn.state["form"]`` (``form["slot"]`` is being asked).
    """

    form_name: ClassVar[str] = ""
    slots: ClassVar[tuple[str, ...]] = ()
    ttl: ClassVar[dt.timedelta] = FORM_TTL
    # The form's own intents: a confident parse to one of these is an answer, not a question.
    own_intents: ClassVar[frozenset[str]] = frozenset()
    # True when leaving loses nothing (the subscription is made, the check is only a
    # check): a menu digit for another form's skill (3: report) then ends this form and
    # is that menu entry. Otherwise (or for a plain answer, 4) the entry is answered and
    # the slot asked again (a report keeps its questions).
    yields_to_menu: ClassVar[bool] = False

    def open(self, turn: Turn, **values: Any) -> dict[str, Any]:
        form = {"step": self.form_name, "slot": None, "retried": [], **values}
        form["at"] = now().isoformat(timespec="seconds")
        turn.state["form"] = form
        return form

    def needed(self, engine: Engine, turn: Turn, slot: str) -> bool:
        """False when ``slot`` is already known (from the first message, say)."""
        return slot not in turn.state["form"].get("filled", {})

    def ask(self, engine: Engine, turn: Turn, slot: str, again: bool = False) -> str:
        raise NotImplementedError

    def looks_like_answer(self, engine: Engine, turn: Turn, slot: str) -> bool:
        """Cheap check before the model: a message that plainly answers the slot."""
        return False

    def is_question(self, turn: Turn) -> bool:
        """True when the message reads as a question (answered even if about this form)."""
        return False

    def fill(self, engine: Engine, turn: Turn, slot: str, skip: bool) -> bool | None:
        """Validate and store the answer. False: not a usable answer (re-asked once);
        None: stay on this slot, the form already replied (e.g. "which of these two?")."""
        raise NotImplementedError

    def give_up(self, engine: Engine, turn: Turn, slot: str) -> None:
        """Asked twice without a usable answer: by default the slot is skipped."""

    def submit(self, engine: Engine, turn: Turn) -> None:
        raise NotImplementedError

    def expire(self, engine: Engine, turn: Turn) -> None:
        """The form waited past its time-to-live (or the villager moved on)."""

    def leave(self, engine: Engine, turn: Turn) -> None:
        """A leave word: the form ends (a subclass says what that means)."""
        turn.say(responses.text("form_left"))

    def replied(
        self, engine: Engine, turn: Turn, state: dict[str, Any], replies: list[str]
    ) -> None:
        """What the form's turn answered (``state``: the form, even if it just ended)."""

    def received(self, engine: Engine, turn: Turn) -> None:
        """Every message the form takes, before anything else (e.g. kept in a log)."""

    def victim(self, engine: Engine, turn: Turn) -> None:
        """Victim words arrived while this form was open (first aid is already given)."""

    def own_reply(self, engine: Engine, turn: Turn) -> bool:
        """Form-specific replies handled before the slot (e.g. "0"); True when handled."""
        return False

    def next_question(self, engine: Engine, turn: Turn) -> str:
        """Point the form at the next slot still needed; "" when all are done."""
        form = turn.state["form"]
        for slot in self.slots:
            if slot in form.setdefault("asked", []):
                continue
            if not self.needed(engine, turn, slot):
                continue
            form["asked"].append(slot)
            form["slot"] = slot
            return self.ask(engine, turn, slot)
        form["slot"] = None
        return ""

    def current_question(self, engine: Engine, turn: Turn) -> str:
        slot = turn.state["form"].get("slot")
        return self.ask(engine, turn, slot) if slot else ""


# Called when the engine is unsure of a message (fallback or low confidence):
# recorder(turn, reason). review/ attaches one line: ``engine.unsure_hooks.append(...)``.
UnsureHook = Callable[[Turn, str], None]


class Engine:
    """Runs one message through the ordered checks above (see the module docstring)."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        vault: Vault,
        parser: Parser,
        skills: Sequence[Skill],
        limiter: RateLimiter | None = None,
        unsure_hooks: Iterable[UnsureHook] = (),
    ) -> None:
        self.db = db
        self.vault = vault
        self.parser = parser
        self.limiter = limiter
        self.skills = list(skills)
        self.unsure_hooks = list(unsure_hooks)
        self._by_intent: dict[str, Skill] = {}
        self._forms: dict[str, Form] = {}
        for skill in self.skills:
            for intent in skill.intents:
                self._by_intent.setdefault(intent, skill)
            if isinstance(skill, Form):
                self._forms[skill.form_name] = skill

    # --- the one entry point -------------------------------------------------------
    def handle(
        self,
        message: InboundMessage,
        provider: str | None = None,
        with_replies: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Answer one message; ``with_replies`` is called with the replies inside the
        transaction that stores them, as a deferred write (a gateway's channel queues
        them in the outbox there: committed with the answer)."""
        # Lone surrogates (from JSON "\ud800") cannot be stored as UTF-8.
        message.text = message.text.encode("utf-8", "replace").decode("utf-8")
        store = conversations.Store(self.db, self.vault.hash(message.sender), message.channel)
        # Logged (committed, with the state read in the same step) before anything can
        # fail: nothing a villager sent is lost. Raises InboundNotStored when the database
        # stays locked: the channel then says the message was NOT received.
        text = clean(message.text)
        decision: list[Decision] = []
        # The flood bucket is taken inside the receive transaction (it is one more write):
        # a message costs two transactions, however many limiters there are.
        seen = store.receive(
            message.text,
            provider,
            message.message_id,
            within=lambda: decision.extend(self._admission(store.sender_hash, text)),
        )
        if seen is not None:  # the provider's retry: the replies it got, or none yet
            return seen
        turn = Turn(message, store.sender_hash, text, store.state, provider=provider)
        if not decision or decision[0].allowed:
            self.respond(turn)
        elif decision[0].notify:
            turn.say(responses.text("slow_down"))
        self._remember(turn)
        intent = turn.parse.intent if turn.parse else None
        conf = turn.parse.confidence if turn.parse else None
        # The replies' log rows, the new state, the replies remembered for the provider's
        # retries and the deferred writes: one transaction at the end. (A skill's own side
        # effects, such as a report, commit where they happen: the model's parse and a
        # photo's download must not run inside a transaction holding the write lock.)
        if with_replies is not None and turn.replies:
            turn.deferred.append(functools.partial(with_replies, list(turn.replies)))
        store.finish(turn.replies, intent, conf, turn.state, turn.deferred)
        return turn.replies

    def _admission(self, sender_hash: str, text: str) -> list[Decision]:
        """[] when nothing limits this message; else the limiter's decision (bot/ratelimit.py):
        over the limit the message stays logged but unanswered, with one slow-down notice
        per window. Opt-out words always pass."""
        if self.limiter is None or subscriptions.command_intent(text) == "unsubscribe":
            return []
        return [self.limiter.check(sender_hash)]

    def _remember(self, turn: Turn) -> None:
        """Keep the last few words and photos, for a report the villager may start next."""
        if not turn.text and not turn.message.media:
            return
        if turn.form and turn.form.get("step") == "report_form":
            return  # already in the report
        recent = turn.recent()[-(RECENT_KEEP - 1) :]
        entry: dict[str, Any] = {
            "at": now().isoformat(timespec="seconds"),
            # Kept in the state until a report takes it: ID numbers never in clear.
            "text": redact_id_numbers(turn.message.text.strip()[:500]),
        }
        if turn.message.media:
            entry["media"] = [[m.url, m.content_type] for m in turn.message.media[:3]]
        if turn.parse is not None:
            # What it was read as: a report carries the clues, not "以后别发了" or "你好".
            entry["intent"] = turn.parse.intent
        turn.state["recent"] = [*recent, entry]

    # --- the order of checks -------------------------------------------------------
    def respond(self, turn: Turn) -> None:
        # What the last answer was about lives one turn: this turn's answer sets its own.
        turn.last_topic = turn.state.pop("topic", None)
        text = turn.text
        if not has_words(text) and not turn.message.media:
            key = "empty_message" if not text else "unreadable_message"
            turn.say(*join_if_fits(responses.text(key), responses.text("menu")))
            return
        command = subscriptions.command_intent(text)
        if command:
            turn.parse = Parse(text, command, 1.0)
            before = len(turn.replies)
            self.run(command, turn)
            form = turn.form
            skill = self._forms.get(form["step"]) if form else None
            if form and skill is not None and not skill.yields_to_menu and form.get("slot"):
                # T in the middle of a report: done, and the report's question again (the
                # report is still open; a bare "T" never answers it).
                self._ask_again_after(skill, turn, before)
            return
        if victim_words(text) and (
            not control_words.denies_an_act(text)
            or victim_words(control_words.without_denials(text))
        ):
            # Harm said, and not only in a clause that denies it or a promise
            # (他们要验证码 我不给他们; 还没扫 他们说扫了送油): first aid at once.
            self.first_aid(turn)
            return
        if self._confirmation(turn):
            return
        if any(skill.follow_up(self, turn) for skill in self.skills):
            return
        form = turn.form
        if form and form.get("step") in self._forms:
            self.take_form(self._forms[form["step"]], turn)
            return
        if form:  # a form this engine no longer has: forget it
            turn.state.pop("form", None)
        self.respond_fresh(turn)

    def respond_fresh(self, turn: Turn) -> None:
        """A message read outside any form (also: a form that ended, read anew)."""
        text = turn.text
        if not turn.message.media and (
            text == "0" or (turn.state.get("more") and control_words.asks_what_now(text))
        ):
            self.more(turn)
            return
        if not turn.message.media and self._about_the_last_answer(turn):
            return
        if text in responses.MENU_CHOICES and not turn.message.media:
            turn.parse = Parse(text, responses.MENU_CHOICES[text], 1.0)
            self.run(turn.parse.intent, turn, menu=True)
            return
        for skill in self.skills:
            if skill.recognise(self, turn):
                return
        if text.isdigit() and len(text) <= 3 and not turn.message.media:
            # A menu digit we do not have (99, 8): the menu again, never a model's guess.
            self.unsure(turn, "fallback")
            return
        if len(text) > MAX_TEXT:
            turn.say(responses.text("too_long"))
            text = text[:MAX_TEXT]
        turn.parse = self.parser.parse(text)
        intent, confidence = turn.parse.intent, turn.parse.confidence
        if intent == "already_victim" and (
            control_words.ends_in_denial(text) or control_words.only_denied_harm(text)
        ):
            # "叫俺把医保卡和手机给他们 俺没给", "我妈没把验证码给他们 她挂了电话": the
            # visit, not harm (no victim words left once the denied acts are cut out, or
            # step 3 had answered): the warning and the offer to report, even
            # when the model is unsure (a story it half-recognises as harm is still one).
            intent = "report_suspicious_visit"
            confidence = max(confidence, MIN_CONFIDENCE)
            turn.parse = Parse(text, intent, confidence, turn.parse.entities)
        if intent == FALLBACK_INTENT or confidence < MIN_CONFIDENCE:
            self.unsure(turn, "fallback" if intent == FALLBACK_INTENT else "low_confidence")
            return
        if confidence < REVIEW_BELOW:
            # Answered, and shown to the supervisors too.
            self.for_review(turn, "low_confidence")
        if intent in SIDE_EFFECT_INTENTS and control_words.declines_report(text):
            # "先不报了 我再看看" after the offer to report: about the report, not the
            # tips (a model reads 不…了 as an opt-out). Nothing is filed or changed.
            turn.parse = Parse(text, "follow_up", confidence, turn.parse.entities)
            turn.state.pop("offer", None)
            turn.say(responses.text("report_declined"))
            return
        if intent in SIDE_EFFECT_INTENTS and (
            confidence < SURE_CONFIDENCE or contrary(intent, text)
        ):
            self.confirm(turn, intent)
            return
        self.run(intent, turn)

    # --- what skills ask of the engine ----------------------------------------------
    def run(self, intent: str, turn: Turn, *, menu: bool = False, **values: Any) -> None:
        """Answer ``intent`` with its skill (or the plain answer from replies.yml).
        ``menu``: chosen by menu digit (a deliberate choice). ``values`` go to the skill."""
        turn.state["last_intent"] = intent
        skill = self._by_intent.get(intent)
        if skill is None:
            self.plain_answer(turn, intent)
            return
        if values or menu:
            turn.state["run_with"] = {"menu": menu, **values}
        try:
            skill.answer(self, turn, intent)
        finally:
            turn.state.pop("run_with", None)

    def start_report(
        self,
        turn: Turn,
        intent: str,
        entities: list[Entity] | None = None,
        summary: str | None = None,
    ) -> None:
        """Open the report form (whatever skill owns it) with what is already known."""
        turn.parse = Parse(turn.text, intent, 1.0, entities or [])
        self.run("start_report", turn, report_intent=intent, summary=summary)

    def _about_the_last_answer(self, turn: Turn) -> bool:
        """A short reply that only makes sense after the last answer: "没转" after the
        first aid, a bare "是不是骗子" after a warning, "我不会弄" after how to open the
        e-voucher. Read against that answer, not by the model (which sees two words)."""
        topic, text = turn.last_topic, turn.text
        if topic is None:
            return False
        key = None
        if topic in HARM_TOPICS and (
            control_words.denies_harm(text)
            or (len(text) <= 24 and control_words.ends_in_denial(text))
        ):
            # "没转", and a correction that ends in one: "没有 俺记错了 俺没给".
            key = "follow_up.not_harmed"
        elif topic in WARNING_TOPICS and (
            control_words.asks_if_real(text) or control_words.asks_to_comply(text)
        ):
            # A visiting team may be registered (registry/): check first, not "a scam"
            # outright; after a warning about codes, phones or QR codes it is the scam.
            key = "follow_up.check_first" if topic in VISIT_TOPICS else "follow_up.is_a_scam"
        elif topic == "scam_text" and (
            control_words.asks_if_real(text) or control_words.asks_what_now(text)
        ):
            key = "follow_up.text_is_scam"
        elif topic == "text_unsure" and (
            control_words.asks_if_real(text) or control_words.asks_what_now(text)
        ):
            key = "follow_up.text_unsure"
        elif topic == "code_sms" and (
            control_words.asks_for_code(text) or control_words.asks_to_comply(text)
        ):
            key = "follow_up.code_asked"
        elif (
            topic == "debit"
            and turn.form is None
            and (control_words.not_mine(text) or control_words.asks_what_now(text))
        ):
            self.first_aid(turn)  # a debit they never made: money gone
            return True
        elif topic == "activate_voucher" and control_words.cannot_do_it(text):
            key = "follow_up.cannot_do_it"
        if key is None:
            return False
        turn.state["topic"] = topic  # a second short reply may still be about it
        turn.parse = Parse(text, "follow_up", 1.0)
        turn.say(responses.text(key))
        return True

    def plain_answer(self, turn: Turn, intent: str) -> None:
        text, more = responses.answer(intent)
        turn.state["topic"] = intent
        if more:
            turn.state["more"] = intent
        else:
            turn.state.pop("more", None)
        if intent == "out_of_scope":
            # Often a scam story the model did not place (有个叫人民医院的来俺村了): the
            # safety line goes with "I can't help with that", as with any unsure answer.
            turn.say(*join_if_fits(text, responses.text("safety_line"), responses.text("menu")))
        elif intent in ("help", "greet"):
            turn.say(*join_if_fits(text, responses.text("menu")))
        else:
            turn.say(text)

    def more(self, turn: Turn) -> None:
        intent = turn.state.pop("more", None)
        if not intent:
            turn.say(*join_if_fits(responses.text("no_more"), responses.text("menu")))
            return
        _text, more = responses.answer(intent)
        turn.say(more or responses.text("no_more"))

    def first_aid(self, turn: Turn) -> None:
        """Victim words: the urgent steps now; a form in progress asks its question again."""
        turn.parse = Parse(turn.text, "already_victim", 1.0)
        form = turn.form
        skill = self._forms.get(form["step"]) if form else None
        text, _more = responses.answer("already_victim")
        turn.state["more"] = turn.state["topic"] = "already_victim"
        if skill is not None and skill.yields_to_menu:
            # A check or a subscription loses nothing by ending: the first aid alone,
            # with the offer to report, not "send the code on the letter" after it.
            turn.state.pop("form", None)
            skill = None
        if skill is not None:
            skill.received(self, turn)
            skill.victim(self, turn)
            turn.say(*join_if_fits(text, skill.current_question(self, turn)))
            return
        if "already_victim" in self._by_intent:  # its skill: first aid, a report if asked
            self.run("already_victim", turn)
            return
        turn.say(text)

    def unsure(self, turn: Turn, reason: str) -> None:
        """THE one place the engine says it did not understand: the safety line first,
        then "say it again" and the menu. ``unsure_hooks`` record the turn (review/)."""
        self.for_review(turn, reason)
        turn.say(
            *join_if_fits(
                responses.text("safety_line"),
                responses.text("not_understood"),
                responses.text("menu"),
            )
        )

    def for_review(self, turn: Turn, reason: str) -> None:
        """Hand a turn to the ``unsure_hooks`` (the supervisors' review, review/): the
        engine's own unsure turns, and a skill's (a verdict the villager said 没用)."""
        seen = copy.copy(turn)  # as it is now: the parse may change before the turn ends
        for hook in self.unsure_hooks:
            # Run at the turn's end (Store.finish), where a failure is logged and undone
            # alone: a recorder must never cost the villager the answer.
            turn.deferred.append(functools.partial(hook, seen, reason))

    def confirm(self, turn: Turn, intent: str) -> None:
        """A side effect from a low-confidence parse: ask first ("回1确认")."""
        turn.state["confirm"] = {"intent": intent, "text": turn.text[:500]}
        turn.say(responses.text(f"confirm.{intent}"))

    def _confirmation(self, turn: Turn) -> bool:
        pending = turn.state.pop("confirm", None)
        if not pending:
            return False
        if control_words.is_yes(turn.text):
            intent = pending["intent"]
            turn.text = pending.get("text") or turn.text
            turn.parse = Parse(turn.text, intent, 1.0)
            self.run(intent, turn)
            return True
        if control_words.is_no(turn.text):
            turn.say(responses.text("confirm_dropped"))
            return True
        return False  # something else: read it as a new message

    def take_form(self, form: Form, turn: Turn) -> None:
        """The form loop: TTL, leave words, form extras, questions through, fill, re-ask once."""
        state, before = turn.state["form"], len(turn.replies)
        try:
            self._take_form(form, turn, state)
        finally:
            form.replied(self, turn, state, turn.replies[before:])

    def _take_form(self, form: Form, turn: Turn, state: dict[str, Any]) -> None:
        started = dt.datetime.fromisoformat(state.get("at") or now().isoformat())
        if now() - started > form.ttl:
            form.expire(self, turn)
            turn.state.pop("form", None)
            self.respond_fresh(turn)
            return
        form.received(self, turn)
        if control_words.is_leave(turn.text):
            form.leave(self, turn)
            turn.state.pop("form", None)
            return
        if form.own_reply(self, turn):
            return
        slot = state.get("slot")
        if slot is None:
            return
        if not turn.message.media and control_words.only_acknowledges(turn.text):
            # "好的", "嗯", "谢谢" at a question: no answer to it (a village called
            # "好的", details that say "谢谢"), nor "you're welcome" alone: asked again.
            question = form.current_question(self, turn)
            if question:
                turn.parse = Parse(turn.text, "follow_up", 1.0)
                turn.say(question)
                return
        skip = control_words.is_skip(turn.text)
        if (
            not skip
            and not form.looks_like_answer(self, turn, slot)
            and self._question_through(form, turn)
        ):
            return
        filled = form.fill(self, turn, slot, skip)
        if filled is None:
            return
        if not filled:
            if turn.form is not state:  # the form ended itself (e.g. moved on)
                return
            if slot not in state["retried"]:
                state["retried"].append(slot)
                turn.say(form.ask(self, turn, slot, again=True))
                return
            form.give_up(self, turn, slot)
            if turn.form is not state:
                return
        if turn.form is not state:
            return
        question = form.next_question(self, turn)
        if question:
            turn.say(question)
        else:
            form.submit(self, turn)

    def _question_through(self, form: Form, turn: Turn) -> bool:
        """A confident question or other intent inside a form: answer it, ask again."""
        if turn.text in responses.MENU_CHOICES or turn.text == "0":
            if turn.text == "0":
                self.more(turn)
                turn.say(form.current_question(self, turn))
                return True
            chosen = responses.MENU_CHOICES[turn.text]
            opens_a_form = isinstance(self._by_intent.get(chosen), Form)
            if form.yields_to_menu and opens_a_form and chosen not in form.own_intents:
                # "3" after 订阅 is a wish to report, not a village: answered only (no
                # form inside a form), the same digit would meet the same question for ever.
                turn.state.pop("form", None)
                self.respond_fresh(turn)
                return True
            if chosen in form.own_intents or chosen in SIDE_EFFECT_INTENTS:
                # "3" while reporting, "6" while subscribing or mid-report: never an
                # answer to the slot (a village called "3"); say so and ask again.
                key = "own" if chosen in form.own_intents else "later"
                note = responses.text(f"form_digit.{key}", digit=turn.text)
                turn.parse = Parse(turn.text, chosen, 1.0)
                turn.say(*join_if_fits(note, form.current_question(self, turn)))
                return True
            turn.parse = Parse(turn.text, chosen, 1.0)
        elif _NUMBER_ONLY.match(turn.text):
            return False  # a phone number, a date in digits: the form judges it, not the model
        elif turn.state.get("more") and control_words.asks_what_now(turn.text):
            before = len(turn.replies)
            self.more(turn)  # "现在咋办" right after advice with further steps
            self._ask_again_after(form, turn, before)
            return True
        else:
            before = len(turn.replies)
            if self._about_the_last_answer(turn):  # "这个要去吗" right after the warning
                self._ask_again_after(form, turn, before)
                return True
            turn.parse = self.parser.parse(turn.text[:MAX_TEXT])
        intent, confidence = turn.parse.intent, turn.parse.confidence
        asking = form.is_question(turn)
        if intent == FALLBACK_INTENT or (intent in form.own_intents and not asking):
            return False
        needed = MIN_CONFIDENCE if asking else SURE_CONFIDENCE
        if confidence < needed and turn.text not in responses.MENU_CHOICES:
            return False
        if intent in SIDE_EFFECT_INTENTS:
            # Only the exact words act inside a form (step 2). A confident ask in other
            # words (顺便给我订阅一下) in a form that keeps its questions is never the
            # slot's answer (a time called "订阅"): "after this one", and the question.
            if intent in form.own_intents or form.yields_to_menu or confidence < SURE_CONFIDENCE:
                return False
            digit = "6" if intent == "subscribe" else "T"
            note = responses.text("form_digit.later", digit=digit)
            turn.say(*join_if_fits(note, form.current_question(self, turn)))
            return True
        before = len(turn.replies)
        turn.answer_only = True
        try:
            self.run(intent, turn)
        finally:
            turn.answer_only = False
        self._ask_again_after(form, turn, before)
        return True

    def _ask_again_after(self, form: Form, turn: Turn, before: int) -> None:
        """The answer given since reply ``before``, then the slot's question again in the
        same reply (unless the answer ended the form)."""
        answer = turn.replies[before:]
        del turn.replies[before:]
        if turn.form is None:  # the other skill ended the form
            turn.say(*answer)
            return
        turn.say(*join_if_fits(*answer, form.current_question(self, turn)))
