"""The SMS webhooks, for every provider: each route hands its provider (an
``SmsProvider``) to ``handle_inbound`` or ``handle_receipts``, which authenticate the
request, parse it, run it through the dialogue or the outbox, and answer in the
provider's own shape. Also the console provider's local webhook, POST /sms/console.

Providers that read replies from the HTTP answer (Twilio, console) get them there;
the mainland gateways do not, so their replies go out as new SMS through the
configured provider (``SMS_PROVIDER``, normally the same gateway).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from bot import conversations
from bot.channels import deliver
from bot.channels.sms_provider import (
    BadRequest,
    SmsProvider,
    make_provider,
    provider_name,
)
from bot.messages import InboundMessage
from messaging.providers.base import sender_for
from storage.db import get_db
from storage.privacy import get_vault, mask

log = logging.getLogger(__name__)
bp = Blueprint("sms_console", __name__)


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
            "replies to %s messages go out through %s: set SMS_PROVIDER=%s",
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
    for message in messages:
        answer_by_sms(message, provider.name)
    return provider.ack()


def handle_receipts(provider: SmsProvider) -> Response:
    """A delivery-status webhook: each receipt updates its outbox row (an opted-out
    code also opts the subscriber out); receipts for messages that are not ours (a
    reply, another app on the account) are ignored."""
    from outreach import outbox  # outreach imports the channels, not the reverse

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
        applied = outbox.apply_status(
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
