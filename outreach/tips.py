"""The weekly tips (responses/tips.yml) and their rotation.

Rotation: each subscriber has the set of tips sent in their current round
(``tip_history``). A push gives everyone the campaign's tip of the week unless they
already had it this round; then the first tip (in file order) they have not had. When a
subscriber has had every tip, their round starts over. So villagers of one group mostly
get the same tip the same week, a newcomer never gets an old tip twice, and adding tips
to the file simply makes them available.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlite_utils

import responses


@dataclass(frozen=True)
class Tip:
    id: str
    topic: str
    text: str


def all_tips() -> list[Tip]:
    return [
        Tip(str(t["id"]), str(t["topic"]), str(t["text"]).strip())
        for t in responses.catalogue("tips")["tips"]
    ]


def tip_by_id(tip_id: str) -> Tip | None:
    return next((t for t in all_tips() if t.id == tip_id), None)


def next_tip_id(preferred: str | None, had: set[str], order: list[str]) -> tuple[str, bool]:
    """(tip id, new_round): the tip to send to someone who already had ``had``."""
    known = had.intersection(order)
    if len(known) >= len(order):
        return (preferred if preferred in order else order[0]), True
    if preferred in order and preferred not in known:
        return preferred, False
    return next(t for t in order if t not in known), False


def history(db: sqlite_utils.Database, subscriber_ids: list[int]) -> dict[int, set[str]]:
    had: dict[int, set[str]] = defaultdict(set)
    for sub_id, tip_id in db.execute(
        "SELECT subscriber_id, tip_id FROM tip_history WHERE subscriber_id IN "
        "(SELECT value FROM json_each(?))",
        [_json_ids(subscriber_ids)],
    ).fetchall():
        had[sub_id].add(tip_id)
    return had


def _json_ids(ids: list[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"
