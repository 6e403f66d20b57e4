"""Urgent alerts: a preview and a confirmation step, logged with who sent them; the
CLI asks before sending (or takes --yes)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import cli
from outreach import alerts, outbox
from storage.db import connect
from tests.helpers.outreach import NIGHT, VAULT, FakeProvider, enroll, new_db, numbers

TEXT = "今天有人冒充医保局在东坝镇活动，要验证码、借手机的都别理，马上打110。"


@pytest.fixture
def db(tmp_path):
    database = new_db(tmp_path)
    enroll(database, numbers(3), village="石桥村", township="东坝镇")
    enroll(database, numbers(2, start=50), village="王家庄", township="东坝镇")
    enroll(database, numbers(4, start=90), village="河湾村", township="大安镇")
    return database


def test_preview_shows_reach_and_text_and_sending_needs_its_code(db):
    shown = alerts.preview(db, "township", "东坝镇", TEXT, now=NIGHT)
    assert (shown.villages, shown.recipients, shown.segments) == (2, 5, 1)
    assert shown.sample.startswith("【村村反诈】紧急提醒：今天有人冒充医保局")
    assert shown.sample.endswith("（尾号678）回T退订")
    with pytest.raises(alerts.AlertError, match="not confirmed"):
        alerts.send(db, "township", "东坝镇", TEXT, confirm="", sent_by="李警官", now=NIGHT)
    assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 0
    alert_id, planned = alerts.send(
        db, "township", "东坝镇", TEXT, confirm=shown.code, sent_by="李警官", now=NIGHT
    )
    log = alerts.recent(db)[0]
    assert (log["id"], log["sent_by"], log["recipients"], log["urgent"]) == (
        alert_id,
        "李警官",
        5,
        1,
    )
    assert log["campaign_id"] == planned.campaign_id
    # Urgent: goes at once even at 22:30.
    stats = outbox.drain(db, VAULT, FakeProvider(), rate=0, now=lambda: NIGHT)
    assert stats.sent == 5


def test_confirming_twice_sends_once(db):
    shown = alerts.preview(db, "county", "平南县", TEXT, now=NIGHT)
    first = alerts.send(db, "county", "平南县", TEXT, confirm=shown.code, sent_by="a", now=NIGHT)
    again = alerts.send(db, "county", "平南县", TEXT, confirm=shown.code, sent_by="a", now=NIGHT)
    assert first[0] == again[0] and not again[1].created
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 9


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty"),
        ("详情见 http://example.com", "no links"),
        ("点 www.yb-tuiguang.com 查看", "no links"),
        ("有人冒充医保局" * 40, "SMS long"),
    ],
)
def test_bad_alert_texts_are_refused(db, text, error):
    with pytest.raises(alerts.AlertError, match=error):
        alerts.preview(db, "township", "东坝镇", text)


def test_unknown_target_is_refused(db):
    with pytest.raises(alerts.AlertError, match="no village group"):
        alerts.preview(db, "township", "不存在镇", TEXT)


def test_cli_asks_for_confirmation_and_logs_the_sender(tmp_path, monkeypatch):
    var = tmp_path / "var"
    monkeypatch.setenv("HOTLINE_VAR", str(var))
    monkeypatch.setenv("HOTLINE_SMS_PROVIDER", "console")
    csv = tmp_path / "v.csv"
    csv.write_text("phone,village,township,county\n13812345678,石桥村,东坝镇,平南县\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["groups", "import", str(csv), "--by", "张主任"])
    assert result.exit_code == 0, result.output
    assert "enrolled 1" in result.output
    args = [
        "alert",
        "send",
        "--township",
        "东坝镇",
        "--text",
        TEXT,
        "--by",
        "李警官",
        "--rate",
        "0",
    ]
    refused = runner.invoke(cli, args, input="n\n")
    assert refused.exit_code == 1 and "not sent" in refused.output
    assert "1 subscribers" in refused.output and "send this alert?" in refused.output
    db = connect(var / "hotline.db")
    assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 0
    accepted = runner.invoke(cli, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "alert 1 logged" in accepted.output and "sent 1" in accepted.output
    assert "[console SMS -> 138****5678] 【村村反诈】紧急提醒：" in accepted.output
    assert alerts.recent(db)[0]["sent_by"] == "李警官"
    listed = runner.invoke(cli, ["alert", "list"])
    assert "by 李警官" in listed.output
