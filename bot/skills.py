"""The skills the hotline's engine runs, in the order their recognisers are tried.

The app factory builds this list once (``default_skills``) and hands it to every
``Engine``. The order matters only for recognisers (step 7 of bot/engine.py): photos
first, then a cadre's forward, a pasted SMS, the authenticity question, registry clues,
a bare number or link. Intents are answered by the first skill that lists them.
To add a skill: docs/conversation.md.
"""

from __future__ import annotations

import re

import responses
from bot.engine import Engine, Skill, Turn, join_if_fits
from bot.enrollment import EnrollmentForm, asks_authenticity
from bot.feedback import FeedbackSkill
from bot.feedback import ask as ask_feedback
from bot.lookups import LookupSkill
from bot.photo_text import answer_text, recipient_tail
from bot.qr import media_step
from bot.qr.report_hook import attach_earlier_check, attach_qr_check
from bot.report_form import ReportForm
from bot.verify_team import VerifyTeamForm
from nlu import Parse
from outreach import texts
from reporting import cadres
from scamcheck import signals as scam_signals

# A cadre forwarding what they saw or were sent: "转发：…", "【转发】…", "转发自…".
_FORWARD = re.compile(r"^\s*(【转发】|转发\s*[：:]|转发自|转自|fw\s*[：:])", re.IGNORECASE)


class PhotoSkill(Skill):
    """A message with photos: the QR verdict on the most alarming one."""

    name = "photo"

    def recognise(self, engine: Engine, turn: Turn) -> bool:
        if not turn.message.media:
            return False
        media_step(engine, turn)
        return True


class CadreForwardSkill(Skill):
    """「转发：…」 from a registered cadre: a report, the cadre's village filled in."""

    name = "cadre_forward"

    def recognise(self, engine: Engine, turn: Turn) -> bool:
        if not _FORWARD.search(turn.text):
            return False
        cadre = cadres.lookup(engine.db, turn.sender_hash)
        if cadre is None:
            return False  # a villager's forward: judged as a pasted message
        turn.parse = engine.parser.parse(turn.text[:500])
        entities = [e for e in turn.parse.entities if e.entity != "village"]
        engine.start_report(turn, "report_suspicious_visit", entities, summary=turn.message.text)
        forwarded = _FORWARD.sub("", turn.text)
        verdict = []
        if scam_signals.looks_pasted(forwarded) and scam_signals.judge(forwarded).verdict == "scam":
            # A fake SMS forwarded: the cadre hears at once that it is one (and "这个要紧不"
            # next is about it), as a villager pasting it would.
            verdict = [responses.text("report_form.sms_scam")]
            turn.state["topic"] = "scam_text"
        turn.replies[:] = join_if_fits(responses.text("cadre_forward"), *verdict, *turn.replies)
        return True


class PastedMessageSkill(Skill):
    """A pasted SMS (【签名】, links, code templates, debits) judged on its content;
    our own 【村村反诈】 format checked against the recipient's 尾号; money gone: first aid."""

    name = "pasted"

    def recognise(self, engine: Engine, turn: Turn) -> bool:
        text = _FORWARD.sub("", turn.text)
        if not scam_signals.looks_pasted(text):
            return False
        judgement = scam_signals.judge(text, recipient_tail=recipient_tail(turn))
        turn.parse = Parse(turn.text, "check_number", 1.0)
        turn.state.pop("more", None)
        # The same path as a photo's text: counted as seen, remembered for a verdict
        # notice, a registry code checked, kept for a report made next.
        replies = answer_text(engine, turn, text, judgement)
        if not replies:  # a registry code in it: the registry check answered
            return True
        turn.say(*replies)
        if "money_gone" in judgement.kinds():
            turn.parse = Parse(turn.text, "already_victim", 1.0)
            turn.state["more"] = "already_victim"
            turn.state["offer"] = "already_victim"
            turn.state["topic"] = "debit"  # "不是俺花的" next: first aid (engine)
        elif judgement.verdict == "scam":
            turn.state["offer"] = "report_suspicious_visit"
        elif scam_signals.CODE_TEMPLATE.search(scam_signals.normalise(text)):
            turn.state["topic"] = "code_sms"  # "有人问俺要这个" next: don't give it
        else:
            turn.state["topic"] = "text_unsure"  # "这是真的吗" next: about this text
        ask_feedback(turn, turn.state.get("last_text_check") or {})
        return True


class AuthenticitySkill(Skill):
    """「这条短信是你们发的吗」 / how to tell our SMS from a fake one."""

    name = "authenticity"

    def recognise(self, engine: Engine, turn: Turn) -> bool:
        if not asks_authenticity(turn.text):
            return False
        if scam_signals.looks_pasted(turn.text) and (
            scam_signals.OUR_SIGNATURE not in turn.text or recipient_tail(turn)
        ):
            # A pasted SMS ("您尾号1234的卡支出…", or ours where the 尾号 can be checked):
            # judged on its content, not answered with how our own SMS look.
            return False
        turn.parse = Parse(turn.text, "verify_team", 1.0)
        turn.state.pop("more", None)
        turn.say(texts.authenticity_answer())
        return True


class InsuranceSkill(Skill):
    """Medical-insurance admin questions (缴费, 报销, 异地就医备案, 补卡): not fraud, but
    the villager is pointed to 12393 and the village's medical-insurance helper."""

    name = "insurance"
    intents = ("insurance_question",)


def default_skills() -> list[Skill]:
    """The hotline's skills, recognisers in this order."""
    return [
        FeedbackSkill(),  # only follows up its own question
        PhotoSkill(),
        CadreForwardSkill(),
        AuthenticitySkill(),
        VerifyTeamForm(),  # a code, work ID or registered organisation anywhere
        LookupSkill(),  # a bare number or link: how often it was reported
        PastedMessageSkill(),
        ReportForm(photo_hooks=[attach_qr_check], earlier_check=attach_earlier_check),
        EnrollmentForm(),
        InsuranceSkill(),
    ]
