"""WeChat signatures and safe-mode crypto, on the PROTOCOLS.md vector."""

from __future__ import annotations

import base64

import pytest

from bot.channels.wechat_crypto import CryptoError, WeChatCrypto, check_signature, signature
from tests.helpers.wechat import AES_KEY, APPID, TOKEN, wechat_decrypt, wechat_encrypt

VECTOR = {
    "token": "123456",
    "aes_key": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    "appid": "wx49f0ab532d5d035a",
    "timestamp": "1411443780",
    "nonce": "437374425",
    "echostr": "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7"
    "hOchLF6p+Q==",
    "msg_signature": "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
}


def test_protocol_vector():
    v = VECTOR
    crypto = WeChatCrypto(v["token"], v["aes_key"], v["appid"])
    assert signature(v["token"], v["timestamp"], v["nonce"], v["echostr"]) == v["msg_signature"]
    assert crypto.check(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"])
    assert crypto.decrypt(v["echostr"]) == "5927782489442352469"


def test_plain_signature_is_sorted_sha1():
    assert check_signature("tok", signature("tok", "1", "2"), "1", "2")
    assert check_signature("tok", signature("tok", "1", "2").upper(), "1", "2")
    assert not check_signature("tok", signature("tok", "1", "3"), "1", "2")
    assert not check_signature("", signature("", "1", "2"), "1", "2")  # no token: refuse
    assert not check_signature("tok", "", "1", "2")


def test_round_trip_with_an_independent_implementation():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    message = "<xml><Content><![CDATA[村里来了人要验证码]]></Content></xml>"
    assert crypto.decrypt(wechat_encrypt(message)) == message
    assert wechat_decrypt(crypto.encrypt(message)) == message
    # Padding is to 32-byte blocks, not AES's 16.
    for size in range(0, 70):
        raw = base64.b64decode(crypto.encrypt("x" * size))
        assert len(raw) % 32 == 0


@pytest.mark.parametrize(
    "bad",
    [
        "not base64!!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"\x00" * 32).decode(),  # decrypts to garbage padding
    ],
)
def test_garbage_is_refused(bad):
    with pytest.raises(CryptoError):
        WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt(bad)


def test_message_for_another_appid_is_refused():
    encrypted = wechat_encrypt("<xml/>", appid="wxsomeoneelse00000")
    with pytest.raises(CryptoError):
        WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt(encrypted)


def test_malformed_aes_key_is_a_clear_error():
    with pytest.raises(ValueError):
        WeChatCrypto(TOKEN, "too-short", APPID)
