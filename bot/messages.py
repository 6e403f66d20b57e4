"""What every channel turns a provider's request into, and what the dialogue answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass
class InboundMessage:
    channel: str  # "sms", "wechat", "web"
    sender: str  # phone number, openid or web session id: personal, never stored in clear
    text: str
    media: list[Media] = field(default_factory=list)
    message_id: str | None = None  # the provider's id, for dedupe
