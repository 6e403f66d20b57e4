"""One SMS provider interface: console, Twilio, Aliyun and Tencent implement it,
``SMS_PROVIDER`` picks one, and switching it changes nothing else in the bot."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bot.channels import sms_provider
from bot.channels.aliyun_sms import AliyunSms
from bot.channels.console_sms import ConsoleSms
from bot.channels.sms_provider import SendResult, SmsProvider, make_provider, provider_name
from bot.channels.tencent_sms import TencentSms
from bot.channels.twilio_sms import TwilioSms
from messaging.providers.base import make_sender
from messaging.providers.console import ConsoleSender
from messaging.providers.gateway import strip_signature
from outreach import schedules, texts, tips
from responses.sms import _GSM7, GSM7_PART, GSM7_SINGLE, UCS2_PART, UCS2_SINGLE, segments
from settings import load_config
from tests.helpers.app import PUBLIC_URL, TWILIO_TOKEN
from tests.helpers.sms import (
    ALIYUN_CONFIG,
    ALIYUN_SECRET,
    PHONE,
    TENCENT_CONFIG,
    TENCENT_SECRET,
    FakeGateway,
    aliyun_item,
    aliyun_ok,
    drain_outbox,
    tencent_item,
    tencent_ok,
)

TWILIO_CONFIG = {
    "SMS_PROVIDER": "twilio",
    "TWILIO_ACCOUNT_SID": "ACtest",
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "TWILIO_FROM_NUMBER": "+15005550006",
    "HOTLINE_PUBLIC_URL": PUBLIC_URL,
}
CONFIGS = {
    "console": {"SMS_PROVIDER": "console"},
    "twilio": TWILIO_CONFIG,
    "aliyun": ALIYUN_CONFIG,
    "tencent": TENCENT_CONFIG,
}


@pytest.fixture
def gateway():
    fake = FakeGateway()
    yield fake
    fake.close()


# --- the interface and the registry ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_provider_implements_the_interface(name):
    provider = make_provider(CONFIGS[name])
    assert isinstance(provider, SmsProvider)
    assert provider.name == name
    assert provider.limits.rate > 0
    assert provider.limits.ucs2 == (70, 67)


def test_limits_count_segments_as_each_provider_bills():
    twilio = make_provider(TWILIO_CONFIG).limits
    aliyun = make_provider(ALIYUN_CONFIG).limits
    assert twilio.gsm7 == (160, 153) and aliyun.gsm7 is None
    # Latin text: GSM-7 through Twilio; per character, UCS-2, through the gateways.
    assert twilio.segments("a" * 160) == 1
    assert aliyun.segments("a" * 160) == 3
    # The gateway's 【村村反诈】 (6 characters) counts: 64 + 6 = 70 still fits one.
    assert aliyun.segments("字" * 64) == 1
    assert aliyun.segments("字" * 65) == 2
    assert twilio.segments("字" * 70) == 1 and twilio.segments("字" * 71) == 2
    assert twilio.segments("字" * 134) == 2 and twilio.segments("字" * 135) == 3


def test_sms_provider_setting_and_its_deprecated_alias(tmp_path, monkeypatch):
    assert provider_name({}) == "console"
    assert provider_name({"HOTLINE_SMS_PROVIDER": "tencent"}) == "tencent"
    assert provider_name({"SMS_PROVIDER": "aliyun", "HOTLINE_SMS_PROVIDER": "tencent"}) == "aliyun"
    monkeypatch.delenv("SMS_PROVIDER", raising=False)
    monkeypatch.setenv("HOTLINE_SMS_PROVIDER", "tencent")  # an existing deployment
    config = load_config({"HOTLINE_VAR": str(tmp_path)})
    assert config["SMS_PROVIDER"] == config["HOTLINE_SMS_PROVIDER"] == "tencent"
    monkeypatch.setenv("SMS_PROVIDER", "aliyun")
    config = load_config({"HOTLINE_VAR": str(tmp_path)})
    assert config["SMS_PROVIDER"] == config["HOTLINE_SMS_PROVIDER"] == "aliyun"


def test_unknown_provider_is_named():
    with pytest.raises(RuntimeError, match="unknown SMS_PROVIDER 'nexmo'"):
        make_provider({"SMS_PROVIDER": "nexmo"})


def test_rate_defaults_to_the_providers_limit():
    assert schedules.rate_from_config({"SMS_PROVIDER": "console"}) == 1.0
    assert schedules.rate_from_config({"SMS_PROVIDER": "twilio"}) == 1.0
    assert schedules.rate_from_config({"SMS_PROVIDER": "aliyun"}) == 10.0
    assert schedules.rate_from_config({"SMS_PROVIDER": "tencent", "HOTLINE_SMS_RATE": "3"}) == 3.0
    with pytest.raises(ValueError, match="HOTLINE_SMS_RATE"):
        sms_provider.rate({"HOTLINE_SMS_RATE": "fast"})


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        (SendResult(True, "x"), "sent"),
        (SendResult(False, None, "isp.SYSTEM_ERROR"), "retry"),
        (SendResult(False, None, "isv.MOBILE_NUMBER_ILLEGAL", permanent=True), "give_up"),
        (SendResult(False, None, "21610", permanent=True), "opted_out"),
        (SendResult(False, None, "FailedOperation.PhoneNumberInBlacklist", True), "opted_out"),
    ],
)
def test_error_classes(result, outcome):
    assert result.outcome == outcome


def test_providers_without_templates_say_so(capsys):
    assert make_provider(TWILIO_CONFIG).send_template(PHONE, "T", {"a": "1"}).outcome == "give_up"
    console = ConsoleSender()
    assert console.send_template(PHONE, "SMS_1", {"content": "你好"}).ok
    assert "SMS_1" in capsys.readouterr().out


# --- proactive messages through a domestic gateway -----------------------------------


def test_proactive_texts_carry_opt_out_and_fit_one_gateway_sms():
    """Tips must fit one SMS and alerts three, counted as the gateway bills them: its
    【signature】 (which replaces ours) included, UCS-2 per character."""
    limits = make_provider(ALIYUN_CONFIG).limits
    for tip in tips.all_tips():
        text = texts.render_tip(tip.text, "+8613812345678")
        assert text.endswith("回T退订")
        assert text.startswith("【村村反诈】")  # what the gateway replaces with its own
        assert limits.segments(strip_signature(text)) == 1, tip.id
    alert = texts.render_alert("冒充医保局的人在村里收验证码，别给。", "13812345678")
    assert "回T退订" in alert and limits.segments(strip_signature(alert)) <= 3


# --- inbound authenticity: source-address allowlist --------------------------------------


@pytest.fixture
def gapp(degraded_app):
    degraded_app.config["ALIYUN_SMS_WEBHOOK_SECRET"] = ALIYUN_SECRET
    degraded_app.config["TENCENT_SMS_WEBHOOK_SECRET"] = TENCENT_SECRET
    return degraded_app


def push_from(app, ip: str, forwarded: str | None = None, sequence_id: int = 1):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return app.test_client().post(
        f"/sms/aliyun?token={ALIYUN_SECRET}",
        json=[aliyun_item("1", sequence_id)],
        headers=headers,
        environ_base={"REMOTE_ADDR": ip},
    )


def test_allowlist_refuses_other_addresses(gapp):
    gapp.config["SMS_GATEWAY_ALLOWED_IPS"] = "10.0.0.0/8, 192.0.2.7"
    assert push_from(gapp, "203.0.113.9").status_code == 403
    assert queued_replies(gapp) == 0
    assert push_from(gapp, "10.1.2.3", sequence_id=2).status_code == 200
    assert push_from(gapp, "192.0.2.7", sequence_id=3).status_code == 200
    assert queued_replies(gapp) == 2


def queued_replies(app) -> int:
    """Replies the webhooks queued in the outbox (sent later by the drain)."""
    from storage.db import connect

    db = connect(app.config["HOTLINE_DB"], migrate_schema=False)
    try:
        return db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'reply'").fetchone()[0]
    finally:
        db.conn.close()


def test_the_app_never_reads_x_forwarded_for_itself(gapp):
    # The server (waitress, `hotline serve`) turns a trusted proxy's X-Forwarded-For into
    # REMOTE_ADDR; the app reading it too would count the proxies twice. Through the
    # proxy end to end: tests/system/test_trusted_proxy.py.
    gapp.config["SMS_GATEWAY_ALLOWED_IPS"] = "10.0.0.0/8"
    assert push_from(gapp, "203.0.113.9", "10.1.2.3").status_code == 403
    gapp.config["HOTLINE_TRUSTED_PROXIES"] = "1"
    assert push_from(gapp, "127.0.0.1", "10.1.2.3", sequence_id=2).status_code == 403
    assert push_from(gapp, "10.1.2.3", "203.0.113.9", sequence_id=3).status_code == 200


def test_malformed_allowlist_refuses_everything(gapp):
    gapp.config["SMS_GATEWAY_ALLOWED_IPS"] = "10.0.0.0/8, not-an-ip"
    assert push_from(gapp, "10.1.2.3").status_code == 403


def test_allowlist_does_not_replace_the_secret(gapp):
    gapp.config["SMS_GATEWAY_ALLOWED_IPS"] = "10.0.0.0/8"
    response = gapp.test_client().post(
        "/sms/tencent?token=wrong", json=tencent_item("1"), environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    assert response.status_code == 403


# --- the console provider's local webhook ----------------------------------------------


def test_console_webhook_answers_locally_only(degraded_app):
    client = degraded_app.test_client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    client.environ_base["HTTP_X_CONSOLE_TOKEN"] = degraded_app.config["SMS_CONSOLE_TOKEN"]
    response = client.post("/sms/console", json={"from": PHONE, "text": "1"}, environ_base=local)
    assert response.status_code == 200
    assert response.get_json()["replies"]
    remote = client.post(
        "/sms/console", json={"from": PHONE, "text": "1"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert remote.status_code == 403
    bad = client.post("/sms/console", json={"text": "1"}, environ_base=local)
    assert bad.status_code == 400
    degraded_app.config["SMS_PROVIDER"] = "aliyun"
    closed = client.post("/sms/console", json={"from": PHONE, "text": "1"}, environ_base=local)
    assert closed.status_code == 404


# --- switching SMS_PROVIDER changes nothing else ----------------------------------------

CONVERSATION = ["村里来了一伙人说是医保局的，是真的吗", "1", "订阅", "石桥村", "T"]


def reference_replies(app_factory, tmp_path, parser) -> list[list[str]]:
    """The dialogue's own answers to CONVERSATION, with no provider in between."""
    from bot.channels import deliver
    from bot.messages import InboundMessage

    app = app_factory(tmp_path / "reference", parser)
    with app.app_context():
        return [deliver(InboundMessage("sms", "+8613812345678", text)) for text in CONVERSATION]


