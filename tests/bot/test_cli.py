"""The `hotline` command line: its help lists the commands, `chat` talks to the bot."""

from __future__ import annotations

from click.testing import CliRunner

import responses
from bot.cli import cli


def test_help_lists_the_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in (
        "serve",
        "chat",
        "train",
        "nlu-parse",
        "nlu-evaluate",
        "settings",
        "jurisdictions",
        "officer",
        "groups",
        "tips",
        "alert",
    ):
        assert command in result.output


def test_terminal_chat(tmp_path, keyword_parser, monkeypatch, app_factory):
    monkeypatch.setattr("bot.app.create_app", lambda: app_factory(tmp_path, keyword_parser))
    result = CliRunner().invoke(cli, ["chat"], input="我已经把验证码告诉他们了\n退订\n")
    assert result.exit_code == 0, result.output
    # The "> " prompt and the "< " answer share a line: the typed text is not echoed.
    replies = [line.split("< ", 1)[1] for line in result.output.splitlines() if "< " in line]
    assert "96110" in replies[0]
    # Never subscribed: told so, not "已退订".
    assert replies[-1] == responses.text("never_subscribed")
