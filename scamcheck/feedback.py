""" "Did this help?" after a verdict: 1 有用 / 2 没用.

A 没用 answer keeps the judged message (normalised, digits masked: never a number or a
code in clear) with its verdict and signals for supervisors to review
(``for_review``), until the NLU issue's review page takes it over.

The conversation wiring (asking after a verdict, reading the 1/2) is the dialogue's:
``bot/photo_text.answer_text`` leaves the judgement in ``turn.state["last_text_check"]``;
the dialogue asks ``question()`` and, when the next message ``parse_answer``s to a bool,
calls ``record`` with that state and says ``thanks(helpful)``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import sqlite_utils

import responses
from scamcheck.seen import fingerprint_text
from storage.clock import now_iso
from storage.tables import new_id

_YES = re.compile(r"^(1|有用|有帮助|好|谢谢|yes|y)$", re.I)
_NO = re.compile(r"^(2|没用|没有用|无用|不对|no|n)$", re.I)


def question() -> str:
    return responses.catalogue("scamcheck")["ask_helpful"].strip()


def parse_answer(text: str) -> bool | None:
    """True for 1/有用, False for 2/没用, None for anything else (a new question)."""
    value = re.sub(r"[\s。.!！]+", "", unicodedata.normalize("NFKC", text or ""))
    if _YES.match(value):
        return True
    if _NO.match(value):
        return False
    return None


def thanks(helpful: bool) -> str:
    key = "thanks_helpful" if helpful else "thanks_not_helpful"
    return responses.catalogue("scamcheck")[key].strip()


def record(db: sqlite_utils.Database, helpful: bool, check: dict[str, Any], channel: str) -> int:
    """Store the answer; the message text only when it was 没用 (for review)."""
    row = {
        "helpful": int(helpful),
        "verdict": check.get("verdict"),
        "signals": json.dumps(sorted({s[0] for s in check.get("signals", [])})),
        "text": None if helpful else fingerprint_text(check.get("text", ""))[:500],
        "channel": channel,
        "at": now_iso(),
    }
    return new_id(db.table("scam_feedback").insert(row))


def for_review(db: sqlite_utils.Database, limit: int = 100) -> list[dict[str, Any]]:
    """没用 answers not reviewed yet, newest first."""
    rows = db.execute(
        "SELECT id, verdict, signals, text, channel, at FROM scam_feedback"
        " WHERE helpful = 0 AND reviewed_at IS NULL ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    keys = ("id", "verdict", "signals", "text", "channel", "at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def reviewed(db: sqlite_utils.Database, feedback_id: int) -> None:
    db.table("scam_feedback").update(feedback_id, {"reviewed_at": now_iso()})
