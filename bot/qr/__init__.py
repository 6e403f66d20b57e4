"""Check a photo of a QR code for the villager who sent it.

``check(media)`` fetches the photo (provider media hosts only, our own web-chat
upload folder, or WeChat's temporary-media API by MediaId), reads its QR codes and
judges them without ever opening them.
``media_step`` is the dialogue step for a message that carries photos.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import responses
from bot.messages import Media
from bot.qr.decode import NotAnImage, decode, open_image
from bot.qr.download import DownloadError, fetch_image, parse_hosts
from bot.qr.verdict import SEVERITY, QrVerdict, judge, judge_all
from storage import uploads

if TYPE_CHECKING:
    from bot.engine import Engine as Dialogue
    from bot.engine import Turn

__all__ = [
    "QrVerdict",
    "check",
    "check_and_keep",
    "check_bytes",
    "judge",
    "media_step",
    "save_upload",
    "wechat_media",
]

log = logging.getLogger(__name__)

# Web-chat photos (and kept copies of provider media) live in storage.uploads.
UPLOAD_PREFIX = uploads.PREFIX
_EXT = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp", "BMP": "bmp"}
# A WeChat photo: "wechat-media:<MediaId>?picurl=<PicUrl, quoted>". PicUrl is tried
# first; it can expire, and then the MediaId is fetched through WeChat's API.
WECHAT_MEDIA_PREFIX = "wechat-media:"
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_\-+=/.]{1,256}$")
MAX_PHOTOS = 3
# Fetched but not worth a copy: the police would see nothing in it.
_NOT_KEPT = {"not_image", "too_large", "unavailable"}
# Outcomes that are not a judgement of a code, ordered after the code kinds.
_ORDER = [*SEVERITY, "no_qr", "too_large", "not_image", "unavailable"]


def _config(config: Any = None) -> Any:
    if config is not None:
        return config
    from flask import current_app

    return current_app.config


def max_bytes(config: Any = None) -> int:
    return int(_config(config).get("QR_MAX_BYTES") or 5 * 1024 * 1024)


def check_bytes(data: bytes, config: Any = None) -> QrVerdict:
    config = _config(config)
    if len(data) > max_bytes(config):
        return QrVerdict("too_large")
    try:
        codes = decode(data)
    except NotAnImage:
        return QrVerdict("not_image")
    official = parse_hosts(config.get("QR_OFFICIAL_DOMAINS") or "nhsa.gov.cn,gov.cn")
    return judge_all(codes, official)


def check(media: Media, config: Any = None) -> QrVerdict:
    """The verdict on one photo a provider (or our web chat) handed us."""
    return check_and_keep(media, config, keep=False)[0]


def check_and_keep(
    media: Media, config: Any = None, *, keep: bool = True
) -> tuple[QrVerdict, Media | None]:
    """The verdict, and (``keep``) the photo as our own ``upload:`` copy when it was
    fetched from a provider and is an image (None otherwise)."""
    config = _config(config)
    fetched = _fetch(media, config)
    if isinstance(fetched, QrVerdict):
        return fetched, None
    verdict = check_bytes(fetched, config)
    if not keep or media.url.startswith(UPLOAD_PREFIX) or verdict.kind in _NOT_KEPT:
        return verdict, None
    try:
        return verdict, save_upload(fetched, config)
    except NotAnImage:
        return verdict, None


def _fetch(media: Media, config: Any) -> bytes | QrVerdict:
    """The photo's bytes, or the verdict that explains why there are none."""
    if media.content_type and not media.content_type.lower().startswith("image"):
        return QrVerdict("not_image")
    if media.url.startswith(UPLOAD_PREFIX):
        data = read_upload(media.url, config)
        return data if data is not None else QrVerdict("unavailable")
    if media.url.startswith(WECHAT_MEDIA_PREFIX):
        return _fetch_wechat(media.url, config)
    return _fetch_url(media.url, config)


