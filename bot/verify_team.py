"""The ``verify_team`` check: is the team in front of me authorised here today?

The villager (or a cadre, before letting a team in) gives what they can see: the code on
the team's letter, a work-ID number, or the organisation's name; then the village (a
cadre's is known) and the day (today unless they say 明天/昨天/5月20日). The answer is
one of four (registry.activities.check): authorised here that day, authorised but not for
this village or day, no record, or a code reported forged. Every answer but the first
offers to report with one reply ("回1举报"), which starts the report form pre-filled.

What the first message already said (a code, a work ID, the village, the day) is not
asked again. A message that is mostly an authorisation code starts the check from
anywhere outside a form (``code_step``, called by the dialogue before the NLU).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

import responses
from bot import report_form
from bot.dialogue import (
    FORM_HANDLERS,
    MIN_CONFIDENCE,
    Dialogue,
    Turn,
    answer_step,
    join_if_fits,
    register_step,
)
from nlu import Parse
from nlu.parser import Entity
from registry import activities
from reporting import cadres, reports, routing

FORM = "verify_team"
FORM_TTL = dt.timedelta(hours=2)
# The report form's skip and cancel words (not imported: report_form may still be loading).
LEAVE_WORDS = {"跳过", "跳", "不知道", "不清楚", "没有", "无", "skip", "取消", "cancel"}
LEAVE_WORDS |= {"不查了", "算了"}
REPORT_REPLY = "1"
# An answer to "what does the letter say?" that names an organisation, not a sentence.
_ORGANISATION = re.compile(
    r"(局|公司|银行|支行|中心|医院|卫生院|委员会|保险|人寿|移动|联通|电信|协会|集团|办事处|服务站)$"
)
# Intents that mean the villager moved on to something else: the form lets them through.
_OTHER_INTENTS = {
    "already_victim",
    "report_qr_code",
    "report_phone_borrowing",
    "report_suspicious_visit",
    "check_report_status",
    "activate_voucher",
    "privacy_advice",
    "subscribe",
    "help",
    "thanks",
    "greet",
}
# Left over around a code, "编号YB-450881-2025-0001是真的吗" is still a bare code.
MAX_AROUND_CODE = 12
_DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "昨天": -1, "前天": -2}
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})[日号]")
_DAY_ONLY = re.compile(r"(?<![\d月])(\d{1,2})号")


def _text(key: str, **values: Any) -> str:
    node: Any = responses.catalogue("registry")
    for part in key.split("."):
        node = node[part]
    return str(node).strip().format(**values)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_day(text: str, today: dt.date | None = None) -> dt.date | None:
    """今天/明天/昨天/前天/后天, 5月20日, 20号 → a date; None when no day is named."""
    today = today or activities.today()
    text = unicodedata.normalize("NFKC", text)
    for word, offset in _DAY_WORDS.items():
        if word in text:
            return today + dt.timedelta(days=offset)
    match = _MONTH_DAY.search(text)
    month, day = (int(match.group(1)), int(match.group(2))) if match else (today.month, 0)
    if not match:
        only = _DAY_ONLY.search(text)
        if not only:
            return None
        day = int(only.group(1))
    try:
        return dt.date(today.year, month, day)
    except ValueError:
        return None


def _day_words(day: dt.date) -> str:
    offset = (day - activities.today()).days
    named = {0: "今天", 1: "明天", -1: "昨天"}
    return named.get(offset, f"{day.month}月{day.day}日")


def _dates(activity: dict[str, Any]) -> str:
    start = dt.date.fromisoformat(activity["start_date"])
    end = dt.date.fromisoformat(activity["end_date"])
    first = f"{start.month}月{start.day}日"
    return first if start == end else f"{first}至{end.month}月{end.day}日"


def _places(activity: dict[str, Any]) -> str:
    names = [p["village"] for p in activity["villages"]] or activity["townships"]
    shown = "、".join(names[:3])
    return shown + (f"等{len(names)}处" if len(names) > 3 else "")


def _short(value: str, limit: int = 20) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _find_village(dialogue: Dialogue, text: str) -> str | None:
    """The village named in ``text``, spelled as the jurisdiction table does (with its
    township when that settles which one), or None."""
    rows, how = routing.find_villages(dialogue.db, text)
    if not rows or how not in ("exact", "contains", "near"):
        return None
    if len(rows) == 1:
        return rows[0]["township"] + rows[0]["village"]
    return rows[0]["village"]  # in several townships: the check accepts any of them


def _entities(turn: Turn, name: str) -> list[str]:
    entities = turn.parse.entities if turn.parse else []
    return [str(e.value) for e in entities if e.entity == name]


def _start(dialogue: Dialogue, turn: Turn, **clues: str | None) -> dict[str, Any]:
    """A new form with what this first message (and the cadre register) already says."""
    cadre = cadres.lookup(dialogue.db, turn.sender_hash)
    village = None
    for candidate in _entities(turn, "village"):
        village = _find_village(dialogue, candidate) or village
    village = village or _find_village(dialogue, turn.text)
    if village is None and cadre:
        village = cadre["township"] + cadre["village"]
    day = parse_day(turn.text)
    form: dict[str, Any] = {
        "step": FORM,
        "ask": None,
        "code": clues.get("code"),
        "work_id": clues.get("work_id"),
        "organisation": clues.get("organisation"),
        "claimed": (_entities(turn, "organization") or [None])[0],
        "village": village,
        "day": (day or activities.today()).isoformat(),
        "cadre": bool(cadre),
        "at": _now().isoformat(timespec="seconds"),
    }
    turn.state["form"] = form
    return form


@register_step("verify_team")
def verify_team(dialogue: Dialogue, turn: Turn) -> None:
    """With a code or work ID in the message: check it. Otherwise the general warning,
    which asks for the code on the letter; the form waits for it."""
    code = activities.find_code(turn.text)
    work_id = activities.parse_work_id(turn.text)
    if code or work_id:
        turn.state.pop("more", None)
        _proceed(dialogue, turn, _start(dialogue, turn, code=code, work_id=work_id))
        return
    answer_step(dialogue, turn)
    # "医保局" alone is not asked about: anyone can claim it, the letter's code tells.
    _start(dialogue, turn)["ask"] = "what"


def code_step(dialogue: Dialogue, turn: Turn) -> bool:
    """Check a message that is mostly an authorisation code; False for anything else."""
    code = activities.find_code(turn.text)
    if not code:
        return False
    if len(activities.around_code(turn.text)) > MAX_AROUND_CODE:
        return False
    turn.parse = Parse(turn.text, "verify_team", 1.0)
    turn.state.pop("more", None)
    work_id = activities.parse_work_id(turn.text)
    _proceed(dialogue, turn, _start(dialogue, turn, code=code, work_id=work_id))
    return True


def _proceed(dialogue: Dialogue, turn: Turn, form: dict[str, Any]) -> None:
    """Ask what is still missing, or answer."""
    if not (form.get("code") or form.get("work_id") or form.get("organisation")):
        form["ask"] = "what"
        turn.say(_text("ask_what"))
        return
    if not form.get("village"):
        form["ask"] = "village"
        turn.say(_text("ask_village"))
        return
    day = dt.date.fromisoformat(form["day"])
    verdict = activities.check(
        dialogue.db,
        dialogue.vault,
        code=form.get("code"),
        work_id=form.get("work_id"),
        organisation=form.get("organisation"),
        village=form["village"],
        day=day,
    )
    answer = _answer(verdict, form, day)
    if verdict.status == "authorised":
        turn.state.pop("form", None)
        turn.say(answer)
        return
    hold = _text("cadre_hold") if form.get("cadre") else ""
    turn.say(*join_if_fits(hold, answer))  # the answer's warning stays last
    result = verdict.reason if verdict.reason in ("revoked", "unknown_member") else verdict.status
    form["ask"] = "report"
    form["summary"] = _text(
        "report_summary",
        what=_what(form),
        village=form["village"],
        day=day.isoformat(),
        result=_text(f"results.{result}"),
    )


def _what(form: dict[str, Any]) -> str:
    for clue in ("code", "work_id", "organisation"):
        if form.get(clue):
            return _text(f"what_{clue}", value=_short(form[clue]))
    return ""


def _answer(verdict: activities.Verdict, form: dict[str, Any], day: dt.date) -> str:
    activity = verdict.activity or {}
    values = {
        "organisation": _short(activity.get("organisation", "")),
        "authorised_by": _short(activity.get("authorised_by", "")),
        "dates": _dates(activity) if activity else "",
        "places": _places(activity) if activity else "",
        "village": _short(form["village"], 12),
        "day": _day_words(day),
    }
    if verdict.status == "forged":
        return _text("forged")
    if verdict.status == "authorised":
        key = "authorised_by_name" if verdict.matched_by == "organisation" else "authorised"
        if key == "authorised" and activity["organisation"] == activity["authorised_by"]:
            key = "authorised_own"
        return _text(key, **values)
    if verdict.status == "elsewhere":
        return _text(verdict.reason, **values)
    if verdict.reason in ("revoked", "unknown_member"):
        return _text(verdict.reason, **values)
    return _text("no_record", what=_what(form))


def handle_answer(dialogue: Dialogue, turn: Turn) -> None:
    form = turn.state["form"]
    text = turn.text
    started = dt.datetime.fromisoformat(form.get("at") or _now().isoformat())
    if _now() - started > FORM_TTL:
        # A question left this long: the message is read afresh.
        _leave(dialogue, turn)
        return
    if text.casefold() in LEAVE_WORDS:
        turn.state.pop("form", None)
        turn.say(_text("left"))
        return
    if text == "0":
        dialogue._more(turn)  # noqa: SLF001  (the general warning's second page)
        return
    ask = form.get("ask")
    if ask == "report":
        if text == REPORT_REPLY:
            _start_report(dialogue, turn, form)
        else:
            _leave(dialogue, turn)
        return
    if text in responses.MENU_CHOICES:
        _leave(dialogue, turn)
        return
    if ask == "village":
        _answer_village(dialogue, turn, form)
    else:
        _answer_what(dialogue, turn, form)


def _leave(dialogue: Dialogue, turn: Turn) -> None:
    """The message is not for this form: the form ends and the message is read anew."""
    turn.state.pop("form", None)
    dialogue._respond(turn)  # noqa: SLF001


def _moved_on(dialogue: Dialogue, turn: Turn) -> bool:
    """True (and the message answered) when it is about something else altogether."""
    turn.parse = dialogue.parser.parse(turn.text[:500])
    if turn.parse.intent in _OTHER_INTENTS and turn.parse.confidence >= MIN_CONFIDENCE:
        turn.state.pop("form", None)
        dialogue.run(turn.parse.intent, turn)
        return True
    return False


def _answer_what(dialogue: Dialogue, turn: Turn, form: dict[str, Any]) -> None:
    text = turn.text
    form["code"] = activities.find_code(text)
    form["work_id"] = activities.parse_work_id(text)
    if not (form["code"] or form["work_id"]):
        organisation = _organisation(dialogue, turn)
        if organisation is None:
            if _moved_on(dialogue, turn):
                return
            if form.get("what_retried"):
                _leave(dialogue, turn)
                return
            form["what_retried"] = True
            turn.say(_text("what_again"))
            return
        form["organisation"] = organisation
    form["village"] = _find_village(dialogue, text) or form.get("village")
    day = parse_day(text)
    if day:
        form["day"] = day.isoformat()
    _proceed(dialogue, turn, form)


def _organisation(dialogue: Dialogue, turn: Turn) -> str | None:
    """The organisation's name in the answer: an entity the model found, or a short answer
    that reads like one (…局, …公司, …银行)."""
    turn.parse = dialogue.parser.parse(turn.text[:500])
    named = _entities(turn, "organization")
    if named:
        return named[0]
    text = turn.text.strip("。.!！ ")
    if len(text) <= 30 and _ORGANISATION.search(text):
        return text
    return None


def _answer_village(dialogue: Dialogue, turn: Turn, form: dict[str, Any]) -> None:
    village = _find_village(dialogue, turn.text)
    if village is None:
        if _moved_on(dialogue, turn):
            return
        if not form.get("village_retried"):
            form["village_retried"] = True
            turn.say(_text("village_again"))
            return
        village = turn.text[:20]  # checked by name: a village outside our table
    form["village"] = village
    day = parse_day(turn.text)
    if day:
        form["day"] = day.isoformat()
    _proceed(dialogue, turn, form)


def _start_report(dialogue: Dialogue, turn: Turn, form: dict[str, Any]) -> None:
    """ "回1举报": the report form, its village (and who they claimed to be) filled in."""
    entities = [Entity("village", form["village"], 0, 0)] if form.get("village") else []
    claimed = form.get("organisation") or form.get("claimed")
    if claimed:
        entities.append(Entity("organization", claimed, 0, 0))
    turn.state.pop("form", None)
    turn.parse = Parse(turn.text, "report_suspicious_visit", 1.0, entities)
    report_form.start_report(dialogue, turn)
    report_id = (turn.state.get("form") or {}).get("report_id")
    if report_id and form.get("summary"):
        reports.update(dialogue.db, report_id, summary=form["summary"])


FORM_HANDLERS[FORM] = handle_answer


def check_clues(
    dialogue: Dialogue, turn: Turn, *, code: str | None, work_id: str | None, text: str = ""
) -> None:
    """Check a code or work ID found elsewhere than in the words (a photographed letter
    or badge, read by OCR; ``text`` is what was read, where the village may be named):
    the same form and answers as a typed code."""
    turn.state.pop("more", None)
    form = _start(dialogue, turn, code=code, work_id=work_id)
    if not form.get("village") and text:
        form["village"] = _find_village(dialogue, text)
    _proceed(dialogue, turn, form)
