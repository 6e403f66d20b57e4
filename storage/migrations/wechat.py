"""Tables of the wechat domain."""

from __future__ import annotations

MIGRATIONS: list = []
