"""Photos kept on our own disk: web-chat uploads and copies of provider media.

A photo is referred to as ``upload:<32 hex>.<ext>`` and lives in ``$HOTLINE_VAR/uploads``.
We name every file ourselves, so a reference can only ever point into that folder (the
name pattern rules out paths). Provider media (Twilio, WeChat) is copied here when a
report keeps it: their URLs need credentials or expire within days, and the police must
still see the photo when they open the report.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "upload:"
EXTENSIONS = ("png", "jpg", "gif", "webp", "bmp")
_NAME = re.compile(r"^[0-9a-f]{32}\.(?:png|jpg|gif|webp|bmp)$")


def folder(var_dir: str | Path) -> Path:
    return Path(var_dir) / "uploads"


def save(var_dir: str | Path, data: bytes, ext: str, key: bytes | None = None) -> str:
    """Write ``data`` under a fresh random name; return its ``upload:`` reference.
    With ``key`` (the vault's Fernet key) the file holds the photo encrypted: a photo
    of an ID card or a face is personal data, never on disk in clear."""
    if ext not in EXTENSIONS:
        raise ValueError(f"unsupported photo extension {ext!r}")
    target = folder(var_dir)
    target.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{ext}"
    # Private like the keys: a villager's photo is personal data.
    fd = os.open(target / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet(key).encrypt(data) if key else data)
    return PREFIX + name


# Every Fernet token starts with its version byte 0x80, base64: "gAAAAA".
_TOKEN_START = b"gAAAAA"


def read(file: Path, key: bytes | None) -> bytes | None:
    """The photo in ``file``: decrypted with ``key``, or as it is when it was kept
    before photos were encrypted (no token). None when it does not decrypt."""
    data = file.read_bytes()
    if not data.startswith(_TOKEN_START):
        return data
    if not key:
        return None
    try:
        return Fernet(key).decrypt(data)
    except (InvalidToken, ValueError):
        return None


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


# A photo no report points to is deleted this long after it arrived: time enough for
# the villager to choose "report" after the check (docs/police.md).
ORPHAN_MAX_AGE_S = 10 * 60


def sweep_orphans(
    uploads_dir: str | Path, kept: Iterable[str], max_age_s: float = ORPHAN_MAX_AGE_S
) -> int:
    """Delete the files in ``uploads_dir`` older than ``max_age_s`` that no reference in
    ``kept`` (the attachments' URLs) names; return how many went."""
    folder_path = Path(uploads_dir)
    if not folder_path.is_dir():
        return 0
    keep = {name for ref in kept if (name := name_of(ref or ""))}
    cutoff = time.time() - max_age_s
    removed = 0
    for entry in folder_path.iterdir():
        if entry.name in keep or not entry.is_file():
            continue
        try:
            if entry.stat().st_mtime <= cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
