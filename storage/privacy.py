"""Personal data at rest: keyed hashes for lookups, encryption for sending, masks for eyes.

A phone number or WeChat openid is never written anywhere in clear. Lookups use
HMAC-SHA256 under a secret key (a plain hash of an 11-digit number is reversible by
brute force in minutes); the copy needed to send a message is Fernet-encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

import settings

# Mainland ID card numbers: 17 digits and a digit or X, also as people write them in
# groups ("450123 19900101 1234", "4501-2319-9001-0112-34"). Redacted wherever text is kept.
_SEP = r"[ \-\u3000]?"
_ID_NUMBER = re.compile(
    rf"(?<!\d)(\d(?:{_SEP}\d){{5}})(?:{_SEP}\d){{8}}{_SEP}(\d(?:{_SEP}\d){{2}}{_SEP}[\dXx])(?!\d)"
)
_SEPARATORS = re.compile(r"[ \-\u3000]")
_SPACES = re.compile(r"[\s\-()]")


def _number_spelling(value: str) -> str:
    """``value`` as a gateway or a villager may write a number, reduced to ASCII digits
    and a leading +: full-width digits and plus (NFKC), zero-width and direction marks
    (format characters), dots and the separators above dropped, the international
    prefix 00 read as +. Not a number when the result is not digits."""
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
        value = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
        value = _SPACES.sub("", value)
    value = value.replace(".", "")
    if value.startswith("00"):
        value = "+" + value[2:]
    return value


def normalise_contact(contact: str) -> str:
    """One spelling per person: '+86 138-1234-5678', '0086 138 1234 5678',
    '８６１３８１２３４５６７８' and '13812345678' must hash alike, or an opt-out sent from one
    form misses a subscription in another."""
    value = _SPACES.sub("", contact.strip())
    if value.startswith("whatsapp:"):
        value = value.removeprefix("whatsapp:")
    number = _number_spelling(value)
    digits = number.removeprefix("+")
    if digits.isascii() and digits.isdigit():
        if len(digits) == 13 and digits.startswith("86"):
            return digits[2:]
        if len(digits) == 11 and digits.startswith("1"):
            return digits
        return "+" + digits
    return value  # an openid, a web-chat session id


def _utf8(value: str) -> bytes:
    # A lone surrogate (from a JSON "\\ud800") is not UTF-8: kept apart, never a crash.
    return value.encode("utf-8", "surrogatepass")


def mask(contact: str) -> str:
    """138****1234 for numbers; the first and last 3 characters for other ids."""
    value = normalise_contact(contact)
    if len(value) >= 11 and value.lstrip("+").isdigit():
        return value[:3] + "****" + value[-4:]
    if len(value) <= 6:
        return "*" * len(value)
    return value[:3] + "…" + value[-3:]


def redact_id_numbers(text: str) -> str:
    """Keep the region prefix and the last 4 characters of any ID number in ``text``."""
    return _ID_NUMBER.sub(
        lambda m: _SEPARATORS.sub("", m.group(1)) + "********" + _SEPARATORS.sub("", m.group(2)),
        text,
    )


@dataclass(frozen=True)
class Vault:
    hash_key: bytes
    fernet_key: bytes

    def hash(self, contact: str) -> str:
        value = _utf8(normalise_contact(contact))
        return hmac.new(self.hash_key, value, hashlib.sha256).hexdigest()

    def encrypt(self, contact: str) -> str:
        return Fernet(self.fernet_key).encrypt(_utf8(normalise_contact(contact))).decode()

    def protect(self, contact: str, field: str = "contact") -> dict[str, str]:
        """The stored form of a contact: ``<field>_hash`` (lookups), ``<field>_enc``
        (sending) and ``<field>_masked`` (screens); never the contact itself."""
        return {
            f"{field}_hash": self.hash(contact),
            f"{field}_enc": self.encrypt(contact),
            f"{field}_masked": mask(contact),
        }

    def decrypt(self, token: str) -> str | None:
        try:
            return Fernet(self.fernet_key).decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None


def load_vault(key_file: Path) -> Vault:
    """Keys from HOTLINE_HASH_KEY / HOTLINE_ENCRYPTION_KEY, else a development key file.

    The key file is created once (mode 0600) in var/, which git ignores: losing it
    makes stored contacts unreadable, so production must set the environment keys.
    """
    hash_key = settings.value("HOTLINE_HASH_KEY")
    fernet_key = settings.value("HOTLINE_ENCRYPTION_KEY")
    if hash_key and fernet_key:
        return Vault(hash_key.encode(), fernet_key.encode())
    if key_file.exists():
        stored = json.loads(key_file.read_text())
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        stored = {
            "hash_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "encryption_key": Fernet.generate_key().decode(),
        }
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(stored, out)
    return Vault(
        (hash_key or stored["hash_key"]).encode(),
        (fernet_key or stored["encryption_key"]).encode(),
    )


def get_vault() -> Vault:
    """The running app's vault (set up by the app factory)."""
    from flask import current_app

    return current_app.extensions["hotline_vault"]
