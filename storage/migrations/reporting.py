"""Tables of the reporting domain."""

from __future__ import annotations

MIGRATIONS: list = []
