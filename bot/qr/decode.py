"""QR codes in a photo, read with zxing-cpp; the photo is checked to be an image first."""

from __future__ import annotations

import io
import warnings

import zxingcpp
from PIL import Image, UnidentifiedImageError

# A 5 MB file can still declare 100,000 x 100,000 pixels (a decompression bomb).
MAX_PIXELS = 40_000_000
# Phone photos are large; QR codes read as well (and faster) at this size.
MAX_SIDE = 2000
MAX_CODES = 5


class NotAnImage(ValueError):
    """The bytes are not a picture Pillow can open."""


def open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise NotAnImage("image too large in pixels")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(str(exc)) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise NotAnImage("image too large in pixels") from exc
    return image


def decode(data: bytes) -> list[str]:
    """The texts of the QR codes in the photo (at most MAX_CODES), [] when none.
    NotAnImage when the bytes are not a picture."""
    return decode_image(open_image(data))


def decode_image(image: Image.Image) -> list[str]:
    """The QR codes in an already opened photo (left as it was: OCR reads it next)."""
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    formats = [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode]
    results = zxingcpp.read_barcodes(image, formats=formats)
    texts = [r.text for r in results if r.valid and r.text]
    return texts[:MAX_CODES]
