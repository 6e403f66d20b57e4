"""Check a photo of a QR code for the villager who sent it.

``check(media)`` fetches the photo (provider media hosts only, our own web-chat
upload folder, or WeChat's temporary-media API by MediaId), reads its QR codes and
judges them without ever opening them.
``media_step`` is the dialogue step for a message that carries photos.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from PIL import Image, UnidentifiedImageError

import responses
from bot.messages import Media
from bot.qr.decode import NotAnImage, Photo, analyse, register_analyser
from bot.qr.download import DownloadError, fetch_image, parse_hosts
from bot.qr.verdict import SEVERITY, QrVerdict, judge, judge_all
from scamcheck import ocr
from storage import uploads
from storage.privacy import load_vault

if TYPE_CHECKING:
    from bot.engine import Engine as Dialogue
    from bot.engine import Turn

__all__ = [
    "QrVerdict",
    "check",
    "check_and_keep",
    "check_bytes",
    "check_upload",
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


def _pool() -> Any:
    from flask import current_app, has_app_context

    from bot.qr.workers import pool_for

    if not has_app_context():
        return None
    # current_app is a LocalProxy that Flask types as Flask; the pool is keyed by the app.
    return pool_for(current_app._get_current_object())  # type: ignore[attr-defined]


def analyse_photo(data: bytes, sender: str | None = None) -> Photo:
    """The photo decoded once (``decode.analyse``), on the photo pool when serving.
    Raises Busy (bot.qr.workers) over a rate limit or when the pool is full,
    NotAnImage / TooCostly for what is not a decodable picture."""
    pool = _pool()
    if pool is None:  # a CLI or bench run: no server threads to protect
        return analyse(data)
    pool.admit(sender)
    return pool.run(analyse, data)


def _read_text(image: Image.Image) -> ocr.Reading:
    # The module's budget is read at call time (a worker thread has no app config).
    return ocr.read(image, budget_s=ocr.DEFAULT_BUDGET_S)


# Every photo is also read for text (an SMS screenshot, a letter, a badge): OCR on the
# same decoded image, judged by bot/photo_text.py.
register_analyser("text", _read_text)


def verdict_of(photo: Photo, config: Any = None) -> QrVerdict:
    official = parse_hosts(_config(config).get("QR_OFFICIAL_DOMAINS") or "nhsa.gov.cn,gov.cn")
    verdict = judge_all(photo.codes, official)
    verdict.extras = dict(photo.extras)
    return verdict


def check_bytes(data: bytes, config: Any = None, sender: str | None = None) -> QrVerdict:
    from bot.qr.workers import Busy

    config = _config(config)
    if len(data) > max_bytes(config):
        return QrVerdict("too_large")
    try:
        photo = analyse_photo(data, sender)
    except NotAnImage:  # TooCostly too: a bomb is no photo the police could use
        return QrVerdict("not_image")
    except Busy as exc:
        log.warning("photo not checked now: %s", exc.reason)
        return QrVerdict("unavailable")
    return verdict_of(photo, config)


# Verdicts of our own uploads, for the minutes a report may still ask about them: the
# web chat's photo is decoded once, when it arrives, not again by the dialogue.
_RECENT_S = 15 * 60
_recent: OrderedDict[str, tuple[float, QrVerdict]] = OrderedDict()
_recent_lock = threading.Lock()


def remember(ref: str, verdict: QrVerdict) -> None:
    with _recent_lock:
        _recent[ref] = (time.monotonic(), verdict)
        while len(_recent) > 1000:
            _recent.popitem(last=False)


def _remembered(ref: str) -> QrVerdict | None:
    with _recent_lock:
        hit = _recent.get(ref)
    if hit is None or time.monotonic() - hit[0] > _RECENT_S:
        return None
    return QrVerdict(
        hit[1].kind, hit[1].content, hit[1].host, list(hit[1].codes), dict(hit[1].extras)
    )


def check_upload(data: bytes, sender: str, config: Any = None) -> tuple[QrVerdict, Media]:
    """A web-chat photo: decoded once (on the pool), kept as an ``upload:`` file only
    until a report takes it (``storage.uploads.sweep_orphans`` removes it otherwise).
    NotAnImage for what is not a photo; Busy (bot.qr.workers) when it cannot be
    decoded now."""
    config = _config(config)
    photo = analyse_photo(data, sender)
    ext = _EXT.get(photo.format)
    if not ext:
        raise NotAnImage(f"unsupported image format {photo.format}")
    ref = uploads.save(config["HOTLINE_VAR"], data, ext, photo_key(config))
    verdict = verdict_of(photo, config)
    remember(ref, verdict)
    return verdict, Media(ref, uploads.mime_type(ref))


def check(media: Media, config: Any = None, sender: str | None = None) -> QrVerdict:
    """The verdict on one photo a provider (or our web chat) handed us."""
    return check_and_keep(media, config, keep=False, sender=sender)[0]


def check_and_keep(
    media: Media, config: Any = None, *, keep: bool = True, sender: str | None = None
) -> tuple[QrVerdict, Media | None]:
    """The verdict, and (``keep``) the photo as our own ``upload:`` copy when it was
    fetched from a provider and is an image (None otherwise)."""
    config = _config(config)
    known = _remembered(media.url) if media.url.startswith(UPLOAD_PREFIX) else None
    if known is not None:  # decoded when it arrived
        return known, None
    fetched = _fetch(media, config)
    if isinstance(fetched, QrVerdict):
        return fetched, None
    verdict = check_bytes(fetched, config, sender)
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
    """Keep a photo (NotAnImage unless it is one) and return its Media."""
    config = _config(config)
    try:
        with Image.open(io.BytesIO(data)) as image:  # the header: the format, no decoding
            ext = _EXT.get(image.format or "")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise NotAnImage(str(exc)) from exc
    if not ext:
        raise NotAnImage("unsupported image format")
    ref = uploads.save(config["HOTLINE_VAR"], data, ext, photo_key(config))
    return Media(ref, uploads.mime_type(ref))


def upload_path(url: str, config: Any = None) -> Path | None:
    return uploads.path(uploads.folder(_config(config)["HOTLINE_VAR"]), url)


def photo_key(config: Any = None) -> bytes:
    """The key kept photos are encrypted with: the vault's (storage/privacy.py), the
    running app's or, off an app context, the one its key file or settings hold."""
    from flask import current_app, has_app_context

    if has_app_context() and "hotline_vault" in current_app.extensions:
        return bytes(current_app.extensions["hotline_vault"].fernet_key)
    return load_vault(Path(_config(config)["HOTLINE_VAR"]) / "keys.json").fernet_key


