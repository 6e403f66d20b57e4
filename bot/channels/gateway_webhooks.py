"""What the mainland-China SMS gateways' reply pushes share (bot/channels/aliyun_sms.py,
bot/channels/tencent_sms.py): the URL secret, and answering by SMS.

Neither gateway signs its pushes, so the push URL carries a shared secret
(``?token=...``), compared in constant time. Neither reads replies from the HTTP
response either: the answers go out through the outbound SMS sender
(``HOTLINE_SMS_PROVIDER``, which in China is the same gateway).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, jsonify, request

from bot import conversations
from bot.channels import deliver
from bot.channels.senders import sender_for
from bot.messages import InboundMessage
from storage.db import get_db
from storage.privacy import mask

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # a push holds at most a few hundred short messages


def refuse(status: int, body: dict[str, Any]) -> None:
    """Stop the request with a JSON answer in the gateway's own shape."""
    response = jsonify(body)
    response.status_code = status
    abort(response)


def check_secret(setting: str, forbidden: dict[str, Any]) -> None:
    expected = current_app.config.get(setting)
    if not expected:
        log.error("%s is not set: refusing %s", setting, request.path)
        refuse(403, forbidden)
    given = request.args.get("token", "")
    if not hmac.compare_digest(given.encode(), str(expected).encode()):
        log.warning("%s push with a missing or wrong token refused", request.path)
        refuse(403, forbidden)


def json_body(malformed: dict[str, Any]) -> Any:
    """The pushed JSON (whatever Content-Type the gateway sent), or a 400."""
    if (request.content_length or 0) > MAX_BODY:
        refuse(413, malformed)
    data = request.get_json(force=True, silent=True)
    if data is None:
        refuse(400, malformed)
    return data


def field(item: dict[str, Any], name: str) -> str | None:
    """A text or number field as a string; None when absent or of another type."""
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


def answer_by_sms(message: InboundMessage, provider: str) -> None:
    """Run the message through the dialogue and text the replies back, once.

    A push the gateway repeats (our first answer was lost or late) is deduped by
    ``deliver``; the replies are claimed separately under ``<provider>-reply`` so a
    repeat never texts them twice. Empty replies are not claimed: either there is
    nothing to send, or the first delivery is still running and will send them.
    """
    replies = deliver(message, provider=provider)
    if not replies or not message.message_id:
        return
    db = get_db()
    if conversations.claim_message(db, f"{provider}-reply", message.message_id) is not None:
        return
    try:
        sender = sender_for("sms", current_app.config)
    except RuntimeError as exc:  # misconfigured provider: the message is kept, not answered
        log.error("cannot answer %s SMS from %s: %s", provider, mask(message.sender), exc)
        return
    if sender is None:
        return
    if sender.name not in (provider, "console"):
        log.warning(
            "replies to %s messages go out through %s: set HOTLINE_SMS_PROVIDER=%s",
            provider,
            sender.name,
            provider,
        )
    for reply in replies:
        try:
            result = sender.send(message.sender, reply)
        except Exception:  # a provider hiccup must not turn the push into a retried 500
            log.exception("reply to %s via %s raised", mask(message.sender), sender.name)
            continue
        if not result.ok:
            log.warning(
                "reply to %s via %s not sent: %s",
                mask(message.sender),
                sender.name,
                result.error_code,
            )


def receive_push(
    *,
    provider: str,
    guard_setting: str,
    parse: Callable[[Any], InboundMessage | None],
    forbidden: dict[str, Any],
    malformed: dict[str, Any],
    empty_ok: bool = False,
) -> None:
    """Check the URL secret, read the JSON push (one object or a list) and answer every
        usable message by SMS. 400 when nothing in it is usable; a malformed entry among
        good ones is logged and skipped, since a retry would not mend it. ``empty_ok``: an
    empty list is a valid (if idle) push."""
    check_secret(guard_setting, forbidden)
    data = json_body(malformed)
    items = data if isinstance(data, list) else [data]
    valid = [m for m in map(parse, items) if m is not None]
    if not valid and (items or not empty_ok):
        refuse(400, malformed)
    if len(valid) < len(items):
        log.warning(
            "%s push: %d of %d messages malformed, skipped",
            provider,
            len(items) - len(valid),
            len(items),
        )
    for message in valid:
        answer_by_sms(message, provider)
