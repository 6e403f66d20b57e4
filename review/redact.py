"""What a supervisor may read of a villager's message: numbers masked, ID numbers gone.

Phone numbers keep their first 3 and last 4 digits (138****1234, the same mask as
storage/privacy.py), however they were written: with spaces or dashes, +86, full-width
digits, or in Chinese numerals (幺三八…). Other long numbers (bank cards, landlines,
400 numbers) are masked the same way; ID card numbers are removed outright (their
region and birth date identify a person on their own). WeChat ids and the path and
query of links (where invitation codes and personal tokens live) are masked; the
link's host stays, it tells a supervisor which scam it was.
"""

from __future__ import annotations

import re
import unicodedata

from storage.privacy import mask

ID_REMOVED = "<身份证号已删>"  # not [..]: Rasa reads [text](x) as an entity
# Digits possibly split by single spaces, dashes or dots: 138 1234 5678, 0775-1234567.
_DIGIT_RUN = re.compile(r"(?<![\dA-Za-z])\+?\d(?:[ \-.\u00a0]?\d)*(?:[ \-]?[Xx])?(?![\dA-Za-z])")
_SEPARATORS = re.compile(r"[ \-.\u00a0+]")
# A birth date in positions 7-14: an 18-character ID number, not a bank card.
_ID_BIRTH = re.compile(r"^\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]$")
_OLD_ID_BIRTH = re.compile(r"^\d{6}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}$")
_CHINESE_DIGITS = "零〇一二三四五六七八九幺两"
_CHINESE_RUN = re.compile(f"[{_CHINESE_DIGITS}](?:[ ，,]?[{_CHINESE_DIGITS}]){{6,}}")
_CHINESE_VALUE = {ch: str(i) for i, ch in enumerate("零一二三四五六七八九")} | {
    "〇": "0",
    "幺": "1",
    "两": "2",
}
_URL = re.compile(
    r"(?i)\b((?:https?://|www\.)[^\s/?#，。！？、\u4e00-\u9fff]+)([/?#][^\s，。！？、\u4e00-\u9fff]*)?"
)
_WECHAT = re.compile(
    r"(?i)(微信号?|威信|薇信|vx|wx|weixin|wechat)(\s*(?:号|id)?\s*[:：是为]?\s*)"
    r"([A-Za-z][-_A-Za-z0-9]{4,19})"
)
_WXID = re.compile(r"(?i)\bwxid_[A-Za-z0-9_-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Shorter numbers are kept: 110, 96110, 12393, amounts, dates, codes of 6 digits.
MIN_MASKED_DIGITS = 7


def mask_number(digits: str) -> str:
    """138****1234 for a long number; the first 2 and last 2 digits of a short one."""
    if len(digits) == 11 and digits.startswith("1"):
        return mask(digits)  # a mobile number: the mask officers see everywhere
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    return digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


def _number(match: re.Match[str]) -> str:
    raw = match.group(0)
    value = _SEPARATORS.sub("", raw)
    if (len(value) == 18 and _ID_BIRTH.match(value)) or (
        len(value) == 15 and _OLD_ID_BIRTH.match(value)
    ):
        return ID_REMOVED
    digits = value.rstrip("Xx")
    if len(digits) < MIN_MASKED_DIGITS:
        return raw
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return mask_number(digits)


def _chinese_number(match: re.Match[str]) -> str:
    digits = "".join(_CHINESE_VALUE[ch] for ch in match.group(0) if ch in _CHINESE_VALUE)
    if len(digits) == 18 or len(digits) == 15:
        return ID_REMOVED
    return mask_number(digits)


def _url(match: re.Match[str]) -> str:
    return match.group(1) + ("/…" if match.group(2) and len(match.group(2)) > 1 else "")


def redact(text: str) -> str:
    """``text`` as a supervisor may see it (and as training data may keep it)."""
    text = unicodedata.normalize("NFKC", text)  # full-width digits and letters
    text = _URL.sub(_url, text)
    text = _EMAIL.sub(lambda m: "***@" + m.group(0).split("@", 1)[1], text)
    text = _WXID.sub(lambda m: mask(m.group(0)), text)
    text = _WECHAT.sub(lambda m: m.group(1) + m.group(2) + mask(m.group(3)), text)
    text = _DIGIT_RUN.sub(_number, text)
    return _CHINESE_RUN.sub(_chinese_number, text)


_NOT_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"[\d*]+")


def text_key(redacted: str) -> str:
    """The same key for texts that differ only in case, spacing, punctuation or numbers:
    they are shown, reviewed and exported once."""
    folded = unicodedata.normalize("NFKC", redacted).casefold()
    return _DIGITS.sub("0", _NOT_WORD.sub("", folded.replace("*", "0")))
