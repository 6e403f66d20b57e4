"""The conversation suite: multi-turn exchanges in villagers' own voices, written as data
(tests/conversations/*.yml), each run through the Twilio webhook and the web chat with
the trained model. A case says what the last reply must and must not contain, and
optionally what the police queue must look like afterwards."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
import yaml

from registry import activities
from reporting import cadres
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


def _register_teams(db, vault) -> None:
    """Two teams the bureau registered, on this week (for cases with ``registry: true``):
    a bank (code YB-450881-2025-0001, work IDs ZH2025031/ZH2025032) in 金田村 and 新圩村,
    and a hospital (RY1088) in 金田村 today only."""
    today = activities.today()
    for code, organisation, work_ids, villages, start, end in (
        ("YB-450881-2025-0001", "中国银行桂平支行", "ZH2025031 ZH2025032", "金田村 新圩村", -1, 2),
        ("YB-450881-2025-0003", "桂平市人民医院", "RY1088", "金田村", 0, 0),
    ):
        values = {
            "code": code,
            "organisation": organisation,
            "leader": "李晓梅",
            "work_ids": work_ids,
            "villages": villages,
            "start": (today + dt.timedelta(days=start)).isoformat(),
            "end": (today + dt.timedelta(days=end)).isoformat(),
            "authorised_by": "桂平市医疗保障局",
        }
        activities.save(db, vault, "桂平市", values, activities.Actor(name="test"))


@pytest.fixture
def loaded(app):
    db = load_county(app)
    yield db
    db.conn.close()


@pytest.mark.parametrize("channel", ["sms", "web"])
@pytest.mark.parametrize("case", CASES)
def test_conversation(app, loaded, case, channel):
    if case.get("registry"):
        _register_teams(loaded, app.extensions["hotline_vault"])
    client = app.test_client()
    n = next(_numbers)
    if case.get("cadre"):  # a registered cadre of that village: a phone number, SMS only
        if channel != "sms":
            pytest.skip("cadres are registered by phone number")
        cadres.add(loaded, app.extensions["hotline_vault"], f"+86139{n:08d}", case["cadre"])
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
    elif after and after.startswith("one_report_without:"):
        assert len(rows) == 1
        assert after.split(":", 1)[1] not in (rows[0]["summary"] or ""), rows[0]["summary"]
    elif after == "one_urgent_report":
        assert [r["priority"] for r in rows] == ["urgent"], f"{case['name']}: {rows}"
