"""How much SMS a text costs. Chinese goes out as UCS-2: 70 characters fit one message,
67 per segment once it has to be split (the rest carries the concatenation header)."""

from __future__ import annotations

import math

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_SEGMENTS = 3

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def segments(message: str, gsm7: bool = True) -> int:
    """Number of SMS segments ``message`` is billed and delivered as. ``gsm7`` False:
    counted as UCS-2 whatever the characters (the mainland gateways bill that way)."""
    if gsm7 and _GSM7.issuperset(message):
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        single, part = UCS2_SINGLE, UCS2_PART
    # Characters outside the BMP (emoji) take two UCS-2 code units: the UTF-16 length
    # (a lone surrogate is one unit). Counted in C: asked of every reply, often twice.
    length = len(message.encode("utf-16-le", "surrogatepass")) // 2
    if length <= single:
        return 1
    return math.ceil(length / part)


def fits_sms(message: str, max_segments: int = MAX_SEGMENTS) -> bool:
    return segments(message) <= max_segments
