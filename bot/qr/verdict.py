"""Judge what a QR code says, from its text alone: the decoded URL is never opened.

Kinds, from the most to the least alarming (a photo with several codes gets the worst):
payment, registration, shortener, bare_ip, unknown_site, text, official. A photo can
also be: no_qr (none found), not_image, unavailable (could not be fetched).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from weburl import parse_link, under

SEVERITY = ["payment", "registration", "shortener", "bare_ip", "unknown_site", "text", "official"]

DEFAULT_OFFICIAL = ("nhsa.gov.cn", "gov.cn")
# Official hotline numbers a code may dial: 12393 medical insurance, 110, 96110, 12381.
OFFICIAL_NUMBERS = {"12393", "110", "96110", "12381"}
SHORTENERS = frozenset(
    {
        "t.cn", "url.cn", "w.url.cn", "dwz.cn", "suo.im", "kurl.cn", "mrw.so", "tb.cn",
        "bit.ly", "tinyurl.com", "goo.gl", "is.gd", "v.gd", "ow.ly", "t.co", "cutt.ly",
        "rebrand.ly", "u.nu", "0x3.me", "dlj.bz", "sina.lt", "dwz.date",
    }
)  # fmt: skip
PAYMENT_SCHEMES = ("wxp:", "weixin://wxpay", "alipay:", "alipays:", "alipayqr:", "upwallet:")
PAYMENT_HOSTS = ("qr.alipay.com", "alipay.com", "tenpay.com", "qr.95516.com", "unionpay.com")
_PAY = re.compile(r"pay|shoukuan|收款|付款|支付")
_REGISTER = re.compile(
    r"regist|signup|sign[-_]up|zhuce|/reg\b|/reg/|invite|yaoqing|activat|jihuo|kaitong|"
    r"openaccount|bind|注册|激活|开通|开户|绑定|邀请"
)
_BARE_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?(/|$)", re.I)


@dataclass
class QrVerdict:
    kind: str
    content: str | None = None  # the decoded text judged (the worst, when several)
    host: str | None = None
    codes: list[str] = field(default_factory=list)
    # What the photo's other analysers read (bot/qr/decode.ANALYSERS: "text" is the
    # OCR reading); not part of the QR check a report keeps.
    extras: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def as_attachment(self) -> dict[str, Any]:
        """What a report keeps of the check (the decoded text, never fetched)."""
        # Not asdict: it would deep-copy the extras (a late OCR reading holds a future).
        kept = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extras"}
        return {"qr_" + k: list(v) if isinstance(v, list) else v for k, v in kept.items()}


def judge(content: str, official: Iterable[str] = DEFAULT_OFFICIAL) -> QrVerdict:
    """The verdict on one decoded QR text."""
    text = content.strip()
    lower = text.lower()
    official = tuple(d.strip().lower() for d in official if d.strip())
    if lower.startswith(PAYMENT_SCHEMES):
        return QrVerdict("payment", text, None, [text])
    if lower.startswith("tel:"):
        number = re.sub(r"\D", "", lower[4:])
        kind = "official" if number in OFFICIAL_NUMBERS else "text"
        return QrVerdict(kind, text, None, [text])
    if "://" not in lower and _BARE_DOMAIN.match(lower):
        lower = "http://" + lower  # "t.cn/abc" printed without a scheme is still a link
    if not re.match(r"^[a-z][a-z0-9+.-]*://", lower):
        return QrVerdict("text", text, None, [text])
    # The host a browser would go to (WHATWG parsing), not what urlsplit reads.
    link = parse_link(lower)
    if link is None:
        return QrVerdict("unknown_site", text, None, [text])
    host = link.host
    rest = link.path + link.query + link.fragment
    if link.scheme not in ("http", "https"):
        kind = "payment" if _PAY.search(lower) else "unknown_site"
        return QrVerdict(kind, text, host or None, [text])
    if link.is_ip or _is_ip(host):
        return QrVerdict("bare_ip", text, host, [text])
    if under(host, SHORTENERS):
        return QrVerdict("shortener", text, host, [text])
    # Official only when nothing about the text could mislead (backslashes, userinfo,
    # look-alike letters, odd ports): otherwise judged as any other site.
    if under(host, official) and not link.ambiguous:
        return QrVerdict("official", text, host, [text])
    if under(host, PAYMENT_HOSTS) or _PAY.search(host) or _PAY.search(rest):
        return QrVerdict("payment", text, host, [text])
    if _REGISTER.search(rest) or _REGISTER.search(host):
        return QrVerdict("registration", text, host, [text])
    return QrVerdict("unknown_site", text, host, [text])


def _is_ip(host: str) -> bool:
    if host.isdigit() or re.fullmatch(r"0x[0-9a-f]+", host):
        return True  # http://3232235777 is 192.168.1.1 spelled as one number
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def judge_all(codes: list[str], official: Iterable[str] = DEFAULT_OFFICIAL) -> QrVerdict:
    """The verdict on a photo: the worst of its codes, or no_qr."""
    if not codes:
        return QrVerdict("no_qr")
    verdicts = [judge(c, official) for c in codes]
    worst = min(verdicts, key=lambda v: SEVERITY.index(v.kind))
    worst.codes = list(codes)
    return worst
