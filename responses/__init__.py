"""Everything the bot says, as data. ``replies.yml`` holds the texts; this module loads
them once and fills in the few variables some texts have."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from responses.sms import fits_sms, segments

HERE = Path(__file__).parent

__all__ = ["catalogue", "text", "answer", "fits_sms", "segments", "MENU_CHOICES"]


@cache
def catalogue(name: str = "replies") -> dict[str, Any]:
    """The parsed YAML file ``responses/<name>.yml``."""
    with open(HERE / f"{name}.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def text(key: str, **values: Any) -> str:
    """The text at dotted ``key`` in replies.yml, with ``{name}`` filled from ``values``."""
    node: Any = catalogue()
    for part in key.split("."):
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"{key} is not a text")
    return node.strip().format(**values) if values else node.strip()


def answer(intent: str) -> tuple[str, str | None]:
    """The answer to an intent and its optional follow-up page ("回复0看更多")."""
    entry = catalogue()["answers"][intent]
    more = entry.get("more")
    return entry["text"].strip(), more.strip() if more else None


def _menu_choices() -> dict[str, str]:
    return {str(k): v for k, v in catalogue()["menu_choices"].items()}


MENU_CHOICES = _menu_choices()
