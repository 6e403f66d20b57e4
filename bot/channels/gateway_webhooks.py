"""The SMS webhooks, for every provider: each route hands its provider (an
``SmsProvider``) to ``handle_inbound`` or ``handle_receipts``, which authenticate the
request, parse it, run it through the dialogue or the outbox, and answer in the
provider's own shape. Also the console provider's local webhook, POST /sms/console.

Providers that read replies from the HTTP answer (Twilio, console) get them there;
the mainland gateways do not, so their replies are messages the hotline starts: rows
of the one outbox (kind ``reply``), sent by its drain through the configured provider
(``SMS_PROVIDER``, normally the same gateway), retried and recorded like every other.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3

import sqlite_utils
from flask import Blueprint, Response, current_app, request

from bot.channels import deliver
from bot.channels.sms_provider import (
    BadRequest,
    SmsProvider,
    make_provider,
    provider_name,
)
from bot.messages import InboundMessage
from messaging import outbox
from storage.db import get_db
from storage.privacy import Vault, get_vault

log = logging.getLogger(__name__)
bp = Blueprint("sms_console", __name__)


def answer_by_sms(message: InboundMessage, provider: str) -> bool:
    """Run the message through the dialogue and queue the replies in the outbox (kind
    ``reply``, urgent), once; True when there are replies to send (wake the drain).

    A fresh answer's rows are written in the transaction that stores the answer, so a
    crash after it leaves them queued and a crash before it leaves neither (the
    gateway's retry runs the message again). A push the gateway repeats gets the
    remembered replies from ``deliver``, queued under the same keys: rows already there
    are kept as they are, so a repeat never texts them twice. Empty replies: nothing
    to send, or the first delivery is still running and queues them.
    """
    db, vault = get_db(), get_vault()
    # The key the rows are made once by; without the gateway's id a push is its own.
    key = message.message_id or secrets.token_hex(8)
    queued: list[list[str]] = []

    def queue(replies: list[str]) -> None:
        queue_replies(db, vault, message, provider, key, replies)
        queued.append(replies)

    replies = deliver(message, provider=provider, with_replies=queue)
    # Not the replies queued with the answer: a repeat's remembered replies, or the
    # apology (the dialogue failed, or the answer's transaction did, rows and all).
    if replies and replies not in queued:
        try:
            with db.atomic():
                queue_replies(db, vault, message, provider, key, replies)
        except (sqlite3.OperationalError, TimeoutError) as exc:
            raise RepliesNotQueued(str(exc)) from exc
    return bool(replies)


class RepliesNotQueued(Exception):
    """The database stayed locked: the replies are not in the outbox. The gateway is
    told to push again (503), and its retry queues the remembered replies."""


def queue_replies(
    db: sqlite_utils.Database,
    vault: Vault,
    message: InboundMessage,
    provider: str,
    key: str,
    replies: list[str],
) -> None:
    """One outbox row per reply, in the caller's transaction; the drain sends them by
    the configured SMS provider (``SMS_PROVIDER``, normally the same gateway)."""
    for index, reply in enumerate(replies):
        outbox.enqueue(
            db,
            vault,
            kind="reply",
            channel="sms",
            contact=message.sender,
            text=reply,
            idem_key=f"reply:{provider}:{key}:{index}",
            urgent=True,  # they just texted us, at night too
            source=provider,
        )


def handle_inbound(provider: SmsProvider) -> Response:
    """An inbound-message webhook: 403 unless authentic, 4xx when unreadable; else
    every message goes through the dialogue once, and the provider gets its answer."""
    if not provider.authenticate(request):
        return provider.reject(403, "forbidden")
    try:
        messages = provider.parse_inbound(request)
    except BadRequest as exc:
        return provider.reject(exc.status, exc.reason)
    if provider.replies_in_answer:
        replies: list[str] = []
        for message in messages:
            replies.extend(deliver(message, provider=provider.name))
        return provider.ack(replies)
    try:
        queued = [answer_by_sms(message, provider.name) for message in messages]
    except RepliesNotQueued as exc:
        log.error("%s replies not queued (%s): the gateway will push again", provider.name, exc)
        return provider.reject(503, "busy, push again")
    if any(queued):
        configured = provider_name(current_app.config)
        if configured not in (provider.name, "console"):
            log.warning(
                "replies to %s messages go out through %s: set SMS_PROVIDER=%s",
                provider.name,
                configured,
                provider.name,
            )
        outbox.wake()  # the drain sends them now, outside this request
    return provider.ack()


def handle_receipts(provider: SmsProvider) -> Response:
    """A delivery-status webhook: each receipt updates its outbox row (an opted-out
    code also opts the subscriber out); receipts for messages that are not ours
    (another app on the account) are ignored."""
    from outreach import outbox as drain  # outreach imports the channels, not the reverse

    if not provider.authenticate(request):
        return provider.reject(403, "forbidden")
    try:
        receipts = provider.parse_receipts(request)
    except BadRequest as exc:
        return provider.reject(exc.status, exc.reason)
    db = get_db()
    vault = get_vault()
    unknown = 0
    for receipt in receipts:
        recipient = vault.hash(receipt.recipient) if receipt.recipient else None
        applied = drain.apply_status(
            db, receipt.provider_id, receipt.status, receipt.error_code, recipient
        )
        if applied == "unknown":
            unknown += 1
    if unknown:
        log.info("%s: %d receipts for messages not in the outbox ignored", provider.name, unknown)
    return provider.ack()


@bp.post("/sms/console")
def console_inbound() -> Response:
    """Text the hotline from this machine while ``SMS_PROVIDER=console``
    (``curl -d '{"from": "13800000000", "text": "1"}'``): the replies come back as JSON."""
    provider = make_provider(current_app.config, "console", sending=False)
    if provider_name(current_app.config) != "console":
        return provider.reject(404, "the console webhook is open only with SMS_PROVIDER=console")
    return handle_inbound(provider)
