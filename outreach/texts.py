"""The words of a proactive message: signature, body, authenticity marker, opt-out.

The marker is the last 3 digits of the recipient's own number. A broadcast spoof does
not know them; the bot explains this when asked how to tell real messages from fake.
The number is decrypted only here, at send time, and never stored with the text.

WeChat pushes use the same words: the 【村村反诈】 signature and 回T退订 are harmless there
(texting T to the account does unsubscribe; so does unfollowing), and one builder keeps
the two channels saying the same thing. A WeChat follower who gave no phone number
gets no marker (there are no digits of theirs to show); the account's verified name is
what vouches for a WeChat message.
"""

from __future__ import annotations

import responses
from outreach import tips
from storage.privacy import normalise_contact


def tail(contact: str) -> str:
    return normalise_contact(contact)[-3:]


def _render(key: str, body: str, phone: str | None) -> str:
    formats = responses.catalogue("outreach")
    if phone:
        return formats[key].format(body=body, tail=tail(phone))
    return formats[f"{key}_no_marker"].format(body=body)


def render_tip(body: str, phone: str | None) -> str:
    """A tip for the owner of ``phone`` (None: a WeChat follower without a number)."""
    return _render("tip_format", body, phone)


def render_alert(body: str, phone: str | None) -> str:
    return _render("alert_format", body.strip(), phone)


def render_notice(body: str, phone: str | None) -> str:
    """A verdict notice: the catalogue's text already carries the signature; the marker
    goes before the opt-out, as in a tip."""
    if phone:
        return body.replace("回T退订", f"（尾号{tail(phone)}）回T退订")
    return body


def message_for(kind: str, tip_id: str | None, text: str | None, phone: str | None) -> str:
    """The words of an outbox row for the owner of ``phone`` (None: no marker).

    ``text``: the alert's text, or the row's own body (report_update, scam_verdict,
    late_answer, reply)."""
    if kind == "alert":
        return render_alert(text or "", phone)
    if kind in ("report_update", "late_answer", "reply"):
        # A reply to the villager's own message, report or photo: they know what it answers.
        return text or ""
    if kind == "scam_verdict":
        return render_notice(text or "", phone)
    tip = tips.tip_by_id(tip_id or "")
    if tip is None:
        raise LookupError(f"tip {tip_id!r} is no longer in responses/tips.yml")
    return render_tip(tip.text, phone)


def enroll_text(key: str, **values: str) -> str:
    text = responses.catalogue("outreach")["enroll"][key].strip()
    return text.format(**values) if values else text


def authenticity_answer() -> str:
    return responses.catalogue("outreach")["authenticity"].strip()
