"""Seen before: the same message sent in by several villagers, counted, never who.

Each message a villager pastes or photographs is normalised (scamcheck.signals'
normalisation, lower case, punctuation and spaces dropped, every run of digits masked
so a recipient's 尾号, a code or an amount never tells two copies apart) and compared
with the messages of the last 30 days by the cosine of their character 2-3-gram count
vectors (scikit-learn's HashingVectorizer: stateless, nothing to fit). At 0.8 or more
it is the same message (a scam with one character changed still is); otherwise it is
a new one. Counts are over the last 7 days: distinct villagers (by keyed hash) and
distinct villages.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import sqlite_utils

from scamcheck.signals import normalise
from storage.clock import now_iso
from storage.tables import new_id

SIMILARITY = 0.8
MATCH_DAYS = 30
COUNT_DAYS = 7
MIN_CHARS = 12  # shorter than this is a question, not a forwarded message
MAX_CHARS = 1000
MAX_CANDIDATES = 5000
BEIJING = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Seen:
    message_id: int
    villagers: int  # distinct senders in the last 7 days, this one included
    villages: int  # distinct known villages among them


def fingerprint_text(text: str) -> str:
    """The form two copies of one message share."""
    value = normalise(text).lower()
    value = re.sub(r"\d+", "#", value)
    return re.sub(r"[\W_]+", "", value.replace("#", "0"))[:MAX_CHARS]


@cache
def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char", ngram_range=(2, 3), n_features=2**18, alternate_sign=False, norm="l2"
    )


@lru_cache(maxsize=MAX_CANDIDATES)
def _vector(fingerprint: str) -> tuple[Any, Any]:
    """(feature indices, values) of one fingerprint's vector. A pure function of the
    text, kept per process: each stored message is vectorised once, not again for every
    pasted message compared with it (the vectoriser costs ~0.1 ms a call, whatever its
    size, and the candidates are up to MAX_CANDIDATES)."""
    row = _vectorizer().transform([fingerprint])
    return row.indices, row.data


def _scores(fp: str, candidates: list[str]) -> Any:
    """Cosine of ``fp`` with each candidate: the row-by-row dot products of the sparse
    product ``candidates @ fp.T``, summed in the same order (so the same floats)."""
    import numpy as np

    q_idx, q_val = _vector(fp)
    query = np.zeros(_vectorizer().n_features)
    query[q_idx] = q_val
    vectors = [_vector(text) for text in candidates]
    indices = np.concatenate([i for i, _ in vectors])
    values = np.concatenate([v for _, v in vectors])
    rows = np.repeat(np.arange(len(vectors)), [len(i) for i, _ in vectors])
    return np.bincount(rows, weights=values * query[indices], minlength=len(vectors))


def similarity(a: str, b: str) -> float:
    """Cosine similarity of two fingerprints' character 2-3-gram counts."""
    vectors = _vectorizer().transform([a, b])
    return float((vectors[0] @ vectors[1].T).toarray()[0, 0])


def _ago(days: int, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return (now - dt.timedelta(days=days)).isoformat(timespec="seconds")


def find(db: sqlite_utils.Database, text: str) -> int | None:
    """The id of the stored message ``text`` is a copy of, or None."""
    fp = fingerprint_text(text)
    if len(fp) < MIN_CHARS:
        return None
    rows = db.execute(
        "SELECT id, text FROM scam_messages WHERE last_seen_at >= ? "
        "ORDER BY last_seen_at DESC LIMIT ?",
        [_ago(MATCH_DAYS), MAX_CANDIDATES],
    ).fetchall()
    if not rows:
        return None
    scores = _scores(fp, [r[1] for r in rows])
    best = int(scores.argmax())
    return int(rows[best][0]) if scores[best] >= SIMILARITY else None


def record(
    db: sqlite_utils.Database,
    text: str,
    *,
    sender_hash: str,
    channel: str,
    village: str | None = None,
) -> Seen | None:
    """Count ``text`` as sent in by ``sender_hash`` (once per villager per day); None
    when it is too short to be a forwarded message."""
    fp = fingerprint_text(text)
    if len(fp) < MIN_CHARS:
        return None
    stamp = now_iso()
    with db.atomic():
        message_id = find(db, text)
        if message_id is None:
            message_id = new_id(
                db.table("scam_messages").insert(
                    {"text": fp, "first_seen_at": stamp, "last_seen_at": stamp}
                )
            )
        else:
            db.table("scam_messages").update(message_id, {"last_seen_at": stamp})
        day = dt.datetime.now(BEIJING).date().isoformat()
        db.execute(
            "INSERT INTO scam_sightings (message_id, sender_hash, village, channel, day,"
            " seen_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [message_id, sender_hash, village, channel, day, stamp],
        )
    return counts(db, message_id)


def counts(db: sqlite_utils.Database, message_id: int, days: int = COUNT_DAYS) -> Seen:
    villagers, villages = db.execute(
        "SELECT count(DISTINCT sender_hash), count(DISTINCT village) FROM scam_sightings "
        "WHERE message_id = ? AND seen_at >= ?",
        [message_id, _ago(days)],
    ).fetchone()
    return Seen(message_id, int(villagers), int(villages))


def senders(db: sqlite_utils.Database, message_id: int, days: int = MATCH_DAYS) -> list[str]:
    """Hashes of everyone who sent the message in within ``days`` (for verdict notices)."""
    rows = db.execute(
        "SELECT DISTINCT sender_hash FROM scam_sightings WHERE message_id = ? AND seen_at >= ?",
        [message_id, _ago(days)],
    ).fetchall()
    return [r[0] for r in rows]
