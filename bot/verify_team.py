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
from bot import control_words
from bot.engine import Engine, Form, Turn, join_if_fits
from nlu.parser import Entity
from registry import activities
from reporting import cadres, jurisdiction
from scamcheck import signals as scam_signals

FORM = "verify_team"
REPORT_REPLY = "1"
# An answer to "what does the letter say?" that names an organisation, not a sentence.
_ORGANISATION = re.compile(
    r"(局|公司|银行|支行|中心|医院|卫生院|委员会|保险|人寿|移动|联通|电信|协会|集团|办事处|服务站)$"
)
_ORGANISATION_WORD = re.compile(_ORGANISATION.pattern.rstrip("$"))
# A reply that is only a phone number (mobile or landline): never a work ID.
# The county or city an organisation's registered name starts with (桂平市人民医院).
_PLACE_PREFIX = re.compile(r"^[\u4e00-\u9fff]{2,4}?[省市县区]")
# Left over around a code, "编号YB-450881-2025-0001是真的吗" is still a bare code.
MAX_AROUND_CODE = 12
# The team showed nothing to check: 没给编号, 没有工作证, 拿不出介绍信, 没让看证件.
_NO_CLUE = re.compile(
    r"(?:没|没有|不给|没给|没带|没拿|拿不出|没出示|没看到|没看见|没见|没让看|不让看|没说|不肯给)"
    r"[^，。,.!！?？]{0,4}(?:编号|证|胸牌|信|文件|批文|授权|手续)"
)
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


def _find_village(dialogue: Engine, text: str) -> str | None:
    """The village named in ``text``, spelled as the jurisdiction table does (with its
    township when that settles which one), or None."""
    rows, how = jurisdiction.find_villages(dialogue.db, text)
    if not rows or how not in ("exact", "contains", "near"):
        return None
    if len(rows) == 1:
        return rows[0]["township"] + rows[0]["village"]
    return rows[0]["village"]  # in several townships: the check accepts any of them


def _only_a_village(dialogue: Engine, text: str) -> bool:
    """The message is just a village's name (金田村, 金田镇新圩村), nothing to check."""
    return len(text) <= 12 and jurisdiction.find_villages(dialogue.db, text)[1] == "exact"


def _registered_organisation(db: Any, text: str) -> str | None:
    """An organisation the bureau registered, named anywhere in ``text``."""
    if not _ORGANISATION_WORD.search(text):
        return None  # no word an organisation's name ends with: no query
    given = activities.normalise_organisation(text)
    if not given:
        return None
    for name, norm in db.execute(
        "SELECT DISTINCT organisation, organisation_norm FROM registry_activities"
    ).fetchall():
        if norm and len(norm) >= 4 and norm in given:
            return str(name)
        # Villagers drop the place: 桂平市人民医院 is "人民医院" to them. (医保局 alone is
        # too short to count: anyone can claim it, the letter's code tells.)
        local = _PLACE_PREFIX.sub("", norm or "")
        if local != norm and len(local) >= 4 and local in given:
            return str(name)
    return None


def _entities(turn: Turn, name: str) -> list[str]:
    return turn.entities(name)


def _work_id(text: str) -> str | None:
    """A work ID, but never a bare phone number (that is a lookup): one named as
    工作证/工号, or one with letters in it."""
    value = activities.parse_work_id(text)
    if value and (re.search(r"工作证|工号|证号", text) or re.search(r"[A-Z]", value)):
        return value
    return None


