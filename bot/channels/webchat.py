"""The WeChat-style web chat: the page at / and its JSON API at POST /api/chat."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

import responses
from bot.channels import deliver
from bot.messages import InboundMessage

bp = Blueprint("webchat", __name__)

MAX_SENDER = 64
MAX_BODY = 64 * 1024


@bp.get("/")
def page() -> str:
    return render_template("chat.html", menu=responses.text("menu"))


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


SENDER_RULE = "sender must be a printable string of 1 to 64 characters"


def _sender(value: object) -> str | None:
    """The web sender id, or None when unusable. Web senders are browser session ids;
    the prefix keeps them apart from phone numbers."""
    if not isinstance(value, str) or not value.strip():
        return None
    # U+FFFD: what the app's JSON made of a lone surrogate (bot/app.py), never an id.
    if len(value) > MAX_SENDER or not value.isprintable() or "\ufffd" in value:
        return None
    return f"web:{value.strip()}"


@bp.post("/api/chat")
def chat() -> ResponseReturnValue:
    if not request.is_json:
        return _error(415, "send JSON: Content-Type: application/json")
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, "message too large")
    try:
        data = request.get_json()
    except BadRequest:
        return _error(400, "body is not valid UTF-8 JSON")
    if not isinstance(data, dict):
        return _error(400, 'expected {"sender": "...", "text": "..."}')
    sender, text = _sender(data.get("sender")), data.get("text", "")
    if sender is None:
        return _error(400, SENDER_RULE)
    if not isinstance(text, str):
        return _error(400, "text must be a string")
    message = InboundMessage("web", sender, text)
    return jsonify({"replies": deliver(message)})


# Said when a photo cannot be checked now (too many at once): with the safety line.
BUSY_REPLY = "现在查看照片的人太多，请过几分钟再发。陌生二维码不扫，验证码不给人。"


@bp.post("/api/chat/photo")
def chat_photo() -> ResponseReturnValue:
    """A photo from the chat page (multipart: sender, image), checked like an MMS photo:
    decoded once, off the request threads (bot/qr/workers.py), and not kept unless a
    report takes it."""
    from bot.qr import check_upload, max_bytes
    from bot.qr.decode import NotAnImage, TooCostly
    from bot.qr.workers import Busy

    if (request.content_length or 0) > max_bytes() + MAX_BODY:
        return _error(413, "photo too large (5 MB at most)")
    sender = _sender(request.form.get("sender"))
    if sender is None:
        return _error(400, SENDER_RULE)
    upload = request.files.get("image")
    if upload is None:
        return _error(400, "send the photo as the multipart field 'image'")
    if not (upload.mimetype or "").startswith("image/"):
        return _error(415, "only photos (image/*) can be sent")
    data = upload.stream.read(max_bytes() + 1)
    if len(data) > max_bytes():
        return _error(413, "photo too large (5 MB at most)")
    try:
        verdict, media = check_upload(data, sender)
    except TooCostly:
        return _error(413, "photo too large to check (too many pixels)")
    except NotAnImage:
        return _error(415, "this file is not a photo")
    except Busy as exc:
        response = jsonify({"error": f"busy: {exc.reason}", "replies": [BUSY_REPLY]})
        response.headers["Retry-After"] = "60"
        return response, 429 if exc.reason.endswith("rate") else 503
    message = InboundMessage("web", sender, "", [media])
    return jsonify({"replies": deliver(message)})