def converse(name: str, app, gateway: FakeGateway) -> list[list[str]]:
    """CONVERSATION through ``name``'s own inbound webhook; the replies as they went out."""
    client = app.test_client()
    replies: list[list[str]] = []
    for n, text in enumerate(CONVERSATION, start=1):
        if name == "console":
            answer = client.post(
                "/sms/console",
                json={"from": "13812345678", "text": text, "id": f"c{n}"},
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
                headers={"X-Console-Token": app.config["SMS_CONSOLE_TOKEN"]},
            )
            replies.append(answer.get_json()["replies"])
        elif name == "twilio":
            params = {"MessageSid": f"SM{n:08d}", "From": "+8613812345678", "Body": text}
            signature = RequestValidator(TWILIO_TOKEN).compute_signature(
                PUBLIC_URL + "/sms/twilio", params
            )
            answer = client.post(
                "/sms/twilio", data=params, headers={"X-Twilio-Signature": signature}
            )
            replies.append([m.text or "" for m in ElementTree.fromstring(answer.data)])
        else:
            before = len(gateway.requests)
            if name == "aliyun":
                answer = client.post(
                    f"/sms/aliyun?token={ALIYUN_SECRET}", json=[aliyun_item(text, n)]
                )
                assert answer.get_json() == {"code": 0, "msg": "接收成功"}
                drain_outbox(app)  # the replies are outbox rows, sent by the drain
                sent = [
                    dict(parse_qsl(urlsplit(r["path"]).query))["TemplateParam"]
                    for r in gateway.requests[before:]
                ]
                replies.append([json.loads(p)["content"] for p in sent])
            else:
                answer = client.post(
                    f"/sms/tencent?token={TENCENT_SECRET}", json=tencent_item(text, when=n)
                )
                assert answer.get_json() == {"result": 0, "errmsg": "OK"}
                drain_outbox(app)
                sent = [json.loads(r["body"]) for r in gateway.requests[before:]]
                replies.append([b["TemplateParamSet"][0] for b in sent])
    return replies


