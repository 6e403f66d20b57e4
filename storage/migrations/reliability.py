"""Crash safety of inbound dedupe: who holds a claim, and whether its message is logged.

``claimed_by`` names the process that claimed a provider message (host:pid:nonce), so a
restarted server can take over the claims of a process that was killed at once instead
of waiting for them to go stale; ``logged`` is set in the same transaction as the
message-log row, so a message handled again after a crash is never stored twice.
"""

from __future__ import annotations

import sqlite_utils


def _claim_owner(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE inbound_seen ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE inbound_seen ADD COLUMN logged INTEGER")


MIGRATIONS = [("reliability_001_claim_owner", _claim_owner)]
