"""/police/review: supervisors label the messages the model was unsure about.

The police sign-in (reporting/access.py, the accounts' guard); supervisors only, since the texts
come from every station of the county and the labels become training data. Every
label is audited. Forms carry the app's CSRF token (CSRFProtect in bot/app.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from accounts import audit
from accounts.web import secure_headers
from nlu.parser import INTENTS
from reporting.access import supervisor_required
from review import queue
from storage.db import get_db

bp = Blueprint("review", __name__, url_prefix="/police/review", template_folder="templates")
bp.after_request(secure_headers)  # as every officers' area: no framing, no caching

# The medical-insurance admin questions of issue 12 (item 5): offered before the NLU
# adds the intent, so a supervisor can label them now; dropped here once INTENTS has it.
EXTRA_INTENTS = ("insurance_question",)
INTENT_LABELS = {
    "verify_team": "核实上门团队",
    "activate_voucher": "激活医保电子凭证",
    "report_qr_code": "举报扫码领礼品",
    "report_phone_borrowing": "举报借手机/买卡",
    "report_suspicious_visit": "举报可疑上门",
    "already_victim": "已经受骗",
    "check_report_status": "查询举报进度",
    "check_number": "查号码/链接",
    "privacy_advice": "个人信息保护",
    "subscribe": "订阅提醒",
    "unsubscribe": "退订",
    "greet": "打招呼",
    "help": "求助/菜单",
    "thanks": "感谢",
    "out_of_scope": "无关话题",
    "insurance_question": "医保业务咨询",
    "nlu_fallback": "没听懂",
    queue.NOT_A_MESSAGE: "不是真实消息",
}
REASON_LABELS = {
    "fallback": "没听懂",
    "low_confidence": "把握低",
    "not_helpful": "村民说没帮上",
}


def choices() -> list[str]:
    """Intents a reviewer may pick: the NLU's own list (plus the ones on their way)."""
    return [*INTENTS, *(i for i in EXTRA_INTENTS if i not in INTENTS), queue.NOT_A_MESSAGE]


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "officer": g.get("officer"),
        "INTENT_LABELS": INTENT_LABELS,
        "REASON_LABELS": REASON_LABELS,
    }


@bp.get("/")
@supervisor_required
def pending() -> ResponseReturnValue:
    db = get_db()
    recent = list(
        db.query(
            "SELECT text, reviewed_intent, reviewed_by, reviewed_at FROM review_items"
            " WHERE id IN (SELECT max(id) FROM review_items WHERE reviewed_at IS NOT NULL"
            " GROUP BY text_key) ORDER BY reviewed_at DESC, id DESC LIMIT 20"
        )
    )
    return render_template(
        "review/pending.html",
        groups=queue.pending(db),
        recent=recent,
        choices=choices(),
        done=request.args.get("done"),
    )


@bp.post("/label")
@supervisor_required
def label() -> ResponseReturnValue:
    key = request.form.get("key", "")[:500]
    intent = request.form.get("intent", "")
    if intent not in choices():
        abort(400)
    db = get_db()
    ids = [
        row[0]
        for row in db.execute(
            "SELECT id FROM review_items WHERE text_key = ? AND reviewed_at IS NULL", [key]
        ).fetchall()
    ]
    if not ids:
        abort(404)  # reviewed meanwhile by someone else, or purged
    with db.atomic():
        count = queue.review(db, key, intent, g.officer["username"])
        audit.record(
            db,
            g.officer,
            "review_label",
            detail=f"{intent}: {count} review item(s) {','.join(map(str, ids))}",
            ip=request.remote_addr,
        )
    return redirect(url_for("review.pending", done=count))
