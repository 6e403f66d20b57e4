"""Known-bad lookups: "这个号码是不是骗子 139...", a forwarded link, or just a number.

The answer says how many reports mention the number or link and in how many villages
(``reporting.links.lookup``: counts only, never who reported or what they wrote), and
always what to do. A number FACTS.md vouches for (110, 96110, 12393, 12381) is named as
official, with the warning that caller ids can be forged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import responses
from bot.dialogue import join_if_fits, register_step
from reporting import links

if TYPE_CHECKING:
    from bot.dialogue import Dialogue, Turn


def is_bare_lookup(text: str) -> bool:
    """A message that is nothing but a phone number or a link (outside any form)."""
    return links.is_lookup_only(text)


def _month(value: str | None) -> str:
    if not value:
        return ""
    year, month = value.split("-")
    return f"{year}年{int(month)}月"


def answer(found: links.Count) -> str:
    texts = responses.catalogue("lookups")
    if found.official:
        return texts["official"][found.official].strip()
    what = texts["what"][found.kind].format(display=found.display)
    if found.reports:
        found_text: str = texts["found"].strip()
        return found_text.format(
            what=what,
            count=found.reports,
            villages=max(found.villages, 1),
            month=_month(found.last_month),
        )
    return texts["none"].strip().format(what=what)


@register_step("check_number")
def check_number(dialogue: Dialogue, turn: Turn) -> None:
    found = links.lookup(dialogue.db, dialogue.vault, turn.text)
    if not found:
        turn.say(responses.catalogue("lookups")["ask"].strip())
        return
    turn.say(*join_if_fits(*[answer(f) for f in found]))
