"""Send the queued verdict notices (reporting/scam_verdicts.py): once per person, never in
quiet hours (21:00-08:00 Beijing), through the channel they asked on.

Runs in the scheduler beside the outbox drain (``send_queued``, every minute), and
right after an officer marks a verdict: reporting calls
``app.extensions["hotline_scam_notices"]``, which bot/app.py sets to ``send_due``
(reporting never imports bot/). The text carries our
signature and, on SMS, the recipient's 尾号 (bot/outreach/texts.py), like every push.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlite_utils

import responses
from bot.outreach import texts
from bot.outreach.quiet_hours import in_quiet_hours
from reporting import scam_verdicts as verdicts
from storage.db import connect
from storage.privacy import Vault

log = logging.getLogger(__name__)


def notice_text(notice: verdicts.Notice) -> str:
    body = responses.catalogue("scamcheck")[f"notice_{notice.status}"].format(label=notice.label)
    if notice.channel == "sms":
        # Our own marker: the last 3 digits of the recipient's number before the opt-out.
        return body.replace("回T退订", f"（尾号{texts.tail(notice.contact)}）回T退订")
    return body


def send_queued(
    db: sqlite_utils.Database,
    vault: Vault,
    notify: Callable[[str, str, str], bool] | None,
    now: dt.datetime | None = None,
) -> int:
    """Send what is queued (outside quiet hours); returns how many were sent."""
    if in_quiet_hours(now or dt.datetime.now(dt.timezone.utc)):
        return 0
    sent = 0
    for notice in verdicts.due_notices(db, vault):
        outcome = "undeliverable"
        if notify:
            try:
                ok = notify(notice.channel, notice.contact, notice_text(notice))
                outcome = "sent" if ok else "undeliverable"
            except Exception:
                log.exception("verdict notice failed")
                outcome = "failed"
        verdicts.mark_notified(db, notice, outcome)
        sent += outcome == "sent"
    verdicts.purge_expired(db)
    return sent


def send_due(app: Any, now: dt.datetime | None = None) -> int:
    """``send_queued`` with the app's database, vault and notifier (the police page's
    hook, ``app.extensions["hotline_scam_notices"]``)."""
    db = connect(app.config["HOTLINE_DB"])
    try:
        return send_queued(
            db, app.extensions["hotline_vault"], app.extensions.get("hotline_notify"), now
        )
    finally:
        db.conn.close()
