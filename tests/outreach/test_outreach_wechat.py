"""Tips and alerts to WeChat followers: by the customer-service API inside their 48-hour
window; outside it by SMS when they gave a number (exactly once, crash or not); else
recorded as undeliverable and counted (CLI and web). WeChat followers may give that
number after 订阅."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter

import pytest
from click.testing import CliRunner

import responses
from bot import subscriptions
from bot.cli import cli
from messaging.providers import wechat as wechat_provider
from messaging.providers.console import ConsoleSender
from messaging.providers.wechat import WeChatSender
from outreach import campaigns, groups, outbox, phones, texts, tips
from storage.db import connect
from storage.privacy import load_vault
from tests.helpers.outreach import (
    DAYTIME,
    VAULT,
    Crash,
    FakeProvider,
    PlainProvider,
    enroll,
    new_db,
)
from tests.helpers.police import load_county, logged_in
from tests.helpers.wechat import (
    APPID,
    SECRET,
    WeChatPush,
)

PHONE = "13812345678"


@pytest.fixture
def db(tmp_path):
    database = new_db(tmp_path)
    yield database
    database.conn.close()


@pytest.fixture
def wechat(tmp_path, db, api):
    config = {
        "HOTLINE_DB": str(tmp_path / "hotline.db"),
        "WECHAT_APPID": APPID,
        "WECHAT_APPSECRET": SECRET,
        "WECHAT_API_BASE": api.url,
    }
    return WeChatSender(config, vault=VAULT)


def follow(
    db,
    openid: str,
    *,
    phone: str | None = None,
    wrote_hours_ago: float | None = None,
    vault=VAULT,
    village: str = "石桥村",
) -> int:
    """A WeChat follower who texted 订阅 and is in the village group."""
    assert subscriptions.subscribe(db, vault, openid, "wechat")
    sub = groups.subscriber(db, vault, openid)
    group = groups.find_villages(db, village)[0]
    groups.assign_group(db, sub["id"], group)
    if phone:
        phones.set_phone(db, vault, sub["id"], phone)
    if wrote_hours_ago is not None:
        wechat_provider.record_inbound(db, vault, openid, at=time.time() - wrote_hours_ago * 3600)
    return sub["id"]


def plan_tip(db, key=None):
    return campaigns.plan(
        db,
        kind="tip",
        scope_type="group",
        scope_value="石桥村",
        created_by="test",
        tip_id=tips.all_tips()[0].id,
        key=key,
        now=DAYTIME,
    )


def drain(db, senders, **kwargs):
    return outbox.drain(db, VAULT, senders, rate=0, now=lambda: DAYTIME, **kwargs)


def rows(db):
    return list(
        db.query(
            "SELECT o.*, s.contact_masked FROM outbox o "
            "JOIN subscribers s ON s.id = o.subscriber_id ORDER BY o.id"
        )
    )


def the_tip(phone: str | None) -> str:
    return texts.render_tip(tips.all_tips()[0].text, phone)


# -- inside the window: WeChat -----------------------------------------------------------


def test_followers_inside_their_window_get_the_tip_by_wechat(db, api, wechat):
    enroll(db, ["13900000001"])
    follow(db, "oInside_no_phone_0001", wrote_hours_ago=1)
    follow(db, "oInside_with_phone_002", phone=PHONE, wrote_hours_ago=47)
    planned = plan_tip(db)
    assert planned.recipients == 3
    sms = ConsoleSender()
    stats = drain(db, {"sms": sms, "wechat": wechat})
    assert (stats.sent, stats.fell_back, stats.undeliverable) == (3, 0, 0)
    assert sms.sent == [("13900000001", the_tip("13900000001"))]
    got = {m["touser"]: m["text"]["content"] for m in api.sent}
    # No number: no marker. A number: the marker is its last 3 digits, as in SMS.
    assert got == {
        "oInside_no_phone_0001": the_tip(None),
        "oInside_with_phone_002": the_tip(PHONE),
    }
    assert "尾号" not in the_tip(None) and "（尾号678）" in the_tip(PHONE)
    assert Counter((r["channel"], r["status"]) for r in rows(db)) == {
        ("sms", "sent"): 1,
        ("wechat", "sent"): 2,
    }
    counts = outbox.overview(db)[0]
    assert (counts["sent"], counts["wechat"], counts["via_sms"], counts["undeliverable"]) == (
        3,
        2,
        0,
        0,
    )
    assert drain(db, {"sms": sms, "wechat": wechat}).handled == 0  # nothing twice


def test_every_tip_still_fits_one_sms_segment_without_the_marker():
    for tip in tips.all_tips():
        assert responses.segments(texts.render_tip(tip.text, None)) == 1, tip.id


# -- outside the window: SMS fallback, exactly once ----------------------------------


def test_outside_the_window_with_a_number_goes_by_sms_once(db, api, wechat):
    enroll(db, [])
    follow(db, "oOutside_by_clock_001", phone=PHONE, wrote_hours_ago=49)
    # Our clock says open; WeChat says 45015 (window over): WeChat is believed.
    follow(db, "oOutside_by_wechat_02", phone="13912340999", wrote_hours_ago=2)
    api.send_answers = [{"errcode": 45015, "errmsg": "response out of time limit"}]
    plan_tip(db)
    sms = ConsoleSender()
    stats = drain(db, {"sms": sms, "wechat": wechat})
    assert (stats.fell_back, stats.sent, stats.undeliverable) == (2, 2, 0)
    assert api.sent == []
    assert sorted(sms.sent) == sorted(
        [(PHONE, the_tip(PHONE)), ("13912340999", the_tip("13912340999"))]
    )
    for row in rows(db):
        assert (row["channel"], row["status"], row["attempts"]) == ("sms", "sent", 1)
        assert row["fallback_reason"] == "outside_48h_window"
    counts = outbox.overview(db)[0]
    assert (counts["sent"], counts["via_sms"], counts["wechat"]) == (2, 2, 0)
    assert drain(db, {"sms": sms, "wechat": wechat}).handled == 0
    assert len(sms.sent) == 2


def test_crash_after_switching_to_sms_then_restart_sends_once(db, wechat):
    enroll(db, [])
    follow(db, "oCrashAfterSwitch_001", phone=PHONE, wrote_hours_ago=60)
    plan_tip(db)
    sms = ConsoleSender()
    senders = {"sms": sms, "wechat": wechat}

    def die_after_switch(outcome):
        if outcome == "fallback":
            raise Crash

    with pytest.raises(Crash):
        drain(db, senders, progress=die_after_switch)
    [row] = rows(db)
    assert (row["channel"], row["status"]) == ("sms", "pending")  # committed in one step
    assert sms.sent == []
    outbox.recover(
        db, resend_in_doubt=outbox.idempotent_channels(senders), stale_after=0, now=DAYTIME
    )
    drain(db, senders)
    drain(db, senders)
    assert sms.sent == [(PHONE, the_tip(PHONE))]


@pytest.mark.parametrize("provider_cls", [FakeProvider, PlainProvider])
def test_crash_during_the_fallback_sms_send_then_restart_sends_at_most_once(
    db, wechat, provider_cls
):
    enroll(db, [])
    follow(db, "oCrashDuringSms_0001", phone=PHONE, wrote_hours_ago=60)
    plan_tip(db)
    provider = provider_cls(crash_after_accepting=1)
    senders = {"sms": provider, "wechat": wechat}
    with pytest.raises(Crash):
        drain(db, senders)
    assert [(r["channel"], r["status"]) for r in rows(db)] == [("sms", "sending")]
    provider.crash_after_accepting = None
    _released, in_doubt = outbox.recover(
        db, resend_in_doubt=outbox.idempotent_channels(senders), stale_after=0, now=DAYTIME
    )
    assert in_doubt == 1
    drain(db, senders)
    assert provider.deliveries == [(PHONE, the_tip(PHONE))]  # once, never twice
    [row] = rows(db)
    # A provider that dedupes gets the resend (and drops it); one that does not is
    # not asked again and the row is reported, not silently retried.
    expected = "sent" if provider_cls is FakeProvider else "unknown"
    assert row["status"] == expected


def test_a_crash_during_a_wechat_send_is_not_resent_even_if_sms_dedupes(db):
    class DyingWeChat:
        name = "wechat"

        def __init__(self):
            self.calls = 0

        def send(self, to, text):
            self.calls += 1
            raise Crash

    enroll(db, [])
    follow(db, "oCrashDuringWeChat_01", phone=PHONE, wrote_hours_ago=1)
    plan_tip(db)
    dying, sms = DyingWeChat(), FakeProvider()
    senders = {"sms": sms, "wechat": dying}
    with pytest.raises(Crash):
        drain(db, senders)
    assert outbox.idempotent_channels(senders) == {"sms"}
    outbox.recover(
        db, resend_in_doubt=outbox.idempotent_channels(senders), stale_after=0, now=DAYTIME
    )
    drain(db, senders)
    [row] = rows(db)
    assert (row["channel"], row["status"], row["error_code"]) == (
        "wechat",
        "unknown",
        "crash_during_send",
    )
    assert dying.calls == 1 and sms.deliveries == []


# -- nowhere to send: undeliverable, counted -----------------------------------------


def test_outside_the_window_without_a_number_is_undeliverable_and_counted(db, api, wechat):
    enroll(db, [])
    follow(db, "oNoPhone_outside_0001", wrote_hours_ago=50)
    follow(db, "oNeverWroteToUs_00002")
    # The number itself texted T by SMS: no SMS to it, not even as a fallback.
    follow(db, "oPhoneOptedOut_00003", phone="13700000003", wrote_hours_ago=72)
    subscriptions.unsubscribe(db, VAULT, "13700000003", "sms")
    plan_tip(db)
    sms = ConsoleSender()
    stats = drain(db, {"sms": sms, "wechat": wechat})
    assert (stats.undeliverable, stats.sent, stats.fell_back) == (3, 0, 0)
    assert sms.sent == [] and api.sent == []
    reasons = sorted((r["status"], r["error_code"], r["fallback_reason"]) for r in rows(db))
    assert reasons == [
        ("undeliverable", "outside_48h_window", "no_phone"),
        ("undeliverable", "outside_48h_window", "no_phone"),
        ("undeliverable", "outside_48h_window", "phone_opted_out"),
    ]
    counts = outbox.overview(db)[0]
    assert (counts["recipients"], counts["undeliverable"], counts["failed"]) == (3, 3, 0)
    assert drain(db, {"sms": sms, "wechat": wechat}).handled == 0


def test_wechat_not_configured_falls_back_like_a_closed_window(db):
    enroll(db, ["13900000001"])
    follow(db, "oNotConfigured_phone1", phone=PHONE, wrote_hours_ago=1)
    follow(db, "oNotConfigured_nophon", wrote_hours_ago=1)
    plan_tip(db)
    unconfigured = WeChatSender({"HOTLINE_DB": "unused"}, vault=VAULT)
    sms = ConsoleSender()
    stats = drain(db, {"sms": sms, "wechat": unconfigured})
    assert (stats.sent, stats.fell_back, stats.undeliverable) == (2, 1, 1)
    assert sorted(to for to, _ in sms.sent) == sorted(["13900000001", PHONE])
    # A lone sender is the SMS sender: WeChat rows are treated the same way.
    db.execute(
        "UPDATE outbox SET status = 'pending', channel = 'wechat', fallback_reason = NULL "
        "WHERE subscriber_id IN (SELECT id FROM subscribers WHERE channel = 'wechat')"
    )
    db.conn.commit()
    sms2 = ConsoleSender()
    assert drain(db, sms2).undeliverable == 1
    assert sms2.sent == [(PHONE, the_tip(PHONE))]


def test_unfollowed_is_an_opt_out_not_a_reason_to_text(db, api, wechat):
    enroll(db, [])
    sid = follow(db, "oUnfollowedQuietly_01", phone=PHONE, wrote_hours_ago=1)
    api.send_answers = [{"errcode": 43004, "errmsg": "require subscribe"}]
    plan_tip(db)
    sms = ConsoleSender()
    stats = drain(db, {"sms": sms, "wechat": wechat})
    assert stats.skipped == 1 and sms.sent == []
    [row] = rows(db)
    assert (row["status"], row["error_code"]) == ("skipped", "unfollowed")
    sub = db.execute("SELECT status, opt_out_reason FROM subscribers WHERE id = ?", [sid])
    assert sub.fetchone() == ("opted_out", "wechat:unfollowed")


def test_cli_alert_reaches_followers_and_status_counts_undeliverable(tmp_path, monkeypatch):
    var = tmp_path / "var"
    monkeypatch.setenv("HOTLINE_VAR", str(var))
    monkeypatch.setenv("HOTLINE_SMS_PROVIDER", "console")
    for name in ("WECHAT_APPID", "WECHAT_APPSECRET"):  # WeChat not set up: SMS or nothing
        monkeypatch.delenv(name, raising=False)
    csv = tmp_path / "v.csv"
    csv.write_text("phone,village,township,county\n13900000001,石桥村,东坝镇,平南县\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["groups", "import", str(csv)]).exit_code == 0
    db = connect(var / "hotline.db")
    vault = load_vault(var / "keys.json")
    follow(db, "oCliFollowerPhone_001", phone=PHONE, wrote_hours_ago=1, vault=vault)
    follow(db, "oCliFollowerNoPhone_2", wrote_hours_ago=1, vault=vault)
    args = ["alert", "send", "--township", "东坝镇", "--text", "有人冒充医保局上门", "--yes"]
    result = runner.invoke(cli, [*args, "--rate", "0"])
    assert result.exit_code == 0, result.output
    assert "3 subscribers" in result.output
    assert "sent 2," in result.output and "WeChat->SMS 1, undeliverable 1" in result.output
    assert "[console SMS -> 138****5678] 【村村反诈】紧急提醒：有人冒充医保局上门（尾号678）" in (
        result.output
    )
    status = runner.invoke(cli, ["outbox", "status"])
    header, line = status.output.splitlines()[:2]
    columns = dict(zip(header.split()[-9:], line.split()[-9:], strict=True))
    assert columns == {
        "to": "3",
        "queued": "0",
        "sent": "2",
        "deliv": "0",
        "failed": "0",
        "undeliv": "1",
        "skip": "0",
        "wx": "0",
        "wx>sms": "1",
    }
    db.conn.close()


def test_web_campaign_counts_show_undeliverable(degraded_app):
    db = load_county(degraded_app)
    try:
        vault = degraded_app.extensions["hotline_vault"]
        group_id = groups.ensure_group(db, "桂平市", "金田镇", "金田村")
        follow(db, "oWebFollowerNoPhone_1", vault=vault, village="金田村")
        campaigns.plan(
            db,
            kind="tip",
            scope_type="group",
            scope_value=str(group_id),
            created_by="test",
            now=DAYTIME,
        )
        stats = outbox.drain(db, vault, ConsoleSender(), rate=0, now=lambda: DAYTIME)
        assert stats.undeliverable == 1
    finally:
        db.conn.close()
    page = logged_in(degraded_app, "jt").get("/police/outreach/").get_data(as_text=True)
    table = page[page.index('<table id="campaigns"') :]
    first_row = table.split("<tbody>")[1].split("</tr>")[0]
    shown = dict(re.findall(r'<td data-label="([^"]*)"[^>]*>([^<]*)</td>', first_row))
    assert (shown["人数"], shown["已发"], shown["发不到"], shown["失败"]) == ("1", "0", "1", "0")


# -- giving a number in WeChat ---------------------------------------------------------


OPENID = "oFollowerGivesPhone_01"


@pytest.fixture
def wdb(wapp):
    database = connect(wapp.config["HOTLINE_DB"])
    groups.ensure_group(database, "平南县", "东坝镇", "石桥村")
    yield database
    database.conn.close()


def test_subscribe_in_wechat_offers_sms_fallback_and_pushes_reach_both_ways(wapp, wdb, api, capsys):
    vault = wapp.extensions["hotline_vault"]
    follower = WeChatPush(wapp.test_client(), OPENID)
    assert follower.text("订阅") == [texts.enroll_text("ask_village")]
    [reply] = follower.text("石桥村")
    assert texts.enroll_text("village_set", village="石桥村") in reply
    assert texts.enroll_text("ask_phone") in reply
    assert follower.text("我的手机号是 138 1234 5678") == [
        texts.enroll_text("phone_set", masked="138****5678")
    ]
    sub = groups.subscriber(wdb, vault, OPENID)
    assert sub["channel"] == "wechat" and sub["phone_masked"] == "138****5678"
    assert sub["phone_hash"] == vault.hash(PHONE) and vault.decrypt(sub["phone_enc"]) == PHONE
    logged = [r[0] for r in wdb.execute("SELECT text FROM messages")]
    assert not any("5678" in t and "****" not in t for t in logged)  # never in clear
    # Nor in the words the conversation keeps for a report (bot/conversations.py
    # Store._follow_redaction reads the masked log row back).
    states = [r[0] for r in wdb.execute("SELECT state FROM conversations")]
    assert any("138****5678" in s for s in states) and not any("1234" in s for s in states)

    # Inside the window (they just wrote): by WeChat, with their marker.
    senders = outbox.senders_from_config(wapp.config)
    assert set(senders) == {"sms", "wechat"}
    plan_tip(wdb, key="tip:inside")
    outbox.drain(wdb, vault, senders, rate=0, now=lambda: DAYTIME)
    assert [(m["touser"], m["text"]["content"]) for m in api.sent] == [(OPENID, the_tip(PHONE))]

    # Two days of silence later: by SMS, through the configured (console) provider.
    wechat_provider.record_inbound(wdb, vault, OPENID, at=time.time() - 49 * 3600)
    capsys.readouterr()
    plan_tip(wdb, key="tip:outside")
    stats = outbox.drain(
        wdb, vault, outbox.senders_from_config(wapp.config), rate=0, now=lambda: DAYTIME
    )
    assert (stats.fell_back, stats.sent) == (1, 1)
    printed = capsys.readouterr().out
    assert printed.count("[console SMS -> 138****5678]") == 1 and "（尾号678）" in printed
    assert len(api.sent) == 1


def test_phone_question_skip_retry_and_a_new_question(wapp, wdb):
    vault = wapp.extensions["hotline_vault"]
    follower = WeChatPush(wapp.test_client(), OPENID)
    follower.text("订阅")
    follower.text("跳过")  # no village: the number is still offered
    assert follower.text("12345") == [texts.enroll_text("phone_invalid")]
    assert follower.text("跳过") == [texts.enroll_text("phone_skipped")]
    assert groups.subscriber(wdb, vault, OPENID)["phone_enc"] is None

    other = WeChatPush(wapp.test_client(), "oFollowerAsksInstead_2")
    other.msg_id += 1000  # MsgIds are unique across followers
    other.text("我要订阅，我是石桥村的")
    # A question instead of a number is answered and the number asked again in the same
    # reply (a form lets questions through); nothing is stored until a number comes.
    [reply] = other.text("医保码怎么开通")
    assert reply.startswith(responses.answer("activate_voucher")[0])
    assert texts.enroll_text("ask_phone") in reply
    assert groups.subscriber(wdb, vault, "oFollowerAsksInstead_2")["phone_enc"] is None
    assert other.text("13812345678") == [texts.enroll_text("phone_set", masked="138****5678")]


def test_sms_subscribers_are_not_asked_for_a_number(degraded_app, phone_for):
    db = connect(degraded_app.config["HOTLINE_DB"])
    groups.ensure_group(db, "平南县", "东坝镇", "石桥村")
    db.conn.close()
    sms = phone_for(degraded_app.test_client(), "+8613812345678")
    assert sms.send("我要订阅，我是石桥村的") == [
        texts.enroll_text("village_set", village="石桥村")
    ]


def test_the_wechat_sender_is_registered_without_the_flask_app():
    # The CLI and the scheduler import the outbox, not the app: WeChat must be there.
    code = (
        "import sys; import outreach.cli, bot.periodic; "
        "from messaging.providers.base import CHANNEL_SENDERS; "
        "assert 'bot.app' not in sys.modules; assert 'wechat' in CHANNEL_SENDERS"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
