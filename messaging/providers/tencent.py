"""Tencent Cloud SMS (2021-01-11) as an SMS provider, on its official SDK.

- Sending: ``SendSms`` through ``tencentcloud-sdk-python-sms`` (TC3-HMAC-SHA256), one
  number per call, the text in the approved template ``{1}``; the status's
  ``SerialNo`` is the provider id receipts refer to. Pushes go up to 200 numbers a
  call, but ``TemplateParamSet`` is one for every number of the call: only the same
  text shares a call, so the 尾号 marker (different per number) survives and a
  markered push batches only numbers ending alike (docs/sms-gateways.md).
- Replies and delivery receipts (the pushes) are bot/channels/tencent_sms.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from messaging.providers.base import BatchItem, SendResult
from messaging.providers.gateway import (
    GatewaySender,
    answer_lost,
    in_doubt,
    strip_signature,
    tencent_number,
)
from storage.privacy import mask

log = logging.getLogger(__name__)

ENDPOINT = "https://sms.tencentcloudapi.com"

# Code prefixes (and codes) after which a retry cannot succeed.
PERMANENT_PREFIXES = (
    "InvalidParameter",  # also InvalidParameterValue.*: bad number, template parameters
    "MissingParameter",
    "UnsupportedOperation",
    "UnauthorizedOperation",
    "AuthFailure",
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.ContainSensitiveWord",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
    "FailedOperation.MissingSignature",
    "FailedOperation.MissingTemplate",
)
# LimitExceeded.*, RequestLimitExceeded, InternalError.*, insufficient balance, HTTP
# and network errors are transient.


def _no_dumps(record: logging.LogRecord) -> bool:
    """The SDK logs whole requests and answers (numbers, texts) at DEBUG: drop those."""
    return record.levelno > logging.DEBUG


logging.getLogger("tencentcloud_sdk_common").addFilter(_no_dumps)


def permanent(code: str) -> bool:
    return code.startswith(PERMANENT_PREFIXES)


def ordered_params(params: Mapping[str, str] | Sequence[str]) -> list[str]:
    """Tencent's parameters are positional ({1}, {2}...): a mapping is read in the
    order of its keys, numerically when they are numbers."""
    if not isinstance(params, Mapping):
        return [str(v) for v in params]
    keys = sorted(params, key=lambda k: (0, int(k), "") if str(k).isdigit() else (1, 0, str(k)))
    return [str(params[k]) for k in keys]


class TencentSender(GatewaySender):
    name = "tencent"
    max_batch = 200  # SendSms PhoneNumberSet: "单次请求最多支持200个手机号" (docs/sms-gateways.md)
    sign_setting = "TENCENT_SMS_SIGN_NAME"
    template_setting = "TENCENT_SMS_TEMPLATE_ID"
    send_settings = (
        "TENCENT_SECRET_ID",
        "TENCENT_SECRET_KEY",
        "TENCENT_SMS_SDK_APP_ID",
        "TENCENT_SMS_SIGN_NAME",
        "TENCENT_SMS_TEMPLATE_ID",
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.endpoint = str(config.get("TENCENT_SMS_ENDPOINT") or ENDPOINT)
        self.region = str(config.get("TENCENT_SMS_REGION") or "ap-guangzhou")
        self.sdk_app_id = str(config.get("TENCENT_SMS_SDK_APP_ID") or "")
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The SDK client, built on first send (a webhook needs no credentials)."""
        if self._client is None:
            from tencentcloud.common import credential
            from tencentcloud.common.profile.client_profile import ClientProfile
            from tencentcloud.common.profile.http_profile import HttpProfile
            from tencentcloud.sms.v20210111 import sms_client

            url = urlsplit(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
            http_profile = HttpProfile(
                protocol=url.scheme or "https", endpoint=url.netloc, reqTimeout=self.timeout
            )
            self._client = sms_client.SmsClient(
                credential.Credential(
                    self.config["TENCENT_SECRET_ID"], self.config["TENCENT_SECRET_KEY"]
                ),
                self.region,
                ClientProfile(httpProfile=http_profile),
            )
        return self._client

    def text_params(self, text: str) -> Sequence[str]:
        return [text]

    def call_send(
        self, to: str, template_id: str, params: Mapping[str, str] | Sequence[str]
    ) -> SendResult:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [tencent_number(to)]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = ordered_params(params)
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            # Request-level errors (Response.Error inside a 200), HTTP and network errors.
            code = str(exc.get_code() or "error")
            log.warning("Tencent SMS to %s failed: %s", mask(to), code)
            if code == "ClientNetworkError" and answer_lost(str(exc.get_message() or "")):
                return in_doubt()
            return SendResult(False, None, code, permanent=permanent(code))
        statuses = response.SendStatusSet or []
        if not statuses:
            return SendResult(False, None, "no_status")
        status = statuses[0]
        code = str(status.Code or "")
        # A per-number failure also arrives in a 200 body, with Code other than "Ok".
        if code == "Ok":
            return SendResult(True, status.SerialNo)
        log.warning("Tencent SMS to %s failed: %s", mask(to), code)
        return SendResult(False, None, code or "error", permanent=permanent(code))

    def batch_key(self, text: str) -> str:
        return strip_signature(text)

    def call_batch(self, items: Sequence[BatchItem]) -> list[SendResult]:
        """One ``SendSms`` call for items with the same text; each number's own status
        (SerialNo, Code) comes back in ``SendStatusSet``, matched by number."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        if len({it.text for it in items}) > 1:  # one parameter set per call
            return [r for it in items for r in self.call_batch([it])]
        numbers = [tencent_number(it.to) for it in items]
        request = models.SendSmsRequest()
        request.PhoneNumberSet = numbers
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = self.template_id
        request.TemplateParamSet = [items[0].text]
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "error")
            log.warning("Tencent batch SMS to %d numbers failed: %s", len(items), code)
            if code == "ClientNetworkError" and answer_lost(str(exc.get_message() or "")):
                return [in_doubt() for _ in items]
            return [SendResult(False, None, code, permanent=permanent(code)) for _ in items]
        by_number: dict[str, list[Any]] = {}
        for status in response.SendStatusSet or []:
            by_number.setdefault(tencent_number(str(status.PhoneNumber or "")), []).append(status)
        results = []
        for number in numbers:
            found = by_number.get(number)
            if not found:  # accepted the call but said nothing of this number
                results.append(SendResult(False, None, "no_status"))
                continue
            status = found.pop(0)
            code = str(status.Code or "")
            if code == "Ok":
                results.append(SendResult(True, status.SerialNo))
            else:
                results.append(SendResult(False, None, code or "error", permanent=permanent(code)))
        failed = sum(not r.ok for r in results)
        if failed:
            log.warning("Tencent batch SMS: %d of %d numbers failed", failed, len(items))
        return results
