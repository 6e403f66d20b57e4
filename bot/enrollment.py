"""The 订阅 / 退订 conversation, and "how do I know a message is really from you?".

A villager who texts 订阅 is subscribed at once (consent: now, this channel, "self").
If the message names a known village (the NLU ``village`` entity, or a group's village
name in the text) they join that group; otherwise the bot asks which village, as a
small form. Opt-out words never reach the form: the dialogue honours them first.

In WeChat the bot then offers to take a phone number (optional, "跳过" skips): WeChat
lets the account write to a follower only within 48 hours of their last message, so
outside that window tips and alerts go by SMS to this number (outreach/outbox.py).
"""

from __future__ import annotations

import re

import responses
from bot import subscriptions
from bot.engine import Engine, Form, Turn
from outreach import groups, phones, texts
from reporting import jurisdiction

FORM = "subscribe"
MAX_TRIES = 2
# A reply that reads like a place name (石桥村, 王家庄, 清水社区), not a new question.
_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,12}(村|屯|庄|寨|社区|组|镇|乡|街道)$")
# "How do I tell a real message from a fake one?"
_AUTHENTICITY = re.compile(
    r"真假短信|短信.{0,8}(真假|是真|是假|真的|假的|你们发的)|辨别.{0,6}短信|"
    r"(分辨|辨别|识别|区分).{0,8}(真假|真的|假的)|尾号|是不是你们发的|是你们发的|怎么知道.{0,10}你们"
)
# A number inside a reply ("我的手机号是138 1234 5678" after clean()); else, a reply made
# only of digits and separators is a mistyped number rather than a new question.
_NUMBER_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
_NUMBER_LIKE = re.compile(r"^[+\d\-()]{5,20}$")


# Subscribing (or stopping) for another person: 帮我爸订阅, 给俺村张大爷订一下, 替她退订.
_FOR_WHOM = re.compile(
    r"(?:帮|给|替|为)([^，。,.!！?？\s]{1,10}?)(?:也|都)?"
    r"(?:订阅|订上|订一下|订个|订了|开通提醒|退订|取消订阅|退掉)"
)
_SELF = re.compile(r"^(?:我|俺|咱|偶|自己|我们|俺们|咱们|本人)?(?:自己)?(?:把|将)?(?:这个|那个)?$")


def for_someone_else(text: str) -> bool:
    """The subscription asked for (or stopped) is another person's, not the sender's."""
    match = _FOR_WHOM.search(text)
    return bool(match and not _SELF.match(match.group(1)))


def _named_village(engine: Engine, turn: Turn) -> list[str]:
    """A village of the county named with the ask ("订阅 金田村"), when it is one."""
    names = turn.entities("village")
    if names or subscriptions.command_intent(turn.text):
        return names[:1]
    rows, how = jurisdiction.find_villages(engine.db, turn.text)
    villages = {r["village"] for r in rows}
    return sorted(villages) if how in ("exact", "contains") and len(villages) == 1 else []


def asks_authenticity(text: str) -> bool:
    return bool(_AUTHENTICITY.search(text))


