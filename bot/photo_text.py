"""The text in a villager's photo, read and judged: an SMS screenshot, a letter, a badge.

Every photo path (MMS, WeChat image, web chat upload) decodes each photo once
(bot/qr/decode.analyse, on the photo pool) and runs the registered "text" analyser on
the same image: OCR (scamcheck.ocr) within ``scamcheck.ocr.DEFAULT_BUDGET_S`` (3 s);
``bot.qr.media_step`` hands the readings here. What it says is judged by the same
analyser as pasted text (scamcheck.signals); an authorisation code or work ID on a
letter or badge goes to the registry check (bot/verify_team.py), as a typed code does.
"""

from __future__ import annotations

import logging
import re
import secrets
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import responses
from bot.feedback import ask as ask_feedback
from messaging import outbox
from reporting import cadres
from reporting import scam_verdicts as verdicts
from scamcheck import ocr, seen
from scamcheck.replies import answer
from scamcheck.signals import Judgement, judge, mask_phone
from storage.db import connect, location_of
from storage.privacy import normalise_contact

if TYPE_CHECKING:
    from bot.engine import Engine as Dialogue
    from bot.engine import Turn
    from bot.qr.verdict import QrVerdict

log = logging.getLogger(__name__)

# QR kinds that are a judgement of a code found in the photo.
_NO_CODE = {"no_qr", "not_image", "too_large", "unavailable"}
MAX_KEPT_TEXT = 500
_LONG_DIGITS = re.compile(r"\d{7,}")


def recipient_tail(turn: Turn) -> str | None:
    """The last 3 digits of the sender's number on SMS (our format's 尾号); None on
    WeChat and web chat, where the sender is no phone number."""
    if turn.message.channel != "sms":
        return None
    digits = normalise_contact(turn.message.sender).lstrip("+")
    return digits[-3:] if digits.isdigit() and len(digits) >= 7 else None


def photo_text(readings: list[ocr.Reading | None]) -> tuple[str, bool]:
    """The text read in the photos, and whether a reading ran out of time."""
    texts = [r.text for r in readings if r is not None and r.lines]
    late = any(r is not None and r.status == "late" for r in readings)
    return "\n".join(texts), late


def kept(j: Judgement, text: str) -> dict[str, Any]:
    """What the conversation state keeps for a report made next: the verdict, the
    signals, links and codes, numbers masked (the full ones are never stored)."""
    return {
        "verdict": j.verdict,
        "signals": [[s.kind, s.evidence] for s in j.signals],
        "links": list(j.links)[:5],
        "phones": [mask_phone(p) for p in j.phones][:5],
        "codes": list(j.codes)[:5],
        # Numbers in the text (a suspect's, often a victim's too) are masked here.
        "text": _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), text)[:MAX_KEPT_TEXT],
    }


def answer_photos(
    dialogue: Dialogue, turn: Turn, readings: list[ocr.Reading | None], qr: QrVerdict
) -> bool:
    """Judge the text read in the photos and answer; False when there was no text to
    judge (the caller then gives the QR verdict alone)."""
    if not any(readings):
        return False
    text, late = photo_text(readings)
    has_code = qr.kind not in _NO_CODE
    qr_text = responses.catalogue("qr")["qr"][qr.kind].strip()
    if not text.strip():
        if late and not has_code:
            t = responses.catalogue("scamcheck")
            later = answer_later(dialogue, turn, readings)
            turn.say((t["photo_later"] if later else t["photo_late"]).strip())
            return True
        return False
    before = len(turn.replies)
    replies = answer_text(dialogue, turn, text)
    if not replies:  # a code on a letter: the registry check answered
        if has_code:
            turn.replies.insert(before, qr_text)
        return True
    check = turn.state["last_text_check"]
    if has_code and check["verdict"] == "scam":
        turn.say(qr_text, *replies)
    elif has_code:
        turn.say(qr_text)  # the code is what can hurt; the text was not alarming
        return True
    else:
        turn.say(*replies)
    ask_feedback(turn, check)
    return True


def _village(dialogue: Dialogue, turn: Turn) -> str | None:
    cadre = cadres.lookup(dialogue.db, turn.sender_hash)
    if cadre:
        return cadre["township"] + cadre["village"]
    form = turn.state.get("form") or {}
    return form.get("village")


def remember_ask(dialogue: Dialogue, turn: Turn, keys: list[verdicts.Key]) -> None:
    """This villager asked about ``keys``: a police verdict within 30 days reaches them
    (SMS and WeChat only: web chat cannot be pushed to)."""
    if keys and turn.message.channel in outbox.PUSH_CHANNELS:
        verdicts.remember_asks(
            dialogue.db,
            dialogue.vault,
            keys,
            sender_hash=turn.sender_hash,
            channel=turn.message.channel,
            contact=turn.message.sender,
        )


