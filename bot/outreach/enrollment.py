"""The 订阅 / 退订 conversation, and "how do I know a message is really from you?".

A villager who texts 订阅 is subscribed at once (consent: now, this channel, "self").
If the message names a known village (the NLU ``village`` entity, or a group's village
name in the text) they join that group; otherwise the bot asks which village, as a
small form. Opt-out words never reach the form: the dialogue honours them first.

In WeChat the bot then offers to take a phone number (optional, "跳过" skips): WeChat
lets the account write to a follower only within 48 hours of their last message, so
outside that window tips and alerts go by SMS to this number (bot/outreach/outbox.py).
"""

from __future__ import annotations

import re

import responses
from bot import subscriptions
from bot.dialogue import FORM_HANDLERS, STEPS, Dialogue, Step, Turn, answer_step
from bot.outreach import groups, phones, texts

FORM = "subscribe_village"
PHONE_FORM = "subscribe_phone"
SKIP_WORDS = frozenset({"跳过", "不填", "不知道", "skip"})
MAX_TRIES = 2
# A reply that reads like a place name (石桥村, 王家庄, 清水社区), not a new question.
_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,12}(村|屯|庄|寨|社区|组|镇|乡|街道)$")
# "How do I tell a real message from a fake one?"
_AUTHENTICITY = re.compile(
    r"真假短信|短信.{0,8}(真假|是真|是假|真的|假的|你们发的)|辨别.{0,6}短信|"
    r"(分辨|辨别|识别|区分).{0,8}(真假|真的|假的)|尾号|是不是你们发的|怎么知道.{0,10}你们"
)
# A number inside a reply ("我的手机号是138 1234 5678" after clean()); else, a reply made
# only of digits and separators is a mistyped number rather than a new question.
_NUMBER_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
_NUMBER_LIKE = re.compile(r"^[+\d\-()]{5,20}$")


def asks_authenticity(text: str) -> bool:
    return bool(_AUTHENTICITY.search(text))


def subscribe(dialogue: Dialogue, turn: Turn) -> None:
    message, db = turn.message, dialogue.db
    if not subscriptions.subscribe(db, dialogue.vault, message.sender, message.channel):
        turn.say(responses.text("already_subscribed"))
        return
    sub = groups.subscriber(db, dialogue.vault, message.sender)
    if sub is None:  # subscribe() just wrote it; cannot happen short of a race
        answer_step(dialogue, turn)
        return
    with db.atomic():
        groups.record_consent(db, sub["id"], "subscribed", message.channel, "self")
    if sub["group_id"]:
        answer_step(dialogue, turn)
        ask_phone(dialogue, turn, sub["id"])
        return
    named = [e.value for e in (turn.parse.entities if turn.parse else []) if e.entity == "village"]
    for candidate in [*named, turn.text]:
        matches = groups.find_villages(db, candidate)
        if len(matches) == 1:
            _join(dialogue, turn, sub["id"], matches[0])
            return
    if turn.state.get("form"):  # another form (a report) is in progress: do not take over
        answer_step(dialogue, turn)
        return
    turn.state["form"] = {"step": FORM, "subscriber_id": sub["id"], "tries": 0}
    turn.say(texts.enroll_text("ask_village"))


def _join(dialogue: Dialogue, turn: Turn, subscriber_id: int, group: dict) -> None:
    groups.assign_group(dialogue.db, subscriber_id, group)
    turn.say(texts.enroll_text("village_set", village=group["village"]))
    ask_phone(dialogue, turn, subscriber_id)