class VerifyTeamForm(Form):
    """Is the team in front of me authorised? Slots: what (code, work ID or organisation),
    village; then the verdict, and for anything but "authorised" the offer 回1举报."""

    name = "verify_team"
    form_name = FORM
    intents = ("verify_team",)
    slots = ("what", "village", "report")
    own_intents = frozenset({"verify_team"})
    yields_to_menu = True

    def recognise(self, engine: Engine, turn: Turn) -> bool:
        """A code, work ID or registered organisation anywhere in a first message."""
        if turn.message.media:
            return False
        code = activities.find_code(turn.text)
        work_id = _work_id(turn.text)
        organisation = None if (code or work_id) else _registered_organisation(engine.db, turn.text)
        if not (code or work_id or organisation):
            return False
        turn.parse = turn.parse or engine.parser.parse(turn.text[:500])
        turn.state.pop("more", None)
        _start(engine, turn, code=code, work_id=work_id, organisation=organisation)
        turn.say(self.next_question(engine, turn))
        return True

    def answer(self, engine: Engine, turn: Turn, intent: str) -> None:
        """With a clue in the message: check it. Otherwise the general warning, which
        asks for the code on the letter; the form waits for it."""
        if turn.answer_only:
            engine.plain_answer(turn, intent)
            return
        code = activities.find_code(turn.text)
        work_id = activities.parse_work_id(turn.text)
        organisation = None if (code or work_id) else _registered_organisation(engine.db, turn.text)
        if code or work_id or organisation:
            turn.state.pop("more", None)
            _start(engine, turn, code=code, work_id=work_id, organisation=organisation)
            turn.say(self.next_question(engine, turn))
            return
        engine.plain_answer(turn, intent)
        # "医保局" alone is not asked about: anyone can claim it, the letter's code tells.
        _start(engine, turn)["slot"] = "what"

    def next_question(self, engine: Engine, turn: Turn) -> str:
        form = turn.state["form"]
        if not (form.get("code") or form.get("work_id") or form.get("organisation")):
            form["slot"] = "what"
            return _text("ask_what")
        if not form.get("village"):
            form["slot"] = "village"
            return _text("ask_village")
        return _verdict(engine, turn, form)

    def ask(self, engine: Engine, turn: Turn, slot: str, again: bool = False) -> str:
        if slot == "what":
            return _text("what_again" if again else "ask_what")
        if slot == "village":
            return _text("village_again" if again else "ask_village")
        return ""

    def looks_like_answer(self, engine: Engine, turn: Turn, slot: str) -> bool:
        text = turn.text
        if slot == "report":
            return True  # 1 or anything else: decided in fill
        if slot == "what":
            if control_words.phone_only(text) or scam_signals.looks_pasted(text):
                return True  # not a clue: fill ends the check and reads it afresh
            if not turn.state["form"].get("village") and _only_a_village(engine, text):
                return True  # the village first: kept, the code asked for again
            return bool(
                activities.find_code(text)
                or activities.parse_work_id(text)
                or (len(text) <= 30 and _ORGANISATION.search(text.strip("。.!！ ")))
            )
        return _find_village(engine, text) is not None

    def own_reply(self, engine: Engine, turn: Turn) -> bool:
        if turn.text == "0" and turn.state.get("more"):
            engine.more(turn)  # the general warning's second page
            return True
        if turn.text.casefold() in ("跳过", "跳", "skip", "不知道"):
            turn.state.pop("form", None)
            turn.say(_text("left"))
            return True
        return False

    def leave(self, engine: Engine, turn: Turn) -> None:
        turn.say(_text("left"))

    def fill(self, engine: Engine, turn: Turn, slot: str, skip: bool) -> bool | None:
        form = turn.state["form"]
        text = turn.text
        if slot == "report":
            if text == REPORT_REPLY:
                _start_report(engine, turn, form)
            else:  # not for this form: it ends and the message is read anew
                turn.state.pop("form", None)
                engine.respond_fresh(turn)
            return True
        if slot == "what" and (control_words.phone_only(text) or scam_signals.looks_pasted(text)):
            # A phone number is no work ID, a pasted SMS no organisation: the check ends
            # and the number is looked up, the SMS judged (a code inside is checked there).
            turn.state.pop("form", None)
            engine.respond_fresh(turn)
            return True
        if slot == "what" and not activities.find_code(text) and _NO_CLUE.search(text):
            # "他们没给编号 就说是县里派来的": nothing to check is itself the answer.
            turn.state.pop("form", None)
            turn.state["offer"] = "report_suspicious_visit"
            turn.state["topic"] = "verify_team"
            turn.say(_text("no_clue"))
            return True
        if slot == "what" and not form.get("village") and _only_a_village(engine, text):
            # "金田村" sent first: kept for the check, and the code asked for again.
            form["village"] = _find_village(engine, text)
            turn.say(_text("village_kept"))
            return None
        if slot == "what":
            form["code"] = activities.find_code(text)
            form["work_id"] = activities.parse_work_id(text)
            if not (form["code"] or form["work_id"]):
                organisation = _organisation(engine, turn)
                if organisation is None:
                    return False
                form["organisation"] = organisation
            form["village"] = _find_village(engine, text) or form.get("village")
        else:
            village = _find_village(engine, text)
            if village is None:
                return False
            form["village"] = village
        day = parse_day(text)
        if day:
            form["day"] = day.isoformat()
        return True

    def give_up(self, engine: Engine, turn: Turn, slot: str) -> None:
        form = turn.state["form"]
        if slot == "village":
            form["village"] = turn.text[:20]  # checked by name: a village outside our table
            return
        turn.state.pop("form", None)  # twice no clue: read the message afresh
        engine.respond_fresh(turn)

    def submit(self, engine: Engine, turn: Turn) -> None:
        turn.state.pop("form", None)


