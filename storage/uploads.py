"""Photos kept on our own disk: web-chat uploads and copies of provider media.

A photo is referred to as ``upload:<32 hex>.<ext>`` and lives in ``$HOTLINE_VAR/uploads``.
We name every file ourselves, so a reference can only ever point into that folder (the
name pattern rules out paths). Provider media (Twilio, WeChat) is copied here when a
report keeps it: their URLs need credentials or expire within days, and the police must
still see the photo when they open the report.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

PREFIX = "upload:"
EXTENSIONS = ("png", "jpg", "gif", "webp", "bmp")
_NAME = re.compile(r"^[0-9a-f]{32}\.(?:png|jpg|gif|webp|bmp)$")


def folder(var_dir: str | Path) -> Path:
    return Path(var_dir) / "uploads"


def save(var_dir: str | Path, data: bytes, ext: str) -> str:
    """Write ``data`` under a fresh random name; return its ``upload:`` reference."""
    if ext not in EXTENSIONS:
        raise ValueError(f"unsupported photo extension {ext!r}")
    target = folder(var_dir)
    target.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{ext}"
    (target / name).write_bytes(data)
    return PREFIX + name


def name_of(ref: str) -> str | None:
    """The file name an ``upload:`` reference points at, or None for anything else."""
    name = ref.removeprefix(PREFIX)
    if not ref.startswith(PREFIX) or not _NAME.match(name):
        return None
    return name


def path(uploads_dir: str | Path, ref: str) -> Path | None:
    """The file of a reference inside ``uploads_dir`` (the uploads folder itself)."""
    name = name_of(ref)
    return Path(uploads_dir) / name if name else None


def mime_type(ref: str) -> str:
    ext = ref.rsplit(".", 1)[-1]
    return "image/jpeg" if ext == "jpg" else f"image/{ext}"