def village_reply(dialogue: Dialogue, turn: Turn) -> None:
    """The answer to "which village are you in?"."""
    form = turn.state["form"]
    text = re.sub(r"\s+", "", turn.text)
    if text.casefold() in SKIP_WORDS:
        turn.state.pop("form", None)
        turn.say(texts.enroll_text("skipped"))
        ask_phone(dialogue, turn, form["subscriber_id"])
        return
    matches = groups.find_villages(dialogue.db, text)
    if len(matches) == 1:
        turn.state.pop("form", None)
        _join(dialogue, turn, form["subscriber_id"], matches[0])
        return
    if len(matches) > 1 and form.get("tries", 0) < MAX_TRIES:
        form["tries"] = form.get("tries", 0) + 1
        example = matches[0]["township"] + matches[0]["village"]
        turn.say(texts.enroll_text("village_ambiguous", village=text, example=example))
        return
    turn.state.pop("form", None)
    if _PLACE.match(text) or matches:
        groups.set_village_text(dialogue.db, form["subscriber_id"], text)
        turn.say(texts.enroll_text("village_unknown", village=text))
        ask_phone(dialogue, turn, form["subscriber_id"])
        return
    # Not a place: a new question. Answer it as if no form had been open.
    dialogue._respond(turn)


def ask_phone(dialogue: Dialogue, turn: Turn, subscriber_id: int) -> None:
    """WeChat only, once the village is settled: offer SMS fallback (optional)."""
    if turn.message.channel != "wechat" or turn.state.get("form"):
        return
    if phones.has_phone(dialogue.db, subscriber_id):
        return
    turn.state["form"] = {"step": PHONE_FORM, "subscriber_id": subscriber_id, "tries": 0}
    turn.say(texts.enroll_text("ask_phone"))


def phone_reply(dialogue: Dialogue, turn: Turn) -> None:
    """The answer to "a phone number for SMS when WeChat cannot reach you?"."""
    form = turn.state["form"]
    text = re.sub(r"\s+", "", turn.text)
    if text.casefold() in SKIP_WORDS:
        turn.state.pop("form", None)
        turn.say(texts.enroll_text("phone_skipped"))
        return
    found = _NUMBER_IN_TEXT.search(text)
    number = groups.valid_phone(found.group(0)) if found else None
    if number is None and _NUMBER_LIKE.match(text):
        number = groups.valid_phone(text)
    if number is not None:
        turn.state.pop("form", None)
        masked = phones.set_phone(dialogue.db, dialogue.vault, form["subscriber_id"], number)
        phones.redact_in_log(dialogue.db, turn.sender_hash, number)
        turn.say(texts.enroll_text("phone_set", masked=masked))
        return
    if _NUMBER_LIKE.match(text):
        if form.get("tries", 0) < MAX_TRIES:
            form["tries"] = form.get("tries", 0) + 1
            turn.say(texts.enroll_text("phone_invalid"))
            return
        turn.state.pop("form", None)
        turn.say(texts.enroll_text("phone_skipped"))
        return
    # Not a number: a new question. Answer it as if no form had been open.
    turn.state.pop("form", None)
    dialogue._respond(turn)


def unsubscribe(dialogue: Dialogue, turn: Turn) -> None:
    message, db = turn.message, dialogue.db
    if turn.state.get("form", {}).get("step") in (FORM, PHONE_FORM):
        turn.state.pop("form", None)
    if not subscriptions.unsubscribe(db, dialogue.vault, message.sender, message.channel):
        turn.say(responses.text("already_unsubscribed"))
        return
    sub = groups.subscriber(db, dialogue.vault, message.sender)
    if sub is not None:
        with db.atomic():
            db["subscribers"].update(sub["id"], {"opt_out_reason": message.channel})
            groups.record_consent(db, sub["id"], "opted_out", message.channel, "self")
    answer_step(dialogue, turn)


def _answer_authenticity_first(inner: Step) -> Step:
    def step(dialogue: Dialogue, turn: Turn) -> None:
        if asks_authenticity(turn.text):
            turn.state.pop("more", None)
            turn.say(texts.authenticity_answer())
            return
        inner(dialogue, turn)

    step.__name__ = getattr(inner, "__name__", "step")
    return step


# Intents fixed by the NLU model carry the question "is this SMS really from you?"
# (it is read as verifying, privacy or help): answer it before their usual reply.
for _intent in ("verify_team", "privacy_advice", "help", "out_of_scope"):
    STEPS[_intent] = _answer_authenticity_first(STEPS.get(_intent, answer_step))

STEPS["subscribe"] = subscribe
STEPS["unsubscribe"] = unsubscribe
FORM_HANDLERS[FORM] = village_reply
FORM_HANDLERS[PHONE_FORM] = phone_reply
