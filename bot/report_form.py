"""The report form: a short series of questions over the channel the villager used.

The report row is written at the first message and updated after each answer, so a
reporter who stops answering still leaves a report (it reaches the queue after 30
minutes, see ``reporting.reports.queue``). One question per message; "跳过" skips a
question, "取消" withdraws the report. What the first message already said (village,
time, phone numbers, who they claimed to be) is not asked again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import responses
from bot.dialogue import FORM_HANDLERS, Dialogue, Turn, answer_step, join_if_fits, register_step
from bot.messages import Media
from reporting import cadres, reports, routing

FORM = "report_form"
SKIP_WORDS = {"跳过", "跳", "不知道", "不清楚", "没有", "无", "skip"}
CANCEL_WORDS = {"取消", "取消举报", "不报了", "cancel"}
# A form left this long is closed (the partial report stays) and the next message is
# read afresh: a villager asking something new tomorrow is not taken as an answer.
FORM_TTL = dt.timedelta(hours=2)
QUESTIONS = ("village", "time", "details", "photo")
# Menu words that start the form carry no content worth keeping as the summary.
_NO_SUMMARY = {"3", "举报"}

# Called for every photo a reporter sends, after it is stored as an attachment:
# hook(dialogue, turn, report, attachment_id, media). A hook may add replies with
# turn.say() (e.g. what a QR code in the photo points to).
PhotoHook = Callable[[Dialogue, Turn, dict[str, Any], int, Media], None]
PHOTO_HOOKS: list[PhotoHook] = []


def _text(key: str, **values: Any) -> str:
    return responses.text(f"report_form.{key}", **values)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@register_step(
    "report_qr_code", "report_phone_borrowing", "report_suspicious_visit", "already_victim"
)
def start_report(dialogue: Dialogue, turn: Turn) -> None:
    """The intent's advice first (for a victim: the urgent steps), then the form."""
    db, message = dialogue.db, turn.message
    intent = turn.parse.intent if turn.parse else "report_suspicious_visit"
    answer_step(dialogue, turn)
    advice = list(turn.replies)
    turn.replies.clear()
    cadre = cadres.lookup(db, turn.sender_hash)
    summary = "" if turn.text in _NO_SUMMARY else message.text
    report = reports.create(
        db,
        dialogue.vault,
        channel=message.channel,
        contact=message.sender,
        intent=intent,
        summary=summary,
        cadre=cadre,
        source=turn.source,
    )
    if not reports.messages(db, report["id"]):  # not when resuming after a crash
        reports.add_message(db, report["id"], "in", message.text)
        attach_earlier_check(dialogue, turn, report)
        _store_media(dialogue, turn, report)
    form: dict[str, Any] = {
        "step": FORM,
        "report_id": report["id"],
        "ref": report["ref"],
        "asked": [],
        "at": _now().isoformat(timespec="seconds"),
    }
    turn.state["form"] = form
    _prefill(dialogue, turn, report, cadre)
    question = _next_question(dialogue, turn, form)
    first = _text("created", ref=report["ref"]) + question
    turn.say(*join_if_fits(*advice, first))
    _log_replies(dialogue, report["id"], turn.replies)


def _prefill(
    dialogue: Dialogue, turn: Turn, report: dict[str, Any], cadre: dict[str, Any] | None
) -> None:
    db = dialogue.db
    entities = turn.parse.entities if turn.parse else []
    by_name: dict[str, list[str]] = {}
    for entity in entities:
        by_name.setdefault(entity.entity, []).append(str(entity.value))
    fields: dict[str, Any] = {}
    if by_name.get("time"):
        fields["occurred_text"] = by_name["time"][0]
    extra = []
    if by_name.get("organization"):
        extra.append("自称：" + "、".join(dict.fromkeys(by_name["organization"])))
    if by_name.get("phone_number"):
        extra.append("电话：" + " ".join(dict.fromkeys(by_name["phone_number"])))
    if extra:
        fields["details"] = "；".join(extra)
    if fields:
        reports.update(db, report["id"], **fields)
    if by_name.get("village"):
        _route_village(dialogue, turn, report["id"], by_name["village"][0])
    elif cadre:
        row = routing.exact(db, cadre["county"], cadre["township"], cadre["village"])
        route = (
            routing.Route("routed", row, note="cadre's registered village", county=row["county"])
            if row
            else routing.Route("unrouted", note="cadre's village no longer in table")
        )
        reports.apply_route(db, report["id"], route, village_text=cadre["village"])
    elif routing.find_villages(db, turn.message.text)[1] in ("exact", "contains"):
        # A village of our table named in the first message, which the model did not
        # tag (jieba cuts unknown names badly): no need to ask for it.
        _route_village(dialogue, turn, report["id"], turn.message.text)