def _fetch_url(url: str, config: Any) -> bytes | QrVerdict:
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    try:
        fetched = fetch_image(
            url,
            allowlist=parse_hosts(config.get("QR_MEDIA_HOSTS") or ""),
            max_bytes=max_bytes(config),
            timeout=float(config.get("QR_DOWNLOAD_TIMEOUT") or 8),
            # Twilio media may require the account's basic auth; only its API host gets it.
            auth=(sid, token) if sid and token else None,
            auth_hosts=("api.twilio.com",),
        )
    except DownloadError as exc:
        log.warning("photo not fetched: %s", exc.reason)
        if exc.reason in ("not_image", "too_large"):
            return QrVerdict(exc.reason)
        return QrVerdict("unavailable")
    return fetched.data


def wechat_media(pic_url: str, media_id: str) -> Media:
    """The Media of a WeChat image message (PicUrl, MediaId: either may be missing)."""
    if not _MEDIA_ID.match(media_id or ""):
        return Media(pic_url, "image/*")
    suffix = f"?picurl={quote(pic_url, safe='')}" if pic_url else ""
    return Media(f"{WECHAT_MEDIA_PREFIX}{media_id}{suffix}", "image/*")


def _fetch_wechat(url: str, config: Any) -> bytes | QrVerdict:
    media_id, _, query = url.removeprefix(WECHAT_MEDIA_PREFIX).partition("?")
    pic_url = parse_qs(query).get("picurl", [""])[0]
    if pic_url:
        fetched = _fetch_url(pic_url, config)
        unavailable = isinstance(fetched, QrVerdict) and fetched.kind == "unavailable"
        if not unavailable or not _MEDIA_ID.match(media_id):
            return fetched
    elif not _MEDIA_ID.match(media_id):
        return QrVerdict("unavailable")
    # Imported here: bot.channels imports the dialogue, which imports this package.
    from bot.channels.wechat_api import fetch_media

    try:
        data = fetch_media(
            media_id,
            config,
            max_bytes=max_bytes(config),
            timeout=float(config.get("QR_DOWNLOAD_TIMEOUT") or 8),
        )
    except DownloadError as exc:
        log.warning("WeChat media not fetched: %s", exc.reason)
        # An errcode (expired MediaId, bad token) comes back as JSON: "not_image".
        return QrVerdict("too_large" if exc.reason == "too_large" else "unavailable")
    return data


def save_upload(data: bytes, config: Any = None) -> Media:
    """Keep a web-chat photo (NotAnImage unless it is one) and return its Media."""
    config = _config(config)
    image = open_image(data)
    ext = _EXT.get(image.format or "")
    if not ext:
        raise NotAnImage(f"unsupported image format {image.format}")
    ref = uploads.save(config["HOTLINE_VAR"], data, ext)
    return Media(ref, uploads.mime_type(ref))


def upload_path(url: str, config: Any = None) -> Path | None:
    return uploads.path(uploads.folder(_config(config)["HOTLINE_VAR"]), url)


def read_upload(url: str, config: Any = None) -> bytes | None:
    path = upload_path(url, config)
    if path is None or not path.is_file():
        return None
    return path.read_bytes()


def worst(verdicts: list[QrVerdict]) -> QrVerdict:
    return min(verdicts, key=lambda v: _ORDER.index(v.kind))


def media_step(dialogue: Dialogue, turn: Turn) -> None:
    """Answer a message with photos: the verdict on the most alarming one. The check is
    kept in the conversation state (``last_qr``) for a report made next."""
    verdicts = [check(m) for m in turn.message.media[:MAX_PHOTOS]]
    verdict = worst(verdicts)
    turn.say(responses.catalogue("qr")["qr"][verdict.kind].strip())
    attachment = verdict.as_attachment()
    if attachment.get("qr_content"):
        attachment["qr_content"] = attachment["qr_content"][:1000]
    attachment["qr_codes"] = [c[:1000] for c in attachment.get("qr_codes", [])][:5]
    turn.state["last_qr"] = attachment
