"""WeChat Official Account message signatures and safe mode (消息加解密), owned here.

The protocol is small enough to keep in one module tested on the published vector
(shared/design/PROTOCOLS.md) rather than depend on an old or pre-release SDK:

- ``signature = sha1("".join(sorted([token, timestamp, nonce, *extra])))``
- ``AESKey = base64decode(EncodingAESKey + "=")``, AES-256-CBC, IV = AESKey[:16],
  PKCS#7 padding to 32-byte blocks (not AES's 16);
  plaintext = random(16) + len(msg) (4 bytes, big-endian) + msg + appid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CryptoError(ValueError):
    """A message that does not decrypt, pad or carry our appid: refuse it (400)."""


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    parts = sorted([token, timestamp, nonce, *extra])
    return hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 (the protocol)


def check_signature(token: str, given: str, timestamp: str, nonce: str, *extra: str) -> bool:
    if not (token and given and timestamp and nonce):
        return False
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text (a 500).
    expected = signature(token, timestamp, nonce, *extra).encode()
    return hmac.compare_digest(expected, given.lower().encode("utf-8", "replace"))


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise CryptoError("bad padding")
    return data[:-n]


class WeChatCrypto:
    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("WECHAT_ENCODING_AES_KEY is not 43 base64 characters") from exc
        if len(key) != 32:
            raise ValueError("WECHAT_ENCODING_AES_KEY must decode to 32 bytes")
        self.token = token
        self.key = key
        self.appid = appid

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        """Base64 ciphertext of ``message`` as WeChat expects it."""
        body = message.encode()
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body
        plain += self.appid.encode()
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(_pad(plain)) + enc.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """The message inside ``encrypted``; CryptoError unless it is well-formed and for
        our appid (a message for another account is not ours to answer)."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("not base64") from exc
        if not data or len(data) % 16:
            raise CryptoError("ciphertext length")
        dec = self._cipher().decryptor()
        plain = _unpad(dec.update(data) + dec.finalize())
        if len(plain) < 20:
            raise CryptoError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        body, appid = plain[20 : 20 + length], plain[20 + length :]
        if len(body) != length:
            raise CryptoError("length field")
        if appid.decode(errors="replace") != self.appid:
            raise CryptoError("message for another appid")
        try:
            return body.decode()
        except UnicodeDecodeError as exc:
            raise CryptoError("not UTF-8") from exc

    def check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> bool:
        return check_signature(self.token, msg_signature, timestamp, nonce, encrypted)

    def encrypt_reply(self, xml: str, timestamp: str, nonce: str) -> str:
        """The safe-mode envelope for a passive reply."""
        timestamp = _digits(timestamp)
        encrypted = self.encrypt(xml)
        sig = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{_cdata(nonce)}]]></Nonce></xml>"
        )


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit()) or "0"


def _cdata(value: str) -> str:
    return value.replace("]]>", "]]]]><![CDATA[>")