def _route_village(dialogue: Dialogue, turn: Turn, report_id: int, text: str) -> str | None:
    """Route by the village as written; return "township" when we must ask it."""
    route = routing.route(dialogue.db, text)
    reports.apply_route(dialogue.db, report_id, route, village_text=text)
    if route.status == "ambiguous":
        turn.state["form"]["candidates"] = [
            {k: c[k] for k in ("county", "township", "township_norm", "village", "station_code")}
            for c in route.candidates
        ]
        return "township"
    return None


def _choices(form: dict[str, Any]) -> str:
    return " ".join(f"{i}{c['township']}" for i, c in enumerate(form["candidates"], 1))


def _next_question(dialogue: Dialogue, turn: Turn, form: dict[str, Any]) -> str:
    """The next question's text, with the form pointing at it; "" when the form is done."""
    report = reports.get(dialogue.db, form["report_id"]) or {}
    if form.get("candidates"):
        form["ask"] = "township"
        village = form["candidates"][0]["village"]
        return _text("ask_township", village=village, choices=_choices(form))
    for question in QUESTIONS:
        if question in form["asked"]:
            continue
        if question == "village" and report.get("routing") != "pending":
            continue
        if question == "time" and report.get("occurred_text"):
            continue
        form["asked"].append(question)
        form["ask"] = question
        reports.update(dialogue.db, form["report_id"], form_step=question)
        return _text(f"ask_{question}")
    form["ask"] = None
    return ""


def handle_answer(dialogue: Dialogue, turn: Turn) -> None:
    form = turn.state["form"]
    db = dialogue.db
    report = reports.get(db, form.get("report_id") or 0)
    started = dt.datetime.fromisoformat(form.get("at") or _now().isoformat())
    if report is None or report["status"] == "withdrawn" or _now() - started > FORM_TTL:
        turn.state.pop("form", None)
        if report is not None and report["status"] != "withdrawn":
            reports.submit(db, report["id"], dialogue.vault)
        # The form is gone from the state: this reads the message as a new one.
        dialogue._respond(turn)  # noqa: SLF001
        return
    reports.add_message(db, report["id"], "in", turn.message.text)
    before = len(turn.replies)
    _answer(dialogue, turn, form, report)
    _log_replies(dialogue, report["id"], turn.replies[before:])


def _answer(dialogue: Dialogue, turn: Turn, form: dict[str, Any], report: dict[str, Any]) -> None:
    db, text = dialogue.db, turn.text
    # Stored as sent (full-width punctuation and all); ``text`` is the cleaned form for matching.
    raw = turn.message.text.strip()
    report_id = report["id"]
    if text.casefold() in CANCEL_WORDS:
        turn.state.pop("form", None)
        if reports.withdraw(db, report_id):
            turn.say(_text("cancelled"))
            return
        # The police already took it up: withdrawing would bypass their workflow.
        # The form ends, the report stays, and the officer reads the wish in the log.
        reports.submit(db, report_id, dialogue.vault)
        reports.add_message(db, report_id, "note", "reporter cancelled (举报人要求取消)")
        turn.say(_text("cancel_too_late", ref=report["ref"]))
        return
    if text == "0" and turn.state.get("more"):
        # The victim's advice said "回复0看下一步": give it, then ask again.
        _reply, more = responses.answer(turn.state.pop("more"))
        turn.say(more or responses.text("no_more"))
        turn.say(_current_question(form))
        return
    skip = text.casefold() in SKIP_WORDS
    ask = form.get("ask")
    new_photos = _store_media(dialogue, turn, report)
    if ask == "village" and not skip and text:
        _route_village(dialogue, turn, report_id, raw)
        routed = (reports.get(db, report_id) or {}).get("routing")
        if routed == "unrouted" and not form.get("village_retried"):
            # Often not a village at all ("现在"); one more try before the county queue.
            form["village_retried"] = True
            turn.say(_text("village_again"))
            return
    elif ask == "township":
        if not _answer_township(dialogue, turn, form, report_id, "" if skip else text):
            return
    elif ask == "time" and not skip and text:
        reports.update(db, report_id, occurred_text=raw)
    elif ask in ("details", "photo") and not skip and text:
        reports.append_details(db, report_id, raw)
    if new_photos:
        turn.say(_text("photo_saved"))
        if "photo" not in form["asked"]:
            form["asked"].append("photo")
    question = _next_question(dialogue, turn, form)
    if question:
        turn.say(question)
    else:
        _finish(dialogue, turn, report_id)