class EnrollmentForm(Form):
    """订阅 / 退订; after 订阅, which village (a group) and, in WeChat, a phone number."""

    name = "enrollment"
    form_name = FORM
    intents = ("subscribe", "unsubscribe")
    slots = ("village", "phone")
    own_intents = frozenset({"subscribe"})
    yields_to_menu = True

    def answer(self, engine: Engine, turn: Turn, intent: str) -> None:
        if for_someone_else(turn.text):
            # "帮俺村张大爷订阅一下", "替我妈退订": consent is the person's own, and this
            # number is not theirs. Nothing changes for the sender.
            key = "for_someone_else_out" if intent == "unsubscribe" else "for_someone_else"
            turn.say(texts.enroll_text(key))
            return
        if intent == "unsubscribe":
            self._unsubscribe(engine, turn)
        else:
            self._subscribe(engine, turn)

    def _subscribe(self, engine: Engine, turn: Turn) -> None:
        message, db = turn.message, engine.db
        if not subscriptions.subscribe(db, engine.vault, message.sender, message.channel):
            turn.say(responses.text("already_subscribed"))
            return
        sub = groups.subscriber(db, engine.vault, message.sender)
        if sub is None:  # subscribe() just wrote it; cannot happen short of a race
            engine.plain_answer(turn, "subscribe")
            return
        with db.atomic():
            groups.record_consent(db, sub["id"], "subscribed", message.channel, "self")
        other_form = turn.state.get("form")
        group = None
        if not sub["group_id"]:
            for candidate in [*turn.entities("village"), turn.text]:
                matches = groups.find_villages(db, candidate)
                if len(matches) == 1:
                    group = matches[0]
                    break
        named = [] if group is not None or sub["group_id"] else _named_village(engine, turn)
        if group is not None:
            groups.assign_group(db, sub["id"], group)
            turn.say(texts.enroll_text("village_set", village=group["village"]))
        elif named:
            # "订阅 金田村": the village said with the ask is not asked for again.
            groups.set_village_text(db, sub["id"], named[0])
            turn.say(texts.enroll_text("subscribed_place", village=named[0]))
        elif sub["group_id"] or other_form:
            engine.plain_answer(turn, "subscribe")
        if other_form:  # another form (a report) is in progress: do not take over
            return
        self.open(
            turn,
            subscriber_id=sub["id"],
            tries=0,
            asked=[],
            village_known=bool(sub["group_id"] or group or named),
        )
        turn.say(self.next_question(engine, turn))
        if turn.state["form"].get("slot") is None:
            turn.state.pop("form", None)

    def _unsubscribe(self, engine: Engine, turn: Turn) -> None:
        message, db = turn.message, engine.db
        if (turn.state.get("form") or {}).get("step") == FORM:
            turn.state.pop("form", None)
        sub = groups.subscriber(db, engine.vault, message.sender)
        stopped = subscriptions.unsubscribe(db, engine.vault, message.sender, message.channel)
        if sub is None:
            # Never subscribed: nothing was coming; recorded so no cadre can enrol them.
            turn.say(responses.text("never_subscribed"))
            return
        if not stopped:
            turn.say(responses.text("already_unsubscribed"))
            return
        with db.atomic():
            db.table("subscribers").update(sub["id"], {"opt_out_reason": message.channel})
            groups.record_consent(db, sub["id"], "opted_out", message.channel, "self")
        engine.plain_answer(turn, "unsubscribe")

    def needed(self, engine: Engine, turn: Turn, slot: str) -> bool:
        form = turn.state["form"]
        if slot == "village":
            return not form.get("village_known")
        return turn.message.channel == "wechat" and not phones.has_phone(
            engine.db, form["subscriber_id"]
        )

    def ask(self, engine: Engine, turn: Turn, slot: str, again: bool = False) -> str:
        form = turn.state["form"]
        if slot == "village":
            if again and form.get("example"):
                return texts.enroll_text(
                    "village_ambiguous", village=form.get("given", ""), example=form["example"]
                )
            return texts.enroll_text("ask_village")
        return texts.enroll_text("phone_invalid" if again else "ask_phone")

    def current_question(self, engine: Engine, turn: Turn) -> str:
        # Asked again after a question let through: the slot only, not the news of the
        # subscription that the first ask_village carries (it was said already).
        if turn.state["form"].get("slot") == "village":
            return texts.enroll_text("remind_village")
        return super().current_question(engine, turn)

    def looks_like_answer(self, engine: Engine, turn: Turn, slot: str) -> bool:
        text = re.sub(r"\s+", "", turn.text)
        if slot == "village":
            return bool(_PLACE.match(text)) or bool(groups.find_villages(engine.db, text))
        return bool(_NUMBER_IN_TEXT.search(text) or _NUMBER_LIKE.match(text))

    def fill(self, engine: Engine, turn: Turn, slot: str, skip: bool) -> bool | None:
        form = turn.state["form"]
        text = re.sub(r"\s+", "", turn.text)
        if slot == "village":
            return self._village(engine, turn, form, text, skip)
        return self._phone(engine, turn, form, text, skip)

    def _village(
        self, engine: Engine, turn: Turn, form: dict, text: str, skip: bool
    ) -> bool | None:
        if skip:
            turn.say(texts.enroll_text("skipped"))
            return True
        matches = groups.find_villages(engine.db, text)
        if len(matches) == 1:
            groups.assign_group(engine.db, form["subscriber_id"], matches[0])
            turn.say(texts.enroll_text("village_set", village=matches[0]["village"]))
            return True
        if len(matches) > 1 and form.get("tries", 0) < MAX_TRIES:
            form["tries"] = form.get("tries", 0) + 1
            form["given"], form["example"] = text, matches[0]["township"] + matches[0]["village"]
            turn.say(self.ask(engine, turn, "village", again=True))
            return None
        if _PLACE.match(text) or matches:
            groups.set_village_text(engine.db, form["subscriber_id"], text)
            turn.say(texts.enroll_text("village_unknown", village=text))
            return True
        # Not a place: a new question. Answer it as if no form had been open.
        turn.state.pop("form", None)
        engine.respond_fresh(turn)
        return True

    def _phone(self, engine: Engine, turn: Turn, form: dict, text: str, skip: bool) -> bool | None:
        if skip:
            turn.say(texts.enroll_text("phone_skipped"))
            return True
        found = _NUMBER_IN_TEXT.search(text)
        number = groups.valid_phone(found.group(0)) if found else None
        if number is None and _NUMBER_LIKE.match(text):
            number = groups.valid_phone(text)
        if number is not None:
            masked = phones.set_phone(engine.db, engine.vault, form["subscriber_id"], number)
            phones.redact_in_log(engine.db, turn.sender_hash, number)
            turn.say(texts.enroll_text("phone_set", masked=masked))
            return True
        if _NUMBER_LIKE.match(text):
            if form.get("tries", 0) < MAX_TRIES:
                form["tries"] = form.get("tries", 0) + 1
                turn.say(texts.enroll_text("phone_invalid"))
                return None
            turn.say(texts.enroll_text("phone_skipped"))
            return True
        turn.state.pop("form", None)
        engine.respond_fresh(turn)
        return True

    def submit(self, engine: Engine, turn: Turn) -> None:
        turn.state.pop("form", None)

    def leave(self, engine: Engine, turn: Turn) -> None:
        turn.say(texts.enroll_text("skipped"))
