"""Messages to a reporter when the police close their report, through the channel they
used. ``reporting`` cannot import ``bot``; the app hands it this function instead
(``app.extensions["hotline_notify"]``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.channels.senders import sender_for
from storage.privacy import mask

log = logging.getLogger(__name__)

Notify = Callable[[str, str, str], bool]


def make_notifier(config: Any) -> Notify:
    def notify(channel: str, contact: str, text: str) -> bool:
        """True when the message was handed to the provider; False when the channel
        cannot push (web chat) or the send failed."""
        sender = sender_for(channel, config)
        if sender is None:
            return False
        result = sender.send(contact, text)
        if not result.ok:
            log.warning("report update to %s not sent: %s", mask(contact), result.error_code)
        return result.ok

    return notify