def read_upload(url: str, config: Any = None) -> bytes | None:
    path = upload_path(url, config)
    if path is None or not path.is_file():
        return None
    return uploads.read(path, photo_key(config))


def worst(verdicts: list[QrVerdict]) -> QrVerdict:
    return min(verdicts, key=lambda v: _ORDER.index(v.kind))


def media_step(dialogue: Dialogue, turn: Turn) -> None:
    """Answer a message with photos: the verdict on the most alarming QR code and on the
    text read in them (bot/photo_text.py). The checks are kept in the conversation
    state (``last_qr``, ``last_text_check``) for a report made next."""
    from bot import photo_text  # imported here: it reaches the dialogue's registry step

    verdicts = [check(m, sender=turn.sender_hash) for m in turn.message.media[:MAX_PHOTOS]]
    verdict = worst(verdicts)
    readings = [v.extras.get("text") for v in verdicts]
    if not photo_text.answer_photos(dialogue, turn, readings, verdict):
        turn.say(responses.catalogue("qr")["qr"][verdict.kind].strip())
    attachment = verdict.as_attachment()
    if attachment.get("qr_content"):
        attachment["qr_content"] = attachment["qr_content"][:1000]
    attachment["qr_codes"] = [c[:1000] for c in attachment.get("qr_codes", [])][:5]
    # Which photos were checked: a report carrying them notes their check once (report_hook).
    attachment["media_urls"] = [m.url for m in turn.message.media[:MAX_PHOTOS]]
    turn.state["last_qr"] = attachment
