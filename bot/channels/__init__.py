"""Where messages enter and leave: one module per provider.

Each inbound module verifies the provider's signature, parses its request, dedupes by
the provider's message id and hands an ``InboundMessage`` to ``deliver``.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import current_app

import responses
from bot import conversations, ratelimit
from bot.conversations import InboundNotStored
from bot.engine import Engine
from bot.messages import InboundMessage
from storage.db import get_db
from storage.privacy import get_vault

log = logging.getLogger(__name__)


def current_dialogue() -> Engine:
    ext = current_app.extensions
    return Engine(
        get_db(),
        get_vault(),
        ext["hotline_parser"],
        ext["hotline_skills"],
        ratelimit.for_app(current_app),
        ext.get("hotline_unsure_hooks", ()),
    )


def deliver(message: InboundMessage, provider: str | None = None) -> list[str]:
    """Run one inbound message through the dialogue, at most once per provider id.

    A retry of a message already answered gets the same replies again (the provider
    did not see the first answer); a failure inside the dialogue gets an apology,
    never a 500, and the message itself was already logged.
    """
    db = get_db()
    if provider and message.message_id:
        try:
            seen = conversations.claim_message(db, provider, message.message_id)
        except (sqlite3.OperationalError, TimeoutError):
            log.error("a %s message could not be claimed (database locked)", provider)
            return [responses.text("not_received")]
        if seen is not None:
            log.info("duplicate %s message %s ignored", provider, message.message_id)
            return seen
    try:
        replies = current_dialogue().handle(message, provider)
    except InboundNotStored:
        # The database stayed locked past every bounded wait: say so, never "received".
        log.error("a %s message could not be stored (database locked)", message.channel)
        return [responses.text("not_received")]
    except Exception:
        log.exception("dialogue failed on a %s message", message.channel)
        replies = [responses.text("system_busy")]
    if provider and message.message_id:
        conversations.remember_replies(db, provider, message.message_id, replies)
    return replies
