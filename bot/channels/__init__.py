"""Where messages enter and leave: one module per provider.

Each inbound module verifies the provider's signature, parses its request, dedupes by
the provider's message id and hands an ``InboundMessage`` to ``deliver``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

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


def deliver(
    message: InboundMessage,
    provider: str | None = None,
    with_replies: Callable[[list[str]], None] | None = None,
) -> list[str]:
    """Run one inbound message through the dialogue, at most once per provider id.

    A retry of a message already answered gets the same replies again (the provider
    did not see the first answer); the claim of the id, the log and the answer are the
    engine's (bot/conversations.Store). A failure inside the dialogue gets an apology,
    never a 500, and the message itself was already logged. ``with_replies`` runs in
    the transaction that stores a fresh answer (Engine.handle); not for a retry's
    remembered replies or an apology.
    """
    try:
        return current_dialogue().handle(message, provider, with_replies)
    except InboundNotStored:
        # The database stayed locked past every bounded wait: say so, never "received".
        log.error("a %s message could not be stored (database locked)", message.channel)
        return [responses.text("not_received")]
    except Exception:
        log.exception("dialogue failed on a %s message", message.channel)
        replies = [responses.text("system_busy")]
    if provider and message.message_id:
        try:
            conversations.remember_replies(get_db(), provider, message.message_id, replies)
        except (sqlite3.OperationalError, TimeoutError):
            log.error("the apology for a %s message could not be remembered", provider)
    return replies
