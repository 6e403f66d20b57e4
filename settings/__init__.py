"""Configuration from the environment (and a local ``.env``), with embedded defaults
that run the hotline on one machine: SQLite in var/, console SMS, local model.

The one place every domain reads a setting: the app's ``load_config`` (``app.config``),
and ``value`` / ``var_dir`` / ``db_path`` for code that runs outside the app (the CLI,
the scheduler's jobs). It is the bottom layer: it imports nothing of ours, so any
package may read it without importing ``bot/``."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent

# name -> (default, what it is). README's table is `hotline settings` (tests/system/test_config.py).
SETTINGS: dict[str, tuple[str | None, str]] = {
    "HOTLINE_VAR": (
        "var",
        "folder for the database, keys, uploads and reviewed NLU examples (git-ignored)",
    ),
    "HOTLINE_DB": (None, "SQLite database file (default: $HOTLINE_VAR/hotline.db)"),
    "HOTLINE_DATABASE_URL": (
        None,
        "`sqlite:///path` or `postgresql://user@host/db` (wins over HOTLINE_DB;"
        " README, When to move to PostgreSQL)",
    ),
    "HOTLINE_MODEL_DIR": ("models", "where `hotline train` puts the Rasa NLU model"),
    "HOTLINE_PUBLIC_URL": (
        "http://127.0.0.1:5000",
        "public base URL; Twilio signatures are checked against it",
    ),
    "SMS_PROVIDER": (
        "console",
        "`console` prints outbound SMS; `twilio`, `aliyun` or `tencent` sends them "
        "(docs/sms-gateways.md)",
    ),
    "SMS_CONSOLE_TOKEN": (
        None,
        "token for `POST /sms/console` (header `X-Console-Token`; default: generated once"
        " into var/console_token, printed by `hotline serve`)",
    ),
    "HOTLINE_SMS_PROVIDER": (None, "deprecated name of `SMS_PROVIDER`, read when that is unset"),
    "HOTLINE_SECRET_KEY": (None, "Flask session key (default: generated once into var/)"),
    "HOTLINE_HASH_KEY": (None, "HMAC key for phone numbers / openids (default: var/keys.json)"),
    "HOTLINE_ENCRYPTION_KEY": (None, "Fernet key for stored contacts (default: var/keys.json)"),
    "HOTLINE_SMS_RATE": (
        None,
        "outbound SMS calls per second (default: the provider's limit; console, Twilio long "
        "code: 1; Aliyun, Tencent: 10 calls, each up to HOTLINE_SMS_BATCH numbers)",
    ),
    "HOTLINE_SMS_BATCH": (
        None,
        "numbers per gateway call for pushes (default and most: Aliyun SendBatchSms 100, "
        "Tencent SendSms 200; 1: one number per call; console, Twilio: always 1)",
    ),
    "HOTLINE_SMS_NUMBERS_RATE": (
        None,
        "numbers per second across batch calls (default: 1000; docs/sms-gateways.md)",
    ),
    "HOTLINE_PURGE_DAYS": ("180", "personal fields of closed reports are purged after this"),
    "HOTLINE_REVIEW_DAYS": (
        "30",
        "messages kept for NLU review (/police/review) are deleted after this many days "
        "unless labelled with an intent",
    ),
    "HOTLINE_RATE_LIMIT_PER_MINUTE": (
        "20",
        "messages one sender may send per minute on average; more are kept, not answered "
        "(0: no limit)",
    ),
    "HOTLINE_RATE_LIMIT_BURST": ("10", "messages one sender may send at once before the limit"),
    "HOTLINE_DEFAULT_COUNTY": (
        None,
        "county whose supervisors get reports with no county yet (needed when several "
        "counties are loaded; with one county: that one)",
    ),
    "TWILIO_ACCOUNT_SID": (None, "Twilio account, for sending"),
    "TWILIO_AUTH_TOKEN": (None, "Twilio auth token: checks X-Twilio-Signature; sends"),
    "TWILIO_FROM_NUMBER": (None, "Twilio number outbound SMS come from"),
    "WECHAT_TOKEN": (None, "WeChat Official Account token (signature check)"),
    "WECHAT_APPID": (None, "WeChat Official Account AppID"),
    "WECHAT_ENCODING_AES_KEY": (None, "WeChat EncodingAESKey, for safe mode"),
    "WECHAT_APPSECRET": (None, "WeChat AppSecret, for the customer-service API"),
    "WECHAT_ALLOW_PLAIN": (
        "false",
        "accept unencrypted pushes although WECHAT_ENCODING_AES_KEY is set (明文模式 only)",
    ),
    "WECHAT_API_BASE": (
        "https://api.weixin.qq.com",
        "WeChat API base URL (customer-service messages, access token)",
    ),
    "WECHAT_REPLY_WAIT": (
        "4",
        "seconds to wait for an answer before replying `success` to WeChat and sending "
        "the answer later through the customer-service API (WeChat gives up at 5)",
    ),
    "WECHAT_CS_QUOTA": ("5", "customer-service messages per follower per 48-hour window"),
    "WECHAT_API_TIMEOUT": ("5", "seconds before a WeChat API call is abandoned"),
    "QR_MEDIA_HOSTS": (
        "api.twilio.com,*.twilio.com,*.twiliocdn.com,mmbiz.qpic.cn,*.qpic.cn,api.weixin.qq.com",
        "hosts photos may be downloaded from (provider media hosts only; `*.` = subdomains)",
    ),
    "QR_MAX_BYTES": ("5242880", "largest photo downloaded or uploaded for a QR check (bytes)"),
    "QR_DOWNLOAD_TIMEOUT": ("8", "seconds a photo download may take in all"),
    "QR_OFFICIAL_DOMAINS": (
        "nhsa.gov.cn,gov.cn",
        "domains (and their subdomains) a QR code may point to and be called official",
    ),
    # Mainland-China SMS gateways (docs/sms-gateways.md).
    "ALIYUN_SMS_WEBHOOK_SECRET": (
        None,
        "secret in the Aliyun reply-push URL (`/sms/aliyun?token=...`); unset: pushes refused",
    ),
    "ALIYUN_ACCESS_KEY_ID": (None, "Aliyun AccessKey ID, for sending SMS"),
    "ALIYUN_ACCESS_KEY_SECRET": (None, "Aliyun AccessKey secret (signs SendSms calls)"),
    "ALIYUN_SMS_SIGN_NAME": (None, "approved Aliyun SMS signature (shown as 【...】)"),
    "ALIYUN_SMS_TEMPLATE_CODE": (None, "approved Aliyun template whose body is `${content}`"),
    "ALIYUN_SMS_ENDPOINT": ("https://dysmsapi.aliyuncs.com", "Aliyun SMS API base URL"),
    "TENCENT_SMS_WEBHOOK_SECRET": (
        None,
        "secret in the Tencent reply-push URL (`/sms/tencent?token=...`); unset: refused",
    ),
    "TENCENT_SECRET_ID": (None, "Tencent Cloud SecretId, for sending SMS"),
    "TENCENT_SECRET_KEY": (None, "Tencent Cloud SecretKey (signs SendSms calls)"),
    "TENCENT_SMS_SDK_APP_ID": (None, "Tencent SMS SdkAppId"),
    "TENCENT_SMS_SIGN_NAME": (None, "approved Tencent SMS signature (shown as 【...】)"),
    "TENCENT_SMS_TEMPLATE_ID": (None, "approved Tencent template whose body is `{1}`"),
    "TENCENT_SMS_REGION": ("ap-guangzhou", "Tencent SMS API region"),
    "TENCENT_SMS_ENDPOINT": ("https://sms.tencentcloudapi.com", "Tencent SMS API base URL"),
    "SMS_GATEWAY_TIMEOUT": (
        "5",
        "seconds before a Twilio / Aliyun / Tencent SMS API call is abandoned",
    ),
    "SMS_GATEWAY_ALLOWED_IPS": (
        None,
        "CIDRs (comma-separated) Aliyun / Tencent pushes may come from, on top of the URL "
        "secret; unset: any address",
    ),
    "HOTLINE_TRUSTED_PROXIES": (
        "0",
        "reverse proxies in front of `hotline serve`: for requests from "
        "HOTLINE_TRUSTED_PROXY_ADDR, waitress takes the client address from "
        "X-Forwarded-For that many hops from the right (0: the peer address; "
        "X-Forwarded-For ignored)",
    ),
    "HOTLINE_TRUSTED_PROXY_ADDR": (
        "127.0.0.1",
        "IP address the reverse proxy connects to `hotline serve` from; only its "
        "X-Forwarded-For is believed (`*`: any peer's, only when nothing but the proxy "
        "can reach the port)",
    ),
}


def _load_env() -> None:
    # A .env never overrides the real environment (python-dotenv's default).
    load_dotenv(ROOT / ".env")


def value(name: str, config: Mapping[str, Any] | None = None) -> Any:
    """One setting: from ``config`` (the app's, when given and set there), else the
    environment or ``.env``, else its default."""
    if name not in SETTINGS:
        raise KeyError(f"unknown setting {name!r} (add it to settings.SETTINGS)")
    if config and config.get(name) not in (None, ""):
        return config[name]
    _load_env()
    return os.environ.get(name) or SETTINGS[name][0]


def integer(name: str, config: Mapping[str, Any] | None = None) -> int:
    """A whole-number setting; a value that is not one is a clear error, not a 500 later."""
    raw = value(name, config)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def var_dir(config: Mapping[str, Any] | None = None) -> Path:
    """``HOTLINE_VAR`` as an absolute path (relative: to the repository root)."""
    var = Path(value("HOTLINE_VAR", config))
    return var if var.is_absolute() else ROOT / var


def db_path(config: Mapping[str, Any] | None = None) -> str:
    """What ``storage.db.connect`` opens: ``HOTLINE_DATABASE_URL`` when set, else
    ``HOTLINE_DB``, default ``$HOTLINE_VAR/hotline.db``."""
    return str(
        value("HOTLINE_DATABASE_URL", config)
        or value("HOTLINE_DB", config)
        or var_dir(config) / "hotline.db"
    )


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings as a dict for ``app.config``; ``overrides`` win over the environment."""
    _load_env()
    overrides = overrides or {}
    config: dict[str, Any] = {}
    for name, (default, _doc) in SETTINGS.items():
        config[name] = overrides.get(name, os.environ.get(name, default))
    var = var_dir(config)
    config["HOTLINE_VAR"] = var
    # One location string for every opener (storage.db.connect): a file path, or the
    # PostgreSQL URL as it is.
    url = str(config["HOTLINE_DATABASE_URL"] or "")
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    config["HOTLINE_DB"] = str(url or config["HOTLINE_DB"] or var / "hotline.db")
    model_dir = Path(config["HOTLINE_MODEL_DIR"])
    config["HOTLINE_MODEL_DIR"] = model_dir if model_dir.is_absolute() else ROOT / model_dir
    config["SECRET_KEY"] = config.pop("HOTLINE_SECRET_KEY") or _dev_secret(var)
    # Asked of every POST /sms/console (header X-Console-Token); `hotline serve` prints it.
    config["SMS_CONSOLE_TOKEN"] = config["SMS_CONSOLE_TOKEN"] or _dev_secret(var, "console_token")
    # HOTLINE_SMS_PROVIDER is the old name of SMS_PROVIDER: used only when SMS_PROVIDER
    # is not given, and kept equal to it for code that still reads the old name.
    if not (overrides.get("SMS_PROVIDER") or os.environ.get("SMS_PROVIDER")):
        config["SMS_PROVIDER"] = config.get("HOTLINE_SMS_PROVIDER") or config["SMS_PROVIDER"]
    config["HOTLINE_SMS_PROVIDER"] = config["SMS_PROVIDER"]
    for key, value in overrides.items():
        config.setdefault(key, value)
    return config


def _dev_secret(var: Path, name: str = "flask_secret") -> str:
    path = var / name
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()


def settings_table() -> str:
    """The settings as a Markdown table (README's configuration section)."""
    rows = ["| variable | default | what it is |", "|---|---|---|"]
    for name, (default, doc) in SETTINGS.items():
        rows.append(f"| `{name}` | {f'`{default}`' if default else '—'} | {doc} |")
    return "\n".join(rows)