def verdict_reply(marked: dict[str, Any]) -> str:
    """What a villager is told about something the police gave a verdict on."""
    text: str = responses.catalogue("scamcheck")[f"verdict_{marked['status']}"]
    return text.format(label=marked["label"]).strip()


def answer_text(dialogue: Dialogue, turn: Turn, text: str, j: Judgement | None = None) -> list[str]:
    """Judge a forwarded message (pasted, or read from a photo) and return the replies;
    [] when a registry code was found and the registry check answered instead.

    Also: the message is counted as seen (scamcheck/seen.py), what it names is
    remembered for a later verdict notice (reporting/scam_verdicts.py; SMS and WeChat only:
    web chat cannot be pushed to), and ``turn.state["last_text_check"]`` keeps the
    judgement for a report made next and for "did this help?" (scamcheck/feedback.py).
    ``j``: the judgement of ``text`` when the caller already has it.
    """
    if j is None:
        j = judge(text, recipient_tail=recipient_tail(turn))
    counted = seen.record(
        dialogue.db,
        text,
        sender_hash=turn.sender_hash,
        channel=turn.message.channel,
        village=_village(dialogue, turn),
    )
    keys = verdicts.keys_of(
        dialogue.vault,
        phones=j.phones,
        links=j.links,
        codes=j.codes,
        message_id=counted.message_id if counted else None,
    )
    remember_ask(dialogue, turn, keys)
    state = kept(j, text)
    if counted:
        state["message_id"] = counted.message_id
    turn.state["last_text_check"] = state
    if j.verdict == "scam":  # a bare "是真的吗" next is about it (_about_the_last_answer)
        turn.state["topic"] = "scam_text"
    log.info("text judged %s (%s)", j.verdict, ",".join(sorted(j.kinds())))
    t = responses.catalogue("scamcheck")
    marked = verdicts.verdict(dialogue.db, keys)
    if marked and (marked["status"] == "confirmed" or j.verdict != "scam"):
        state["verdict"] = "scam" if marked["status"] == "confirmed" else j.verdict
        return [verdict_reply(marked)]
    if j.codes and j.verdict != "scam":
        from bot import verify_team  # the registry's form and answers

        code = next((c for c in j.codes if c.startswith("YB-")), None)
        work_id = next((c for c in j.codes if not c.startswith("YB-")), None)
        verify_team.check_clues(dialogue, turn, code=code, work_id=work_id, text=text)
        return []
    reply = answer(j, text)
    if counted and counted.villagers >= 2:
        key = "seen" if counted.villages else "seen_no_villages"
        line = t[key].format(villagers=counted.villagers, villages=counted.villages).strip()
        if responses.fits_sms(reply + line):
            reply += line
    return [reply]


def answer_later(dialogue: Dialogue, turn: Turn, readings: list[ocr.Reading | None]) -> bool:
    """The photo is still being read when the webhook must answer (WeChat waits 5 s):
    when the reading is done, its verdict goes to the villager as one outbox row (kind
    ``late_answer``, urgent: they are waiting), sent by the drain like every message the
    hotline starts. False when it cannot be pushed (web chat: the page asks again)."""
    pending = [r.pending for r in readings if r is not None and r.pending is not None]
    if not pending or turn.message.channel not in outbox.PUSH_CHANNELS:
        return False
    path = location_of(dialogue.db)
    vault, channel, contact = dialogue.vault, turn.message.channel, turn.message.sender
    tail = recipient_tail(turn)
    key = f"late:{turn.source or secrets.token_hex(8)}"

    def done(future: Future[ocr.Reading]) -> None:
        try:
            reading = future.result()
        except Exception:  # the OCR pool failed: still tell the villager something
            log.exception("late photo reading failed")
            reading = None
        t = responses.catalogue("scamcheck")
        if reading is not None and reading.lines:
            verdict = answer(judge(reading.text, recipient_tail=tail), reading.text)
            body = f"{t['photo_done']}{verdict}"
            body = body if responses.fits_sms(body) else verdict
        else:
            body = t["photo_late"].strip()
        db = connect(path, migrate_schema=False)
        try:
            outbox.enqueue(
                db,
                vault,
                kind="late_answer",
                channel=channel,
                contact=contact,
                text=body,
                idem_key=key,
                urgent=True,
                source="photo",
            )
        except Exception:
            log.exception("late photo answer not queued")
            return
        finally:
            db.conn.close()
        outbox.wake()

    pending[0].add_done_callback(done)
    return True
