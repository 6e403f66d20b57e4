"""The bureau's pages under /bureau: register, edit, import and revoke authorised
activities, and mark codes seen on forged letters.

Accounts, sign-in and sessions are every area's (accounts/): a ``bureau`` account
edits the registry of its county; police officers may look at it (read-only) and a
county supervisor may also mark a code forged. Every change is audited. Forms carry
the app's CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from accounts.web import Guard, login_page, secure_headers, sign_out
from registry import activities
from storage.db import get_db
from storage.privacy import get_vault

bp = Blueprint("bureau", __name__, url_prefix="/bureau", template_folder="templates")
bp.after_request(secure_headers)
MAX_CSV_BYTES = 1024 * 1024
FIELDS = activities.CSV_COLUMNS
STATUS_LABELS = {"running": "进行中", "upcoming": "未开始", "ended": "已结束", "revoked": "已撤销"}
# The largest SQLite integer: a bigger id in the URL is a 404, not an overflow.
ACTIVITY = "<int(max=9223372036854775807):activity_id>"


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "officer": g.get("officer"),
        "STATUS_LABELS": STATUS_LABELS,
        "status_of": activities.status,
        "CODE_FORMAT": activities.CODE_FORMAT,
        "can_edit": _can_edit(),
        "can_mark_forged": _can_mark_forged(),
    }


def _can_edit() -> bool:
    return bool(g.get("officer")) and g.officer["role"] == "bureau"


def _can_mark_forged() -> bool:
    return bool(g.get("officer")) and g.officer["role"] in ("bureau", "supervisor")


def _actor() -> activities.Actor:
    return activities.Actor(officer=g.officer, ip=request.remote_addr)


# Any account may read the register; only the bureau changes it (police read it).
BUREAU = Guard("bureau.login", keep_next=False)
login_required = BUREAU.required
bureau_only = BUREAU.role_required("bureau")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    return login_page(
        "bureau/base.html", "医保局工作人员登录", lambda: url_for("bureau.index"), "bureau"
    )


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    sign_out()
    return redirect(url_for("bureau.login"))


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return _index_page(message=request.args.get("done", "")[:100])


def _index_page(message: str = "", error: str | None = None) -> str:
    db = get_db()
    county = g.officer["county"]
    return render_template(
        "bureau/index.html",
        activities=activities.for_county(db, county),
        forged=activities.forged_for_county(db, county),
        message=message,
        error=error,
    )


def _form_values() -> dict[str, str]:
    return {name: request.form.get(name, "")[:2000] for name in FIELDS}


@bp.route("/activities/new", methods=["GET", "POST"])
@bureau_only
def new() -> ResponseReturnValue:
    values = {"authorised_by": f"{g.officer['county']}医疗保障局"}
    if request.method == "POST":
        values = _form_values()
        try:
            record = activities.save(get_db(), get_vault(), g.officer["county"], values, _actor())
        except activities.ActivityError as exc:
            return render_template("bureau/edit.html", values=values, error=str(exc)), 400
        return redirect(url_for("bureau.index", done=f"已登记 {record['code']}"))
    return render_template("bureau/edit.html", values=values, error=None)


def _own_activity(activity_id: int) -> dict[str, Any]:
    activity = activities.get(get_db(), activity_id)
    if activity is None or activity["county"] != g.officer["county"]:
        abort(404)
    return activity


@bp.route(f"/activities/{ACTIVITY}/edit", methods=["GET", "POST"])
@bureau_only
def edit(activity_id: int) -> ResponseReturnValue:
    activity = _own_activity(activity_id)
    if request.method == "POST":
        values = _form_values()
        try:
            record = activities.save(
                get_db(), get_vault(), g.officer["county"], values, _actor(), activity_id
            )
        except activities.ActivityError as exc:
            return render_template(
                "bureau/edit.html", values=values, activity=activity, error=str(exc)
            ), 400
        return redirect(url_for("bureau.index", done=f"已修改 {record['code']}"))
    values = activities.form_values(get_db(), get_vault(), activity)
    return render_template("bureau/edit.html", values=values, activity=activity, error=None)


@bp.post(f"/activities/{ACTIVITY}/revoke")
@bureau_only
def revoke(activity_id: int) -> ResponseReturnValue:
    activity = _own_activity(activity_id)
    reason = request.form.get("reason", "").strip()
    if not reason:
        abort(400)
    try:
        activities.revoke(get_db(), activity_id, g.officer["county"], reason, _actor())
    except activities.ActivityError:
        abort(409)  # already revoked
    return redirect(url_for("bureau.index", done=f"已撤销 {activity['code']}"))


@bp.route("/import", methods=["GET", "POST"])
@bureau_only
def import_csv() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("bureau/import.html", result=None, error=None)
    upload = request.files.get("file")
    data = upload.read(MAX_CSV_BYTES + 1) if upload else b""
    error = None
    if not data:
        error = "请选择CSV文件。"
    elif len(data) > MAX_CSV_BYTES:
        error = "文件太大（最多1MB）。"
    else:
        try:
            result = activities.import_csv(
                get_db(), get_vault(), data.decode("utf-8"), g.officer["county"], _actor()
            )
        except UnicodeDecodeError:
            error = "文件不是UTF-8编码，请另存为“CSV UTF-8”。"
        except activities.ActivityError as exc:
            error = f"无法导入：{exc}"  # missing columns, or a first line that is not CSV
    if error:
        return render_template("bureau/import.html", result=None, error=error), 400
    return render_template("bureau/import.html", result=result, error=None)


@bp.post("/forged")
@login_required
def mark_forged() -> ResponseReturnValue:
    if not _can_mark_forged():
        abort(403)
    try:
        code = activities.mark_forged(
            get_db(),
            request.form.get("code", "")[:60],
            request.form.get("reason", "")[:200],
            g.officer["county"],
            _actor(),
        )
    except activities.ActivityError as exc:
        return _index_page(error=str(exc)), 400
    return redirect(url_for("bureau.index", done=f"已标记伪造 {code}"))
