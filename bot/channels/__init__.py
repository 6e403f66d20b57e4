"""Where messages enter and leave: one module per provider.

Each inbound module verifies the provider's signature, parses its request, dedupes by
the provider's message id and hands an ``InboundMessage`` to ``deliver``.
"""

from __future__ import annotations

import logging

from flask import current_app

import responses
from bot import conversations, ratelimit
from bot.dialogue import Dialogue
from bot.messages import InboundMessage
from storage.db import get_db
from storage.privacy import get_vault

log = logging.getLogger(__name__)


def current_dialogue() -> Dialogue:
    parser = current_app.extensions["hotline_parser"]
    return Dialogue(get_db(), get_vault(), parser, ratelimit.for_app(current_app))


def deliver(message: InboundMessage, provider: str | None = None) -> list[str]:
    """Run one inbound message through the dialogue, at most once per provider id.

    A retry of a message already answered gets the same replies again (the provider
    did not see the first answer); a failure inside the dialogue gets an apology,
    never a 500, and the message itself was already logged.
    """
    db = get_db()
    if provider and message.message_id:
        seen = conversations.claim_message(db, provider, message.message_id)
        if seen is not None:
            log.info("duplicate %s message %s ignored", provider, message.message_id)
            return seen
    try:
        replies = current_dialogue().handle(message, provider)
    except Exception:
        log.exception("dialogue failed on a %s message", message.channel)
        replies = [responses.text("system_busy")]
    if provider and message.message_id:
        conversations.remember_replies(db, provider, message.message_id, replies)
    return replies
