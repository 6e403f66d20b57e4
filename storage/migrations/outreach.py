"""Tables of the outreach domain."""

from __future__ import annotations

MIGRATIONS: list = []
