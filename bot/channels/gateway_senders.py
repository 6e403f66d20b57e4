"""Outbound SMS through the mainland-China gateways: Aliyun SMS and Tencent Cloud SMS.

Domestic SMS may only be sent as an approved template under an approved signature
(the gateway prefixes 【signature】). Our texts are free, so each gateway is given one
template whose whole body is a single variable (Aliyun ``${content}``, Tencent ``{1}``)
and the text goes in that variable. Links are not allowed in domestic SMS: a text with
a URL is refused here (never silently rewritten), as a permanent failure.

Aliyun is called over its documented HTTP API (RPC signature v1) with ``requests``:
its official SDK would move packages Rasa pins (APScheduler, aiofiles). Tencent uses
the official ``tencentcloud-sdk-python-sms`` (TC3-HMAC-SHA256), which installs cleanly.
Both endpoints are configurable, so tests point them at a local fake server.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from bot.channels.senders import SendResult
from storage.privacy import mask, normalise_contact

log = logging.getLogger(__name__)

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com"
ALIYUN_VERSION = "2017-05-25"
TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com"
DEFAULT_TIMEOUT = 5.0

# What the gateways (and carriers) treat as a link: a scheme, www., or a bare domain
# name with a common top-level domain (with or without a path). ASCII word boundaries:
# a link glued to Chinese text ("登录www.x.com查看") is still a link.
_URL = re.compile(
    r"(?ia)(?:\b[a-z][a-z0-9+.-]*://\S+|\bwww\.\S+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|gov|edu|info|top|xyz|vip|cc|me|io"
    r"|co|shop|site|online|app|link|ly|tk|biz|club|ren|wang|ink|mobi|tv)\b(?:[/?#]\S*)?)"
)


def contains_url(text: str) -> bool:
    return bool(_URL.search(text))


def refuse(text: str) -> SendResult | None:
    """A permanent refusal for a text no domestic template may carry, else None."""
    if not text.strip():
        return SendResult(False, None, "empty_text", permanent=True)
    if contains_url(text):
        return SendResult(False, None, "url_not_allowed", permanent=True)
    return None


# --- Aliyun SMS (Dysmsapi 2017-05-25), RPC signature v1 ---------------------------

# Codes after which sending the same text to the same number again cannot succeed
# (bad number, template or signature problems, refused content, credentials).
ALIYUN_PERMANENT = frozenset(
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
        "isv.DENY_IP_RANGE",
        "isp.RAM_PERMISSION_DENY",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "MissingParameter",
        "InvalidParameter",
    }
)
# Everything else (Throttling*, isv.BUSINESS_LIMIT_CONTROL, isv.DAY_LIMIT_CONTROL,
# isv.AMOUNT_NOT_ENOUGH, isp.SYSTEM_ERROR, HTTP 5xx, network errors) is worth a retry.


def percent_encode(value: str) -> str:
    """Aliyun's percent-encoding: RFC 3986 unreserved characters kept, UTF-8, space as
    %20 (never +), '*' as %2A, '~' kept."""
    return quote(value, safe="~")


def rpc_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """Signature v1: base64(HMAC-SHA1(secret + "&", METHOD&%2F&encode(sorted query)))."""
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(str(params[k]))}" for k in sorted(params)
    )
    string_to_sign = f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(
        f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def aliyun_number(to: str) -> str:
    """Mainland numbers as 11 digits; others as country code + number, no '+'."""
    return normalise_contact(to).lstrip("+")


def aliyun_permanent(code: str) -> bool:
    return code in ALIYUN_PERMANENT


class AliyunSender:
    name = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        endpoint: str = ALIYUN_ENDPOINT,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.endpoint = endpoint.rstrip("/") + "/"
        self.timeout = timeout
        self.session = session or requests.Session()

    def signed_params(self, to: str, text: str) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": ALIYUN_VERSION,
            "PhoneNumbers": aliyun_number(to),
            "SignName": self.sign_name,
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({"content": text}, ensure_ascii=False),
        }
        # POST with a form body: the text stays out of URLs (and access logs).
        params["Signature"] = rpc_signature("POST", params, self.access_key_secret)
        return params

    def send(self, to: str, text: str) -> SendResult:
        refused = refuse(text)
        if refused:
            log.warning("Aliyun SMS to %s refused: %s", mask(to), refused.error_code)
            return refused
        try:
            response = self.session.post(
                self.endpoint, data=self.signed_params(to, text), timeout=self.timeout
            )
        except requests.RequestException as exc:
            log.warning("Aliyun SMS to %s failed: %s", mask(to), type(exc).__name__)
            return SendResult(False, None, "network_error")
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("Code") or "")
        # Errors come as a non-OK Code inside a 200 body, or with a 4xx/5xx status.
        if response.status_code == 200 and code == "OK":
            return SendResult(True, str(body.get("BizId") or "") or None)
        if not code:
            code = f"http_{response.status_code}"
        log.warning(
            "Aliyun SMS to %s failed: %s %s", mask(to), code, str(body.get("Message", ""))[:200]
        )
        return SendResult(False, None, code, permanent=aliyun_permanent(code))


# --- Tencent Cloud SMS (2021-01-11), official SDK -----------------------------------

# Code prefixes (and codes) after which a retry cannot succeed.
TENCENT_PERMANENT_PREFIXES = (
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
# LimitExceeded.*, RequestLimitExceeded, InternalError.*, insufficient balance and
# network errors are transient.


def tencent_permanent(code: str) -> bool:
    return code.startswith(TENCENT_PERMANENT_PREFIXES)


def tencent_number(to: str) -> str:
    """E.164, as Tencent wants it: mainland numbers get +86."""
    value = normalise_contact(to)
    if value.startswith("+"):
        return value
    if len(value) == 11 and value.startswith("1"):
        return "+86" + value
    return "+" + value


class TencentSender:
    name = "tencent"

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        template_id: str,
        region: str = "ap-guangzhou",
        endpoint: str = TENCENT_ENDPOINT,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        http_profile = HttpProfile(
            protocol=url.scheme or "https", endpoint=url.netloc, reqTimeout=timeout
        )
        self.client = sms_client.SmsClient(
            credential.Credential(secret_id, secret_key),
            region,
            ClientProfile(httpProfile=http_profile),
        )
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.template_id = template_id

    def send(self, to: str, text: str) -> SendResult:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        refused = refuse(text)
        if refused:
            log.warning("Tencent SMS to %s refused: %s", mask(to), refused.error_code)
            return refused
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [tencent_number(to)]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = self.template_id
        request.TemplateParamSet = [text]
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            # Request-level errors (Response.Error inside a 200), HTTP and network errors.
            code = str(exc.get_code() or "error")
            log.warning("Tencent SMS to %s failed: %s", mask(to), code)
            return SendResult(False, None, code, permanent=tencent_permanent(code))
        statuses = response.SendStatusSet or []
        if not statuses:
            return SendResult(False, None, "no_status")
        status = statuses[0]
        code = str(status.Code or "")
        # A per-number failure also arrives in a 200 body, with Code other than "Ok".
        if code == "Ok":
            return SendResult(True, status.SerialNo)
        log.warning("Tencent SMS to %s failed: %s", mask(to), code)
        return SendResult(False, None, code or "error", permanent=tencent_permanent(code))


# --- built from configuration (bot.channels.senders.make_sender) ---------------------


def _require(config: Mapping[str, Any], provider: str, names: tuple[str, ...]) -> None:
    missing = [k for k in names if not config.get(k)]
    if missing:
        raise RuntimeError(f"HOTLINE_SMS_PROVIDER={provider} needs {', '.join(missing)}")


def _timeout(config: Mapping[str, Any]) -> float:
    return float(config.get("SMS_GATEWAY_TIMEOUT") or DEFAULT_TIMEOUT)


def make_aliyun_sender(config: Mapping[str, Any]) -> AliyunSender:
    _require(
        config,
        "aliyun",
        (
            "ALIYUN_ACCESS_KEY_ID",
            "ALIYUN_ACCESS_KEY_SECRET",
            "ALIYUN_SMS_SIGN_NAME",
            "ALIYUN_SMS_TEMPLATE_CODE",
        ),
    )
    return AliyunSender(
        config["ALIYUN_ACCESS_KEY_ID"],
        config["ALIYUN_ACCESS_KEY_SECRET"],
        config["ALIYUN_SMS_SIGN_NAME"],
        config["ALIYUN_SMS_TEMPLATE_CODE"],
        endpoint=config.get("ALIYUN_SMS_ENDPOINT") or ALIYUN_ENDPOINT,
        timeout=_timeout(config),
    )


def make_tencent_sender(config: Mapping[str, Any]) -> TencentSender:
    _require(
        config,
        "tencent",
        (
            "TENCENT_SECRET_ID",
            "TENCENT_SECRET_KEY",
            "TENCENT_SMS_SDK_APP_ID",
            "TENCENT_SMS_SIGN_NAME",
            "TENCENT_SMS_TEMPLATE_ID",
        ),
    )
    return TencentSender(
        config["TENCENT_SECRET_ID"],
        config["TENCENT_SECRET_KEY"],
        config["TENCENT_SMS_SDK_APP_ID"],
        config["TENCENT_SMS_SIGN_NAME"],
        config["TENCENT_SMS_TEMPLATE_ID"],
        region=config.get("TENCENT_SMS_REGION") or "ap-guangzhou",
        endpoint=config.get("TENCENT_SMS_ENDPOINT") or TENCENT_ENDPOINT,
        timeout=_timeout(config),
    )
