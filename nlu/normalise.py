"""One spelling for what villagers write many ways, before the model sees it.

The same ``normalise`` runs on every training example (inside the classifier component)
and on every message at parse time (``ArchiveParser.parse``, ``RasaParser.parse``): a model only
ever sees normalised text, and the entity offsets a caller gets index ``Parse.text``, the
normalised message.

- traditional characters -> simplified (zhconv's character table, not its regional
  vocabulary: 信息 stays 信息);
- full-width ASCII (１３８, ＡＢＣ, ！) -> half-width, ideographic space -> space;
- phone numbers written in groups (138 1234 5678, 138-1234-5678, 0571-8888 1234,
  +86 138…, 400-800-1234) joined into one run of digits;
- phone numbers said in Chinese numerals (幺三九一二三四五六七八) -> digits;
- runs of the same punctuation (！！！, ？？, 。。。) -> one; whitespace tidied;
- leading slashes dropped: "/intent{...}" is Rasa's way to force an intent and inject
  entities (RegexMessageHandler), which no villager means and no sender may use.
"""

from __future__ import annotations

import re
from functools import lru_cache

import zhconv

# Full-width ASCII block U+FF01..U+FF5E maps onto U+0021..U+007E.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = 0x20  # ideographic space
# Dashes villagers (and phone keyboards) put between digit groups.
_DASHES = {ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"}

_CN_DIGITS = {
    "零": "0",
    "〇": "0",
    "洞": "0",  # radio-style "zero", as some read numbers out
    "幺": "1",
    "一": "1",
    "壹": "1",
    "二": "2",
    "两": "2",
    "贰": "2",
    "三": "3",
    "叁": "3",
    "四": "4",
    "肆": "4",
    "五": "5",
    "伍": "5",
    "六": "6",
    "陆": "6",
    "七": "7",
    "柒": "7",
    "八": "8",
    "捌": "8",
    "九": "9",
    "玖": "9",
}
_CN_DIGIT_CLASS = "".join(_CN_DIGITS)
# A number read out digit by digit: seven or more numeral characters (or digits), maybe
# with spaces or dashes between groups. Seven keeps words such as 一二三 or 三五个 apart.
_CN_NUMBER = re.compile(rf"[{_CN_DIGIT_CLASS}0-9](?:[ \-]?[{_CN_DIGIT_CLASS}0-9]){{6,}}")
_HAS_CN_DIGIT = re.compile(rf"[{_CN_DIGIT_CLASS}]")

# Digit groups separated by single spaces, dashes or dots, optionally after +86 / 0086.
_GROUPED = re.compile(r"(?<![\d.])(?:(?:\+|00)?86[ \-]?)?\d+(?:[ \-.]\d+)+(?![\d])")
_PREFIX = re.compile(r"^(?:\+|00)?86")
# What a joined run must look like to count as a phone number (dates, prices and
# amounts such as 2024-01-15 or 1 200 stay as written).
_PHONE_SHAPE = re.compile(
    r"1[3-9]\d{9}"  # mobile
    r"|0\d{9,11}"  # landline with area code (010 + 8, 0571 + 7/8)
    r"|[48]00\d{7}"  # 400 / 800 service numbers
    r"|9\d{4}"  # 95xxx / 96110-style short service numbers written 96-110
)
_SPACE = re.compile(r"\s+")
# Repeated identical punctuation (ASCII after the full-width fold, plus CJK marks).
_REPEATED_PUNCT = re.compile(r"([!?.,;:~。，、！？…·\-])\1+")


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """The form the model is trained and run on (idempotent: normalise(normalise(x)) ==
    normalise(x))."""
    text = zhconv.convert(text, "zh-hans")
    text = text.translate(_FULL_WIDTH).translate(_DASHES)
    text = _SPACE.sub(" ", text).strip().lstrip("/").lstrip()
    text = _CN_NUMBER.sub(_cn_number, text)
    text = _GROUPED.sub(_join_phone, text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    return text


def _cn_number(match: re.Match[str]) -> str:
    run = match.group(0)
    if not _HAS_CN_DIGIT.search(run):
        return run  # plain digits: the grouped-digit rule decides
    digits = "".join(_CN_DIGITS.get(c, c) for c in run if c not in " -")
    # Only phone-shaped runs: 一一一一一一一 in a sentence is not a number to rewrite.
    return digits if _PHONE_SHAPE.fullmatch(_PREFIX.sub("", digits)) else run


def _join_phone(match: re.Match[str]) -> str:
    run = match.group(0)
    prefix = ""
    head = _PREFIX.match(run)
    body = run
    if head and len(re.sub(r"\D", "", run)) > 11:
        prefix, body = "+86", run[head.end() :]
    digits = re.sub(r"[ \-.]", "", body)
    return prefix + digits if _PHONE_SHAPE.fullmatch(digits) else run
