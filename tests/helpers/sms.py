"""Helpers for the SMS provider tests: a local server standing in for the gateways'
APIs, and the recorded shapes of their requests and answers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from messaging.providers.base import SendResult

PHONE = "13812345678"
ALIYUN_SECRET = "ali-push-secret"
TENCENT_SECRET = "tc-push-secret"

ALIYUN_CONFIG = {
    "SMS_PROVIDER": "aliyun",
    "ALIYUN_ACCESS_KEY_ID": "LTAItest",
    "ALIYUN_ACCESS_KEY_SECRET": "secret-key",
    "ALIYUN_SMS_SIGN_NAME": "村村反诈",
    "ALIYUN_SMS_TEMPLATE_CODE": "SMS_123",
}
TENCENT_CONFIG = {
    "SMS_PROVIDER": "tencent",
    "TENCENT_SECRET_ID": "AKIDtest",
    "TENCENT_SECRET_KEY": "tc-secret-key",
    "TENCENT_SMS_SDK_APP_ID": "1400000001",
    "TENCENT_SMS_SIGN_NAME": "村村反诈",
    "TENCENT_SMS_TEMPLATE_ID": "123456",
}


class RecordingSender:
    """An SMS sender that keeps what it was asked to send."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, text: str) -> SendResult:
        self.sent.append((to, text))
        return SendResult(True, f"{self.name}-{len(self.sent)}")


class FakeGateway:
    """A local HTTP server standing in for dysmsapi / sms.tencentcloudapi: records each
    request and answers with the queued (status, body) pairs, the last one repeated."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, object]] = [(200, {})]
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                gateway.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                status, answer = (
                    gateway.answers.pop(0) if len(gateway.answers) > 1 else gateway.answers[0]
                )
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                ctype = "application/json" if not isinstance(answer, bytes) else "text/html"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, *answers: tuple[int, object]) -> None:
        self.answers = list(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def aliyun_ok(biz_id: str = "900^0") -> dict:
    return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": "F655A8D5-B967"}


def tencent_ok(code: str = "Ok", serial: str = "5000:1045710669157053657849499619") -> dict:
    return {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": serial,
                    "PhoneNumber": "+8613812345678",
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": code,
                    "Message": "send success" if code == "Ok" else "failed",
                    "IsoCode": "CN",
                }
            ],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }
    }


def tencent_error(code: str) -> dict:
    return {"Response": {"Error": {"Code": code, "Message": "x"}, "RequestId": "r"}}


def aliyun_item(content: str, sequence_id: int, phone: str = PHONE) -> dict:
    return {
        "phone_number": phone,
        "content": content,
        "send_time": "2024-05-01 10:00:00",
        "dest_code": "1234",
        "sequence_id": sequence_id,
    }


def tencent_item(text: str, when: int = 1714528800, mobile: str = PHONE) -> dict:
    return {
        "extend": "",
        "mobile": mobile,
        "nationcode": "86",
        "sign": "村村反诈",
        "text": text,
        "time": when,
    }


def aliyun_report(biz_id: str, success: bool, err_code: str = "DELIVERED") -> dict:
    return {
        "phone_number": PHONE,
        "send_time": "2024-05-01 10:00:00",
        "report_time": "2024-05-01 10:00:05",
        "success": success,
        "err_code": err_code,
        "err_msg": "用户接收成功" if success else "失败",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": "",
    }


def tencent_status(sid: str, success: bool, errmsg: str = "DELIVRD") -> dict:
    return {
        "user_receive_time": "2024-05-01 10:00:05",
        "nationcode": "86",
        "mobile": PHONE,
        "report_status": "SUCCESS" if success else "FAIL",
        "errmsg": errmsg,
        "description": "用户短信送达成功" if success else "失败",
        "sid": sid,
    }


def drain_outbox(app, sender=None, at=None):
    """What the scheduler's drain does after a request queued messages (a webhook's
    replies, a police action's notices): send the due outbox rows (``sender``: one SMS
    sender or a channel -> sender mapping; default: the app's configured providers)."""
    import datetime as dt

    from outreach import outbox
    from storage.db import connect

    db = connect(app.config["HOTLINE_DB"], migrate_schema=False)
    try:
        moment = at or dt.datetime.now(dt.timezone.utc)
        return outbox.drain(
            db,
            app.extensions["hotline_vault"],
            sender or outbox.senders_from_config(app.config),
            rate=0,
            now=lambda: moment,
        )
    finally:
        db.conn.close()


def quiet_gateways(app, monkeypatch):
    """``app`` with both mainland gateways' push secrets set ("s") and SMS sent nowhere
    (every send succeeds): for posting to /sms/aliyun and /sms/tencent."""
    from messaging.providers import base as senders

    class Quiet:
        name = "aliyun"

        def send(self, to, text, *args, **kwargs):
            return SendResult(True, "x")

    monkeypatch.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: Quiet())
    app.config["ALIYUN_SMS_WEBHOOK_SECRET"] = "s"
    app.config["TENCENT_SMS_WEBHOOK_SECRET"] = "s"
    return app
