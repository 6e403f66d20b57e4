"""Messages the model was unsure about, kept redacted for a supervisor to label.

Only the redacted text is stored (review/redact.py): no sender, no hash of one, nothing
that leads back to the villager. ``text_key`` groups near-identical texts so one review
labels them all; ``reviewed_intent`` is an intent name or ``not_a_message``.
"""

from __future__ import annotations

import sqlite_utils


def _review_items(db: sqlite_utils.Database) -> None:
    db.table("review_items").create(
        {
            "id": int,
            "text": str,
            "text_key": str,
            "guess_intent": str,
            "guess_confidence": float,
            "reason": str,  # fallback / low_confidence / not_helpful
            "channel": str,
            "created_at": str,
            "reviewed_intent": str,
            "reviewed_by": str,
            "reviewed_at": str,
        },
        pk="id",
        not_null={"text", "text_key", "reason", "created_at"},
    )
    db.table("review_items").create_index(["text_key"])
    db.table("review_items").create_index(["reviewed_at", "created_at"])


MIGRATIONS = [("review_001_items", _review_items)]
