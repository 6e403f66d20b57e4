"""A photo decoded once: checked to be an image, its cost capped before decoding, read
for QR codes with zxing-cpp; the decoded image is handed to any other analyser.

``analyse(data)`` is the one decoding API: bytes in, a ``Photo`` (the decoded image, its
QR texts, and what each registered analyser made of the same image) out. Register
another reader of the image (OCR of a scam message, say) with ``register_analyser``;
it runs on the decoded image in the same worker, never decoding again.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zxingcpp
from PIL import Image, ImageFile, UnidentifiedImageError

log = logging.getLogger(__name__)

# A 5 MB file can still declare 100,000 x 100,000 pixels (a decompression bomb).
MAX_PIXELS = 40_000_000
# And a file under the pixel cap can still be costly: 6300 x 6300 16-bit RGBA is 317 MB
# decoded (2 s of CPU). What decoding would write, bytes per pixel included, is capped.
MAX_DECODED_BYTES = 48 * 1024 * 1024
# Phone photos are large; QR codes read as well (and faster) at this size.
MAX_SIDE = 2000
MAX_CODES = 5
# Bytes one pixel takes while decoding, by Pillow mode (16-bit sources double it).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "La": 2, "RGB": 3, "YCbCr": 3,
               "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "I": 4,
               "F": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}  # fmt: skip


class NotAnImage(ValueError):
    """The bytes are not a picture Pillow can open."""


class TooCostly(NotAnImage):
    """A picture, but decoding it would cost more than MAX_DECODED_BYTES / MAX_PIXELS."""


@dataclass
class Photo:
    """A decoded photo: ``image`` (mode L or RGB, at most MAX_SIDE a side), its source
    ``format`` (PNG, JPEG ...), the QR ``codes`` found, and ``extras``: name -> result of
    each registered analyser (None when it failed)."""

    image: Image.Image
    format: str
    codes: list[str]
    extras: dict[str, Any] = field(default_factory=dict)


# name -> function of the decoded image. The place for more readers of the same
# photo (e.g. OCR of the text in a scam screenshot): register, never decode again.
ANALYSERS: dict[str, Callable[[Image.Image], Any]] = {}


def register_analyser(name: str, analyser: Callable[[Image.Image], Any]) -> None:
    """Run ``analyser(image)`` on every decoded photo; its result is ``Photo.extras[name]``."""
    ANALYSERS[name] = analyser


def decoded_bytes(image: ImageFile.ImageFile) -> int:
    """What decoding ``image`` would write, from its header alone."""
    per_pixel = _MODE_BYTES.get(image.mode, 4)
    raw = " ".join(str(getattr(tile, "args", "")) for tile in (image.tile or []))
    if "16" in raw and per_pixel < 8:
        per_pixel = max(per_pixel, len(image.getbands()) * 2)
    return image.width * image.height * per_pixel


def open_image(data: bytes, *, max_side: int | None = None) -> Image.Image:
    """The decoded picture (NotAnImage otherwise; TooCostly when over the caps).
    ``max_side``: JPEGs are decoded straight at about that size (cheap)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise TooCostly("image too large in pixels")
            if max_side and image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # DCT scaling: decodes 1/2..1/8
            if decoded_bytes(image) > MAX_DECODED_BYTES:
                raise TooCostly("image too large to decode")
            image.load()
    except TooCostly:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(str(exc)) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooCostly("image too large in pixels") from exc
    return image


def analyse(data: bytes) -> Photo:
    """Decode ``data`` once and read it: QR codes, then every registered analyser.
    NotAnImage (TooCostly) when it is not a picture (or too costly to decode)."""
    image = open_image(data, max_side=MAX_SIDE)
    source_format = image.format or ""
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    formats = zxingcpp.BarcodeFormats(
        [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode]
    )
    results = zxingcpp.read_barcodes(image, formats=formats)
    codes = [r.text for r in results if r.valid and r.text][:MAX_CODES]
    photo = Photo(image, source_format, codes)
    for name, analyser in list(ANALYSERS.items()):
        try:
            photo.extras[name] = analyser(image)
        except Exception:  # one reader failing must not cost the QR verdict
            log.exception("photo analyser %s failed", name)
            photo.extras[name] = None
    return photo


def decode(data: bytes) -> list[str]:
    """The texts of the QR codes in the photo (at most MAX_CODES), [] when none.
    NotAnImage when the bytes are not a picture."""
    return analyse(data).codes
