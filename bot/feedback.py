"""\"Did this help?\" after a verdict on a forwarded message or photo (issue 16).

The verdict's reply ends with 「这个回答有用吗？回复1有用，2没用。」 when it still fits the
SMS budget (``ask``); the next message, if it is 1/有用 or 2/没用 and comes within
``ANSWER_WITHIN``, is the answer: stored by scamcheck/feedback.py, and a 没用 also goes to
the supervisors' review page (review/, through the engine's review hooks) with the
judged message, digits masked. Anything else is read as a new message and the question
is dropped: it is asked once and never traps the villager.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import responses
from bot.engine import Engine, Skill, Turn, now
from nlu import Parse
from scamcheck import feedback

ANSWER_WITHIN = dt.timedelta(minutes=30)
_STATE = "feedback"


def ask(turn: Turn, check: dict[str, Any]) -> None:
    """Add the question to the turn's last reply when it fits in 3 SMS segments, and
    remember what was judged (``check``: photo_text.kept's masked form). Never after
    first aid (money gone): a victim is told what to do, not asked to rate it."""
    if not turn.replies or any(kind == "money_gone" for kind, _ in check.get("signals", [])):
        return
    question = feedback.question()
    joined = f"{turn.replies[-1]}\n{question}"
    if not responses.fits_sms(joined):
        return
    turn.replies[-1] = joined
    turn.state[_STATE] = {
        "at": now().isoformat(),
        "check": {k: check.get(k) for k in ("verdict", "signals", "text")},
        "intent": turn.parse.intent if turn.parse else None,
    }


class FeedbackSkill(Skill):
    name = "feedback"

    def follow_up(self, engine: Engine, turn: Turn) -> bool:
        asked = turn.state.pop(_STATE, None)
        if not asked:
            return False
        helpful = feedback.parse_answer(turn.text)
        at = dt.datetime.fromisoformat(asked.get("at") or "1970-01-01T00:00:00+00:00")
        if helpful is None or now() - at > ANSWER_WITHIN:
            return False
        check = asked.get("check") or {}
        feedback.record(engine.db, helpful, check, turn.message.channel)
        if not helpful and check.get("text"):
            judged = check["text"]
            engine.for_review(
                dataclasses.replace(
                    turn,
                    text=judged,
                    parse=Parse(judged, asked.get("intent") or "check_number", 1.0),
                    replies=[],
                ),
                "not_helpful",
            )
        turn.parse = Parse(turn.text, "thanks", 1.0)
        turn.say(feedback.thanks(helpful))
        return True
