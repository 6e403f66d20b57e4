"""The conversation suite: multi-turn exchanges in villagers' own voices, written as data
(tests/conversations/*.yml), each run through the Twilio webhook and the web chat with
the trained model. A case says what the last reply must and must not contain, and
optionally what the police queue must look like afterwards."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from tests.helpers.app import SmsPhone
from tests.helpers.police import load_county

HERE = Path(__file__).parent.parent / "conversations"
CASES = [
    pytest.param(case, id=f"{path.stem}:{case['name']}")
    for path in sorted(HERE.glob("*.yml"))
    for case in yaml.safe_load(path.read_text(encoding="utf-8"))
]
_numbers = itertools.count(1000)


def test_suite_is_large_and_varied():
    cases = [p.values[0] for p in CASES]
    assert len(cases) >= 60
    assert len({c["voice"] for c in cases}) >= 8
    assert sum(len(c["send"]) > 1 for c in cases) >= 30  # mostly multi-turn
    assert all(c.get("must") or c.get("must_not") for c in cases)


class WebChat:
    def __init__(self, client, sender: str) -> None:
        self.client, self.sender = client, sender

    def send(self, text: str) -> list[str]:
        response = self.client.post("/api/chat", json={"sender": self.sender, "text": text})
        assert response.status_code == 200, response.data
        return response.get_json()["replies"]


@pytest.fixture
def loaded(app):
    db = load_county(app)
    yield db
    db.conn.close()


@pytest.mark.parametrize("channel", ["sms", "web"])
@pytest.mark.parametrize("case", CASES)
def test_conversation(app, loaded, case, channel):
    client = app.test_client()
    n = next(_numbers)
    who = SmsPhone(client, f"+86139{n:08d}") if channel == "sms" else WebChat(client, f"w{n}")
    replies: list[str] = []
    for text in case["send"]:
        replies = who.send(text)
    last = "\n".join(replies)
    for wanted in case.get("must", []):
        assert wanted in last, f"{case['name']}: {wanted!r} missing from {last!r}"
    for unwanted in case.get("must_not", []):
        assert unwanted not in last, f"{case['name']}: {unwanted!r} in {last!r}"
    after = case.get("after")
    rows = list(loaded.query("SELECT * FROM reports"))
    if after == "no_reports":
        assert rows == [], f"{case['name']}: a report nobody meant"
    elif after and after.startswith("one_report_with:"):
        assert len(rows) == 1
        assert after.split(":", 1)[1] in (rows[0]["summary"] or "")
    elif after == "one_urgent_report":
        assert [r["priority"] for r in rows] == ["urgent"], f"{case['name']}: {rows}"
