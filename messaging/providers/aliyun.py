"""Aliyun SMS (Dysmsapi 2017-05-25) as an SMS provider, on its official SDK.

- Sending: ``SendSms`` through ``alibabacloud-dysmsapi20170525`` (the SDK signs), one
  number per call, the text in the approved template ``${content}``; the result's
  ``BizId`` is the provider id receipts refer to. Pushes go by ``SendBatchSms``: up to
  100 numbers a call, one ``TemplateParam`` (so one text, 尾号 marker included) per
  number; the call's one ``BizId`` is every number's provider id, and each receipt
  names its number (docs/sms-gateways.md). The SDK's own retries are off: the
  outbox retries transient failures with backoff.
- Replies and delivery receipts (the pushes) are bot/channels/aliyun_sms.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from messaging.providers.base import BatchItem, SendResult
from messaging.providers.gateway import (
    IN_DOUBT,
    GatewaySender,
    aliyun_number,
    answer_lost,
    in_doubt,
)
from storage.privacy import mask

log = logging.getLogger(__name__)

ENDPOINT = "https://dysmsapi.aliyuncs.com"

# Codes after which sending the same text to the same number again cannot succeed
# (bad number, template or signature problems, refused content, credentials).
PERMANENT = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.SMS_SIGN_ILLEGAL",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.EXTEND_CODE_ERROR",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
        "isv.ACCOUNT_NOT_EXISTS",
        "isv.ACCOUNT_ABNORMAL",
        "isv.PRODUCT_UNSUBSCRIBE",
        "isv.DENY_IP_RANGE",
        "isp.RAM_PERMISSION_DENY",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "Forbidden.RAM",
        "MissingParameter",
        "InvalidParameter",
        "template_params_not_named",
    }
)
# Everything else (Throttling*, isv.BUSINESS_LIMIT_CONTROL, isv.DAY_LIMIT_CONTROL,
# isv.AMOUNT_NOT_ENOUGH, isp.SYSTEM_ERROR, HTTP 5xx, network errors) is worth a retry.


class RedactSendSmsQuery(logging.Filter):
    """The SDK sends SendSms's parameters in the URL, and urllib3 logs URLs at DEBUG:
    keep the number and the text out of those lines."""

    _QUERY = re.compile(r"(PhoneNumbers|TemplateParam)=[^&\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "PhoneNumbers=" in message or "TemplateParam=" in message:
            record.msg, record.args = self._QUERY.sub(r"\1=[redacted]", message), ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(RedactSendSmsQuery())


def permanent(code: str) -> bool:
    return code in PERMANENT


def sdk_error_code(exc: Exception) -> str:
    """Our error code for what the SDK raised: the API's code (4xx/5xx answers come
    as TeaException), ``network_error`` when no answer came, ``bad_response`` when
    the answer could not be read (an HTML error page)."""
    from Tea.exceptions import TeaException, UnretryableException

    if isinstance(exc, UnretryableException):
        # The SDK wraps connection errors and timeouts so, keeping only the message.
        return IN_DOUBT if answer_lost(str(exc.message or "")) else "network_error"
    if isinstance(exc, TeaException):
        code = str(exc.code or "")
        if code and code != "None":
            return code
        status = getattr(exc, "statusCode", None)
        return f"http_{status}" if status else "error"
    return "bad_response"


class AccessKeyCredential:
    """A fixed AccessKey pair, as the SDK's credential provider.

    Why not the SDK's own: tea-openapi 0.3.14 (the newest that keeps Rasa's APScheduler
    pin) reads ``provider_name`` from the credential, which alibabacloud_credentials
    0.3.6 (the newest release without APScheduler >= 3.10) does not have; the SDK's
    default path then fails on every send. This object has the fields it reads."""

    def __init__(self, access_key_id: str, access_key_secret: str) -> None:
        self._model = SimpleNamespace(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=None,
            bearer_token=None,
            type="access_key",
            provider_name=None,
        )

    def get_credential(self) -> SimpleNamespace:
        return self._model

    async def get_credential_async(self) -> SimpleNamespace:
        return self._model

    def get_access_key_id(self) -> str:
        return self._model.access_key_id

    def get_access_key_secret(self) -> str:
        return self._model.access_key_secret

    def get_security_token(self) -> None:
        return None

    def get_type(self) -> str:
        return "access_key"


class AliyunSender(GatewaySender):
    name = "aliyun"
    max_batch = 100  # SendBatchSms: "单次调用最多支持 100 个手机号" (docs/sms-gateways.md)
    sign_setting = "ALIYUN_SMS_SIGN_NAME"
    template_setting = "ALIYUN_SMS_TEMPLATE_CODE"
    send_settings = (
        "ALIYUN_ACCESS_KEY_ID",
        "ALIYUN_ACCESS_KEY_SECRET",
        "ALIYUN_SMS_SIGN_NAME",
        "ALIYUN_SMS_TEMPLATE_CODE",
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.endpoint = str(config.get("ALIYUN_SMS_ENDPOINT") or ENDPOINT)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The SDK client, built on first send (a webhook needs no credentials)."""
        if self._client is None:
            from alibabacloud_dysmsapi20170525.client import Client
            from alibabacloud_tea_openapi import models as openapi

            url = urlsplit(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
            millis = int(self.timeout * 1000)
            self._client = Client(
                openapi.Config(
                    credential=AccessKeyCredential(
                        self.config["ALIYUN_ACCESS_KEY_ID"], self.config["ALIYUN_ACCESS_KEY_SECRET"]
                    ),
                    endpoint=url.netloc,
                    protocol=url.scheme or "https",
                    region_id="cn-hangzhou",
                    read_timeout=millis,
                    connect_timeout=millis,
                )
            )
        return self._client

    def text_params(self, text: str) -> Mapping[str, str]:
        return {"content": text}

    def call_send(
        self, to: str, template_id: str, params: Mapping[str, str] | Sequence[str]
    ) -> SendResult:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util import models as util

        if not isinstance(params, Mapping):  # Aliyun's template variables have names
            return SendResult(False, None, "template_params_not_named", permanent=True)
        request = models.SendSmsRequest(
            phone_numbers=aliyun_number(to),
            sign_name=self.sign_name,
            template_code=template_id,
            # Aliyun takes string values only ({"n": "1"}, never {"n": 1}).
            template_param=json.dumps({k: str(v) for k, v in params.items()}, ensure_ascii=False),
        )
        millis = int(self.timeout * 1000)
        runtime = util.RuntimeOptions(autoretry=False, read_timeout=millis, connect_timeout=millis)
        try:
            response = self.client.send_sms_with_options(request, runtime)
        except Exception as exc:
            code = sdk_error_code(exc)
            # The SDK's message may quote the request (the number): log the code only.
            log.warning("Aliyun SMS to %s failed: %s", mask(to), code)
            if code == IN_DOUBT:
                return in_doubt()
            return SendResult(False, None, code, permanent=permanent(code))
        body = response.body
        code = str(getattr(body, "code", "") or "")
        # A refusal also comes as a non-OK Code inside a 200 body.
        if code == "OK":
            return SendResult(True, str(body.biz_id or "") or None)
        code = code or "no_code"
        log.warning("Aliyun SMS to %s failed: %s %s", mask(to), code, str(body.message or "")[:200])
        return SendResult(False, None, code, permanent=permanent(code))

    def call_batch(self, items: Sequence[BatchItem]) -> list[SendResult]:
        """One ``SendBatchSms`` call: a number, the signature and a TemplateParam per
        item. The answer is one Code and one BizId for the whole call."""
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util import models as util

        request = models.SendBatchSmsRequest(
            phone_number_json=json.dumps([aliyun_number(it.to) for it in items]),
            sign_name_json=json.dumps([self.sign_name] * len(items), ensure_ascii=False),
            template_code=self.template_id,
            template_param_json=json.dumps(
                [{"content": it.text} for it in items], ensure_ascii=False
            ),
        )
        millis = int(self.timeout * 1000)
        runtime = util.RuntimeOptions(autoretry=False, read_timeout=millis, connect_timeout=millis)
        n = len(items)
        try:
            response = self.client.send_batch_sms_with_options(request, runtime)
        except Exception as exc:
            code = sdk_error_code(exc)
            log.warning("Aliyun batch SMS to %d numbers failed: %s", n, code)
            if code == IN_DOUBT:
                return [in_doubt() for _ in items]
            return [SendResult(False, None, code, permanent=permanent(code)) for _ in items]
        body = response.body
        code = str(getattr(body, "code", "") or "")
        if code == "OK":
            biz_id = str(body.biz_id or "") or None
            return [SendResult(True, biz_id) for _ in items]
        code = code or "no_code"
        log.warning(
            "Aliyun batch SMS to %d numbers failed: %s %s", n, code, str(body.message or "")[:200]
        )
        return [SendResult(False, None, code, permanent=permanent(code)) for _ in items]
