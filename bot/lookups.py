"""Known-bad lookups: "这个号码是不是骗子 139...", a forwarded link, or just a number.

The answer says how many reports mention the number or link and in how many villages
(``reporting.link_keys.lookup``: counts only, never who reported or what they wrote), and
always what to do. A number FACTS.md vouches for (110, 96110, 12393, 12381) is named as
official, with the warning that caller ids can be forged.
"""

from __future__ import annotations

import re

import responses
from bot.engine import Engine, Skill, Turn, join_if_fits
from bot.photo_text import remember_ask, verdict_reply
from nlu import Parse
from reporting import link_keys
from reporting import scam_verdicts as verdicts
from scamcheck import signals as scam_signals

# What someone said or asked for, told as a story rather than a plain "look this up".
_A_STORY = re.compile(
    r"打电话|打来|来电|电话说|说是|自称|冒充|让我|叫我|让俺|叫俺|要我|加微信|加QQ"
)


def is_bare_lookup(text: str) -> bool:
    """A message that is nothing but a phone number or a link (outside any form)."""
    return link_keys.is_lookup_only(text)


def _month(value: str | None) -> str:
    if not value:
        return ""
    year, month = value.split("-")
    return f"{year}年{int(month)}月"


def answer(found: link_keys.Count) -> str:
    texts = responses.catalogue("lookups")
    if found.official:
        return texts["official"][found.official].strip()
    what = texts["what"][found.kind].format(display=found.display)
    if found.reports:
        found_text: str = texts["found"].strip()
        return found_text.format(
            what=what,
            count=found.reports,
            villages=max(found.villages, 1),
            month=_month(found.last_month),
        )
    return texts["none"].strip().format(what=what)


class LookupSkill(Skill):
    """check_number, and a message that is nothing but a number or a link."""

    name = "lookups"
    intents = ("check_number",)

    def recognise(self, engine: Engine, turn: Turn) -> bool:
        if turn.message.media or not is_bare_lookup(turn.text):
            return False
        turn.parse = Parse(turn.text, "check_number", 1.0)
        self.answer(engine, turn, "check_number")
        return True

    def answer(self, engine: Engine, turn: Turn, intent: str) -> None:
        text = turn.text
        found = link_keys.lookup(engine.db, engine.vault, text)
        last = turn.state.get("last_lookup")
        if not found and last and turn.last_topic == "check_number":
            # "这个号码是骗子吗" right after a number was looked up: about that number.
            text, found = last, link_keys.lookup(engine.db, engine.vault, last)
        if not found:
            # No number or link in it. A story of a call (有人打电话说是医保局的 让我加微信)
            # gets the safety line with "send me the number"; a plain 帮我查号码 does not.
            ask = responses.catalogue("lookups")["ask"].strip()
            safety = responses.text("safety_line") if _A_STORY.search(text) else ""
            turn.say(*join_if_fits(safety, ask))
            return
        turn.state["topic"] = "check_number"
        turn.state["last_lookup"] = text[:200]
        # Asking about a number or link is asking: a police verdict on it within 30 days
        # reaches this villager (SMS and WeChat; web chat cannot be pushed to), and a
        # verdict already given answers instead of the counts.
        judged = scam_signals.judge(text)
        keys = verdicts.keys_of(engine.vault, phones=judged.phones, links=judged.links)
        remember_ask(engine, turn, keys)
        marked = verdicts.verdict(engine.db, keys)
        if marked:
            turn.say(verdict_reply(marked))
            return
        turn.say(*join_if_fits(*[answer(f) for f in found]))