def _current_question(form: dict[str, Any]) -> str:
    ask = form.get("ask")
    if ask == "township":
        return _text(
            "ask_township", village=form["candidates"][0]["village"], choices=_choices(form)
        )
    return _text(f"ask_{ask}") if ask else ""


def _answer_township(
    dialogue: Dialogue, turn: Turn, form: dict[str, Any], report_id: int, text: str
) -> bool:
    """Settle which township; False when we asked again (and nothing else happens)."""
    candidates = form["candidates"]
    picked = routing.choose_township(candidates, text) if text else None
    if picked is None and text and not form.get("township_retried"):
        form["township_retried"] = True
        turn.say(_text("township_again", choices=_choices(form)))
        return False
    form.pop("candidates", None)
    form.pop("township_retried", None)
    if picked:
        row = routing.exact(dialogue.db, picked["county"], picked["township"], picked["village"])
        if row:
            reports.apply_route(
                dialogue.db, report_id, routing.Route("routed", row, county=row["county"])
            )
            return True
    reports.apply_route(dialogue.db, report_id, routing.unresolved(candidates))
    return True


def _finish(dialogue: Dialogue, turn: Turn, report_id: int) -> None:
    db = dialogue.db
    report = reports.submit(db, report_id, dialogue.vault)
    turn.state.pop("form", None)
    station = routing.station(db, report["station_code"]) if report.get("station_code") else None
    if turn.message.channel == "web":
        turn.say(_text("done_web", ref=report["ref"]))
    elif station:
        turn.say(_text("done", ref=report["ref"], station=station["name"]))
    else:
        turn.say(_text("done_unrouted", ref=report["ref"]))


def _store_media(dialogue: Dialogue, turn: Turn, report: dict[str, Any]) -> int:
    count = 0
    for media in turn.message.media:
        attachment_id = reports.add_attachment(
            dialogue.db, report["id"], media.url, media.content_type
        )
        count += 1
        for hook in PHOTO_HOOKS:
            hook(dialogue, turn, report, attachment_id, media)
    return count


def _log_replies(dialogue: Dialogue, report_id: int, replies: list[str]) -> None:
    for reply in replies:
        reports.add_message(dialogue.db, report_id, "out", reply)


@register_step("check_report_status")
def report_status(dialogue: Dialogue, turn: Turn) -> None:
    latest = reports.latest_for_contact(dialogue.db, turn.sender_hash)
    if not latest:
        turn.say(_text("status_none"))
        return
    lines = [_text("status_header")]
    for report in latest:
        created = reports.parse_time(report["created_at"]) + dt.timedelta(hours=8)
        lines.append(
            _text(
                "status_line",
                ref=report["ref"],
                date=f"{created.month}月{created.day}日",
                status=_text(f"status.{report['status']}"),
            )
        )
    turn.say("\n".join(lines))


FORM_HANDLERS[FORM] = handle_answer

# The QR check of each photo is kept with the report (bot/qr/report_hook.py).
from bot.qr.report_hook import attach_earlier_check, attach_qr_check  # noqa: E402

PHOTO_HOOKS.append(attach_qr_check)
