"""A parser that answers what the test says (for intents or confidences the trained
model does not give yet), and a web-chat sender like tests/helpers/app.py's SmsPhone."""

from __future__ import annotations

from nlu import Parse
from nlu.keywords import KeywordParser


class FakeParser:
    """Texts in ``answers`` get the given (intent, confidence); the rest go to keywords."""

    name = "fake"
    loading = False

    def __init__(self, answers: dict[str, tuple[str, float]]) -> None:
        self.answers = answers
        self.keywords = KeywordParser()

    def parse(self, text: str) -> Parse:
        if text in self.answers:
            intent, confidence = self.answers[text]
            return Parse(text, intent, confidence)
        return self.keywords.parse(text)


class WebChat:
    def __init__(self, client, sender: str = "browser-1") -> None:
        self.client, self.sender = client, sender

    def send(self, text: str) -> list[str]:
        response = self.client.post("/api/chat", json={"sender": self.sender, "text": text})
        assert response.status_code == 200, response.data
        return response.get_json()["replies"]
