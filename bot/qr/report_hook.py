"""A reporter's photo in the report form: its QR check is kept with the report.

Handed to the report form by the skill list (``bot.skills``). The verdict and the
decoded text (never opened) go into the report's message log, where the police queue shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import responses
from bot.messages import Media
from bot.qr import check_and_keep
from reporting import link_keys, reports

if TYPE_CHECKING:
    from bot.engine import Engine as Dialogue
    from bot.engine import Turn

# Outcomes without a code: nothing to tell the reporter beyond "photo saved".
_SILENT = {"no_qr", "not_image", "too_large", "unavailable"}


def qr_note(checked: dict[str, Any]) -> str:
    """The line the police read about one checked photo (from ``as_attachment``)."""
    where = f" 附件{checked['attachment_id']}" if checked.get("attachment_id") else ""
    note = f"[二维码检查{where}] {checked.get('qr_kind')}"
    content = (checked.get("qr_content") or "")[:1000]
    if content:
        note += f"：{content}（链接未打开）"
    return note


def attach_earlier_check(dialogue: Dialogue, turn: Turn, report: dict[str, Any]) -> None:
    """A photo checked just before the villager chose to report ("3"): keep its
    verdict with the report too."""
    checked = turn.state.pop("last_qr", None)
    # The checked photos carried into the report are checked and noted again as they are
    # stored (attach_qr_check, with their attachment number): note them only there.
    carried = {m[0] for m in (turn.state.get("form") or {}).get("media", [])}
    urls = set((checked or {}).get("media_urls") or ())
    if checked and not (urls and urls <= carried):
        reports.add_message(dialogue.db, report["id"], link_keys.QR_NOTE, qr_note(checked))
    text_check = turn.state.pop("last_text_check", None)
    if text_check:
        reports.add_message(dialogue.db, report["id"], link_keys.TEXT_NOTE, text_note(text_check))


def text_note(check: dict[str, Any]) -> str:
    """The line the police read about a judged message or photo text (numbers masked,
    links never opened): the verdict, the signals, and what it named."""
    signals = "、".join(f"{kind}:{evidence}" for kind, evidence in check.get("signals", []))
    named = [*check.get("links", []), *check.get("phones", []), *check.get("codes", [])]
    note = f"[消息检查] {check.get('verdict')}；{signals or '无可疑信号'}"
    if named:
        note += "；涉及：" + "、".join(named)
    if check.get("message_id") is not None:
        note += "；" + link_keys.message_mark(int(check["message_id"]))
    return (note + "\n" + (check.get("text") or ""))[:1500]


def attach_qr_check(
    dialogue: Dialogue, turn: Turn, report: dict[str, Any], attachment_id: int, media: Media
) -> None:
    verdict, kept = check_and_keep(media, sender=turn.sender_hash)
    if kept is not None:  # provider URLs expire or need credentials: the police get our copy
        reports.keep_attachment_copy(dialogue.db, attachment_id, kept.url, kept.content_type)
    checked = {**verdict.as_attachment(), "attachment_id": attachment_id}
    reports.add_message(dialogue.db, report["id"], link_keys.QR_NOTE, qr_note(checked))
    turn.state["last_qr"] = checked
    if verdict.kind not in _SILENT:
        qr = responses.catalogue("qr")
        turn.say(qr["qr_in_report"].format(label=qr["qr_labels"][verdict.kind]))