def _verdict(engine: Engine, turn: Turn, form: dict[str, Any]) -> str:
    """Check and answer; the form then waits for 回1 (or ends when authorised)."""
    day = dt.date.fromisoformat(form["day"])
    verdict = activities.check(
        engine.db,
        engine.vault,
        code=form.get("code"),
        work_id=form.get("work_id"),
        organisation=form.get("organisation"),
        village=form["village"],
        day=day,
    )
    answer = _answer(verdict, form, day)
    if verdict.status == "authorised":
        turn.state.pop("form", None)
        return answer
    hold = _text("cadre_hold") if form.get("cadre") else ""
    result = verdict.reason if verdict.reason in ("revoked", "unknown_member") else verdict.status
    form["slot"] = "report"
    form["summary"] = _text(
        "report_summary",
        what=_what(form),
        village=form["village"],
        day=day.isoformat(),
        result=_text(f"results.{result}"),
    )
    return "\n".join(join_if_fits(hold, answer))  # the answer's warning stays last


def _start(dialogue: Engine, turn: Turn, **clues: str | None) -> dict[str, Any]:
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
        "claimed": next(iter(_entities(turn, "organization")), None),
        "village": village,
        "day": (day or activities.today()).isoformat(),
        "cadre": bool(cadre),
        "at": _now().isoformat(timespec="seconds"),
        "slot": None,
        "retried": [],
    }
    turn.state["form"] = form
    return form


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


def _organisation(dialogue: Engine, turn: Turn) -> str | None:
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


def _start_report(engine: Engine, turn: Turn, form: dict[str, Any]) -> None:
    """ "回1举报": the report form, its village (and who they claimed to be) filled in."""
    entities = [Entity("village", form["village"], 0, 0)] if form.get("village") else []
    claimed = form.get("organisation") or form.get("claimed")
    if claimed:
        entities.append(Entity("organization", claimed, 0, 0))
    turn.state.pop("form", None)
    engine.start_report(turn, "report_suspicious_visit", entities, summary=form.get("summary"))


def check_clues(
    engine: Engine, turn: Turn, *, code: str | None, work_id: str | None, text: str = ""
) -> None:
    """Check a code or work ID found elsewhere than in the words (a photographed letter
    or badge, read by OCR; ``text`` is what was read, where the village may be named):
    the same form and answers as a typed code."""
    turn.state.pop("more", None)
    form = _start(engine, turn, code=code, work_id=work_id)
    if not form.get("village") and text:
        form["village"] = _find_village(engine, text)
    turn.say(VerifyTeamForm().next_question(engine, turn))