@pytest.mark.parametrize("name", ["console", "twilio", "aliyun", "tencent"])
def test_switching_provider_leaves_the_answers_identical(
    name, tmp_path, keyword_parser, gateway, app_factory
):
    expected = reference_replies(app_factory, tmp_path, keyword_parser)
    assert all(expected), "every message of the conversation gets an answer"
    config = {
        **CONFIGS[name],
        "ALIYUN_SMS_ENDPOINT": gateway.url,
        "TENCENT_SMS_ENDPOINT": gateway.url,
        "ALIYUN_SMS_WEBHOOK_SECRET": ALIYUN_SECRET,
        "TENCENT_SMS_WEBHOOK_SECRET": TENCENT_SECRET,
    }
    gateway.answer((200, aliyun_ok() if name == "aliyun" else tencent_ok()))
    app = app_factory(tmp_path / name, keyword_parser, **config)
    got = converse(name, app, gateway)
    if name in ("aliyun", "tencent"):
        # The gateway adds its 【signature】: our texts go without their own.
        expected = [[strip_signature(r) for r in turn] for turn in expected]
    assert got == expected


def test_providers_are_distinct_classes():
    assert {type(make_provider(c)) for c in CONFIGS.values()} == {
        ConsoleSms,
        TwilioSms,
        AliyunSms,
        TencentSms,
    }


def test_senders_are_the_webhook_classes_sending_half():
    """messaging/ sends, bot/channels/ adds the webhook side to the same provider."""
    for name, config in CONFIGS.items():
        sender = make_sender(config)
        assert type(sender).__module__ == f"messaging.providers.{name}"
        assert isinstance(make_provider(config), type(sender))
        assert not hasattr(sender, "parse_inbound")


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("aZ9 @£€\n你好验证码😀\ud800"), max_size=400), st.booleans()
)
def test_segments_count_as_characters_and_ucs2_units(message, gsm7):
    plain = gsm7 and all(ch in _GSM7 for ch in message)
    single, part = (GSM7_SINGLE, GSM7_PART) if plain else (UCS2_SINGLE, UCS2_PART)
    length = sum(2 if ord(ch) > 0xFFFF else 1 for ch in message)
    assert segments(message, gsm7) == (1 if length <= single else -(-length // part))
