"""The words of a proactive SMS: signature, body, authenticity marker, opt-out.

The marker is the last 3 digits of the recipient's own number. A broadcast spoof does
not know them; the bot explains this when asked how to tell real messages from fake.
The number is decrypted only here, at send time, and never stored with the text.
"""

from __future__ import annotations

import responses
from bot.outreach import tips
from storage.privacy import normalise_contact


def tail(contact: str) -> str:
    return normalise_contact(contact)[-3:]


def render_tip(body: str, contact: str) -> str:
    return responses.catalogue("outreach")["tip_format"].format(body=body, tail=tail(contact))


def render_alert(body: str, contact: str) -> str:
    return responses.catalogue("outreach")["alert_format"].format(
        body=body.strip(), tail=tail(contact)
    )


def message_for(kind: str, tip_id: str | None, alert_text: str | None, contact: str) -> str:
    if kind == "alert":
        return render_alert(alert_text or "", contact)
    tip = tips.tip_by_id(tip_id or "")
    if tip is None:
        raise LookupError(f"tip {tip_id!r} is no longer in responses/tips.yml")
    return render_tip(tip.text, contact)


def enroll_text(key: str, **values: str) -> str:
    text = responses.catalogue("outreach")["enroll"][key].strip()
    return text.format(**values) if values else text


def authenticity_answer() -> str:
    return responses.catalogue("outreach")["authenticity"].strip()
