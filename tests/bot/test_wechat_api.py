"""The customer-service API sender: token cache, errcode in HTTP 200, 48-hour window."""

from __future__ import annotations

import time

import pytest

from messaging.providers import wechat as wechat_provider
from messaging.providers.base import sender_for
from messaging.providers.wechat import WeChatSender
from storage.db import connect
from tests.helpers.wechat import APPID, SECRET, wechat_app

OPENID = "oApiTestUser_abcdefghijklmnop"


@pytest.fixture
def wapp(tmp_path, keyword_parser, api, app_factory):
    return wechat_app(app_factory, tmp_path, keyword_parser, api, WECHAT_CS_QUOTA="3")


@pytest.fixture
def db(wapp):
    database = connect(wapp.config["HOTLINE_DB"])
    yield database
    database.conn.close()


@pytest.fixture
def sender(wapp):
    # Built the way scheduled outreach builds it: from the config, outside a request.
    result = sender_for("wechat", wapp.config)
    assert isinstance(result, WeChatSender)
    return result


def wrote_to_us(wapp, db, hours_ago: float = 0.0) -> None:
    vault = wapp.extensions["hotline_vault"]
    wechat_provider.record_inbound(db, vault, OPENID, at=time.time() - hours_ago * 3600)


def test_send_inside_window_caches_the_token(wapp, db, api, sender):
    wrote_to_us(wapp, db)
    first, second = sender.send(OPENID, "提醒一"), sender.send(OPENID, "提醒二")
    assert first.ok and second.ok
    assert [m["text"]["content"] for m in api.sent] == ["提醒一", "提醒二"]
    assert api.tokens_issued == 1


def test_outside_48h_window_is_refused_without_calling_wechat(wapp, db, api, sender):
    wrote_to_us(wapp, db, hours_ago=49)
    result = sender.send(OPENID, "提醒")
    assert not result.ok and result.error_code == "outside_48h_window" and result.permanent
    never = sender.send("oSomeoneWhoNeverWrote_000000", "提醒")
    assert never.error_code == "outside_48h_window"
    assert api.tokens_issued == 0 and api.sent == []


def test_errcode_inside_http_200_is_an_error(wapp, db, api, sender):
    wrote_to_us(wapp, db)
    api.send_answers = [{"errcode": 45015, "errmsg": "response out of time limit"}]
    result = sender.send(OPENID, "提醒")
    assert not result.ok and result.error_code == "outside_48h_window"
    assert api.sent == []
    # WeChat's word closes the window: the next send does not even try.
    tokens = api.tokens_issued
    assert sender.send(OPENID, "提醒").error_code == "outside_48h_window"
    assert api.tokens_issued == tokens


@pytest.mark.parametrize(
    "errcode,expected,permanent",
    [(45047, "quota_exhausted", True), (43004, "unfollowed", True), (45002, "wechat_45002", False)],
)
def test_other_errcodes(wapp, db, api, sender, errcode, expected, permanent):
    wrote_to_us(wapp, db)
    api.send_answers = [{"errcode": errcode, "errmsg": "no"}]
    result = sender.send(OPENID, "提醒")
    assert (result.ok, result.error_code, result.permanent) == (False, expected, permanent)


def test_invalid_token_is_refreshed_once(wapp, db, api, sender):
    wrote_to_us(wapp, db)
    assert sender.send(OPENID, "一").ok
    api.send_answers = [{"errcode": 40001, "errmsg": "invalid credential"}]
    assert sender.send(OPENID, "二").ok
    assert api.tokens_issued == 2
    api.send_answers = [{"errcode": 42001, "errmsg": "expired"}] * 2
    result = sender.send(OPENID, "三")
    assert not result.ok and result.error_code == "wechat_42001"  # once, not forever
    assert [m["text"]["content"] for m in api.sent] == ["一", "二"]


def test_quota_per_window_then_reset_by_a_new_message(wapp, db, api, sender):
    wrote_to_us(wapp, db)
    results = [sender.send(OPENID, f"提醒{i}") for i in range(4)]
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[3].error_code == "quota_exhausted"
    wrote_to_us(wapp, db)
    assert sender.send(OPENID, "新窗口").ok


def test_token_is_stored_encrypted_and_shared(wapp, db, api, sender):
    wrote_to_us(wapp, db)
    assert sender.send(OPENID, "一").ok
    stored = db.execute("SELECT token_enc FROM wechat_tokens").fetchone()[0]
    assert "TOKEN1" not in stored
    vault = wapp.extensions["hotline_vault"]
    assert wechat_provider.load_token(db, vault, APPID)[0] == "TOKEN1"


def test_unreachable_api_is_a_retryable_error(tmp_path, keyword_parser, app_factory):
    app = app_factory(
        tmp_path,
        keyword_parser,
        WECHAT_APPID=APPID,
        WECHAT_APPSECRET=SECRET,
        WECHAT_API_BASE="http://127.0.0.1:9",  # discard port: nothing listens
    )
    database = connect(app.config["HOTLINE_DB"])
    wechat_provider.record_inbound(database, app.extensions["hotline_vault"], OPENID)
    result = sender_for("wechat", app.config).send(OPENID, "提醒")
    assert (result.ok, result.error_code, result.permanent) == (False, "network_error", False)
    database.conn.close()


def test_unconfigured_wechat_is_permanent(tmp_path, keyword_parser, app_factory):
    app = app_factory(tmp_path, keyword_parser)
    result = sender_for("wechat", app.config).send(OPENID, "提醒")
    assert (result.ok, result.error_code, result.permanent) == (False, "not_configured", True)
