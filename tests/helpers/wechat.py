"""WeChat's side of the protocol, written from PROTOCOLS.md independently of
bot/channels/wechat_crypto.py, and a fake WeChat API server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree

TOKEN = "wechat-test-token"
APPID = "wx1234567890abcdef"
SECRET = "wechat-test-secret"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
ACCOUNT = "gh_hotline"


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (protocol)


def _cipher(key: bytes) -> Cipher:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def wechat_encrypt(xml: str, aes_key: str = AES_KEY, appid: str = APPID) -> str:
    key = base64.b64decode(aes_key + "=")
    body = xml.encode()
    plain = os.urandom(16) + struct.pack(">I", len(body)) + body + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = _cipher(key).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def wechat_decrypt(encrypted: str, aes_key: str = AES_KEY, appid: str = APPID) -> str:
    key = base64.b64decode(aes_key + "=")
    dec = _cipher(key).decryptor()
    plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    assert plain[20 + length :].decode() == appid
    return plain[20 : 20 + length].decode()


def fields_xml(fields: dict[str, str]) -> str:
    inner = "".join(
        f"<{k}>{v}</{k}>" if k in ("CreateTime", "MsgId") else f"<{k}><![CDATA[{v}]]></{k}>"
        for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>"


class WeChatPush:
    """WeChat's servers pushing one follower's messages to the hotline."""

    def __init__(self, client, openid: str, safe: bool = False, token: str = TOKEN) -> None:
        self.client = client
        self.openid = openid
        self.safe = safe
        self.token = token
        self.msg_id = 7_000_000_000_000_000_000

    def post_raw(self, body: bytes | str, params: dict[str, str]):
        return self.client.post("/wechat", query_string=params, data=body, content_type="text/xml")

    def post(self, fields: dict[str, str], *, bad_signature: bool = False):
        timestamp, nonce = str(int(time.time())), str(int.from_bytes(os.urandom(4), "big"))
        signature = sha1_sorted(self.token, timestamp, nonce)
        params = {"signature": signature, "timestamp": timestamp, "nonce": nonce}
        params["openid"] = self.openid
        body = fields_xml(fields)
        if self.safe:
            encrypted = wechat_encrypt(body)
            params["encrypt_type"] = "aes"
            params["msg_signature"] = sha1_sorted(self.token, timestamp, nonce, encrypted)
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            )
        if bad_signature:
            key = "msg_signature" if self.safe else "signature"
            params[key] = "0" * 40
        return self.post_raw(body, params)

    def base(self, msg_type: str, create_time: int | None = None) -> dict[str, str]:
        return {
            "ToUserName": ACCOUNT,
            "FromUserName": self.openid,
            "CreateTime": str(create_time or int(time.time())),
            "MsgType": msg_type,
        }

    def next_id(self) -> str:
        self.msg_id += 1
        return str(self.msg_id)

    def text(self, content: str, msg_id: str | None = None) -> list[str]:
        fields = {**self.base("text"), "Content": content, "MsgId": msg_id or self.next_id()}
        return self.replies(self.post(fields))

    def replies(self, response) -> list[str]:
        """The reply texts ([] for ``success``), checking the safe-mode envelope."""
        assert response.status_code == 200, response.data
        data = response.get_data(as_text=True)
        if data in ("success", ""):
            return []
        root = ElementTree.fromstring(data)
        if self.safe:
            encrypted = root.findtext("Encrypt")
            expected = sha1_sorted(
                self.token, root.findtext("TimeStamp"), root.findtext("Nonce"), encrypted
            )
            assert root.findtext("MsgSignature") == expected
            root = ElementTree.fromstring(wechat_decrypt(encrypted))
        assert root.findtext("ToUserName") == self.openid
        assert root.findtext("FromUserName") == ACCOUNT
        assert root.findtext("MsgType") == "text"
        return [root.findtext("Content")]


class FakeWeChatAPI:
    """api.weixin.qq.com on 127.0.0.1: stable_token, message/custom/send and media/get.

    ``send_answers`` is a queue of JSON bodies the send endpoint returns in turn
    (then ``{"errcode": 0}``); an answer's errcode arrives inside an HTTP 200.
    ``send_calls`` counts every call of the send endpoint; ``media`` maps a media_id
    to the image bytes media/get serves (other ids get WeChat's errcode JSON).
    """

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.sent: list[dict] = []
        self.send_answers: list[dict] = []
        self.send_calls = 0
        self.media: dict[str, bytes] = {}
        self.media_requests: list[str] = []
        self.valid_tokens: set[str] = set()
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with api.lock:
                    answer = api.handle(url.path, parse_qs(url.query), payload)
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                with api.lock:
                    media_id = query.get("media_id", [""])[0]
                    api.media_requests.append(media_id)
                    token_ok = query.get("access_token", [""])[0] in api.valid_tokens
                    data = api.media.get(media_id) if url.path == "/cgi-bin/media/get" else None
                if token_ok and data is not None:
                    body, content_type = data, "image/png"
                else:
                    error = {"errcode": 40007 if token_ok else 40001, "errmsg": "invalid media_id"}
                    body, content_type = json.dumps(error).encode(), "text/plain"
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, path: str, query: dict, payload: dict) -> dict:
        if path == "/cgi-bin/stable_token":
            if payload.get("appid") != APPID or payload.get("secret") != SECRET:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            self.tokens_issued += 1
            token = f"TOKEN{self.tokens_issued}"
            self.valid_tokens.add(token)
            return {"access_token": token, "expires_in": 7200}
        if path == "/cgi-bin/message/custom/send":
            self.send_calls += 1
            token = query.get("access_token", [""])[0]
            if token not in self.valid_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            if self.send_answers:
                answer = self.send_answers.pop(0)
                if answer.get("errcode"):
                    if answer["errcode"] in (40001, 42001):
                        self.valid_tokens.discard(token)
                    return answer
            self.sent.append(payload)
            return {"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)}
        return {"errcode": 404, "errmsg": "no such API"}

    def wait_for_sent(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.sent) >= count:
                    return list(self.sent)
            time.sleep(0.02)
        return list(self.sent)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wechat_app(app_factory, tmp_path, parser, api, **extra):
    """The hotline configured as a WeChat Official Account in safe mode that still
    accepts plain pushes (most tests post plain XML), its API on ``api``; built by
    ``app_factory`` (the fixture of tests/conftest.py)."""
    return app_factory(
        tmp_path,
        parser,
        WECHAT_TOKEN=TOKEN,
        WECHAT_APPID=APPID,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        WECHAT_APPSECRET=SECRET,
        WECHAT_API_BASE=api.url,
        **{"WECHAT_ALLOW_PLAIN": "true", **extra},
    )
