"""What a report shares with others: link keys, and how often a number or link was reported.

A report's keys: the suspects' phone numbers (``suspect_phones`` and numbers in its
text), links (in its text and decoded from the QR photos checked with it), the name of
the "team" or company the visitors claimed to be, vehicle plates, and its township.
Two reports sharing a key within 72 hours are linked (``reporting/incidents.py``).

Privacy: a suspect's number is not the reporter's, and the police can read it in the
report anyway, but it is still a person's number (often a borrowed or bought one), and
a link's query string can carry a victim's number or token. So phone, link and plate
keys are stored the way contacts are: a keyed hash (``Vault.hash``) to match on, and a
masked form (or the bare host of a link) for the officer's screen. A team name or a
township names no one and is kept as normalised text. ``lookup`` answers villagers
with counts only: how many reports and villages, never who reported or what they said.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from storage.clock import now_iso as now
from storage.privacy import Vault

KINDS = ("phone", "url", "org", "plate", "township", "message")
# Kinds whose key is a keyed hash (see the module docstring).
HASHED = ("phone", "url", "plate")
WINDOW = dt.timedelta(hours=72)
# Reports the police found to be nothing do not count when a villager asks.
NOT_COUNTED = ("withdrawn", "false_alarm")

_SEP = r"[\s\-]?"
_MOBILE = re.compile(rf"(?<![\d.])(?:\+?86{_SEP})?(1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}})(?!\d)")
_LANDLINE = re.compile(rf"(?<![\d.])(0\d{{2,3}}{_SEP}\d{{7,8}})(?!\d)")
_SERVICE = re.compile(rf"(?<![\d.])((?:400|800){_SEP}\d{{3}}{_SEP}\d{{4}})(?!\d)")
# Numbers FACTS.md vouches for: answered as official, never used to link reports.
OFFICIAL = ("110", "96110", "12393", "12381")
_OFFICIAL = re.compile(r"(?<![\d.])((?:0\d{2,3}-?)?96110|12393|12381|110)(?![\d.])")
_TLDS = (
    "com|cn|net|org|top|xyz|vip|site|info|cc|me|io|shop|club|online|ltd|link|app|wang|icu"
    "|tk|ml|fun|pro|live|store|tech|work|ren|asia|biz"
)
_URL = re.compile(
    rf"(?i)(?:https?://)?(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})\b"
    r"(?::\d{1,5})?(?:/[\w\-./?=&%#~+:@!]*)?"
)
# Hosts shared by everyone (link shorteners, big platforms, government sites): a
# link there is identified by its path, not by the host alone.
SHARED_HOSTS = (
    "t.cn",
    "dwz.cn",
    "url.cn",
    "suo.im",
    "qq.com",
    "weixin.qq.com",
    "mp.weixin.qq.com",
    "baidu.com",
    "douyin.com",
    "kuaishou.com",
    "alipay.com",
    "taobao.com",
    "jd.com",
    "163.com",
    "gov.cn",
)
# "...医保服务队", "XX公司": the name the visitors gave themselves.
_ORG = re.compile(
    r"[\u4e00-\u9fffA-Za-z0-9]{1,14}?(?:服务队|工作组|推广队|工作队|宣传队|服务站|公司)"
)
# Words before the name ("自称是", "来了个"): the name starts after the last of them.
_ORG_LEAD = re.compile(r".*(?:自称|说是|冒充|来自|叫做|名叫|是|个|了|的|叫|群|伙|帮)")
_GENERIC_ORGS = {"移动公司", "联通公司", "电信公司", "保险公司", "快递公司"}
_PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])\s?([A-Z])"
    r"\s?[·•.\-\s]?\s?([A-Z0-9]{5,6})(?![A-Z0-9])"
)
QR_NOTE = "qr"  # report_messages.direction of a QR check (bot/qr/report_hook.py)
# ... and of a judged message or photo text: what it names (links) is the suspects' too.
TEXT_NOTE = "scamcheck"
# The seen-before fingerprint of a judged message (scamcheck/seen.py), written into its
# note by ``message_mark`` and read back by ``keys_of``: two reports about the same
# forwarded message are linked like two reports of the same number. An id, no one's data.
_MESSAGE_MARK = re.compile(r"消息指纹#(\d+)")


def message_mark(message_id: int) -> str:
    return f"消息指纹#{message_id}"


@dataclass(frozen=True)
class Key:
    kind: str
    value: str  # normalised, in clear: hashed before it is stored (kinds in HASHED)
    display: str


@dataclass(frozen=True)
class Count:
    """What a villager may learn about a number or link: counts and months, no more."""

    kind: str  # phone / url
    display: str
    official: str | None  # "96110" etc. when FACTS.md vouches for the number
    reports: int
    villages: int
    first_month: str | None  # "2025-03", Beijing time
    last_month: str | None


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def _digits(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


def mask_number(digits: str) -> str:
    """139****5678; short service numbers (96110) are not personal and stay whole."""
    if len(digits) <= 6:
        return digits
    return digits[:3] + "****" + digits[-4:]


def phone_numbers(text: str) -> list[str]:
    """Mobile, landline and 400/800 numbers in ``text``, as digits, in order, once each."""
    text = _nfkc(text)
    found: list[tuple[int, str]] = []
    for pattern in (_MOBILE, _LANDLINE, _SERVICE):
        found += [(m.start(), _digits(m.group(1))) for m in pattern.finditer(text)]
    return list(dict.fromkeys(d for _pos, d in sorted(found)))


def official_numbers(text: str) -> list[str]:
    """110 / 96110 (or area code + 96110) / 12393 / 12381 named in ``text``."""
    return list(dict.fromkeys(_digits(m.group(1)) for m in _OFFICIAL.finditer(_nfkc(text))))


def official_of(digits: str) -> str | None:
    if digits in OFFICIAL:
        return digits
    if re.fullmatch(r"0\d{2,3}96110", digits):
        return "96110"
    return None


def _shared(host: str) -> bool:
    return any(host == h or host.endswith("." + h) for h in SHARED_HOSTS)


def url_key(url: str) -> tuple[str, str] | None:
    """(key, display) of a link: its host, or host + path on a shared host (t.cn/...).

    Scam sites give each victim their own path, so their host is what links reports; a
    link shortener's host says nothing and its path is the identity."""
    url = _nfkc(url).strip().rstrip(".,;:!?)>]}'\"").split("#")[0]
    url = re.sub(r"(?i)^https?://", "", url)
    host, _, rest = url.partition("/")
    host = host.lower().split(":")[0].removeprefix("www.")
    if "." not in host or "@" in host:
        return None
    if not _shared(host):
        return host, host
    path = rest.rstrip("/")
    if not path:
        return host, host
    return f"{host}/{path}", f"{host}/…"


def urls(text: str) -> list[tuple[str, str]]:
    """(key, display) of every link in ``text``, once each."""
    out: dict[str, str] = {}
    for match in _URL.finditer(_nfkc(text)):
        # "abc@qq.com" is a mail address, not a link.
        if match.start() > 0 and text[match.start() - 1 : match.start()] == "@":
            continue
        keyed = url_key(match.group(0))
        if keyed:
            out.setdefault(*keyed)
    return list(out.items())


def orgs(text: str) -> list[str]:
    names = []
    for match in _ORG.finditer(_nfkc(text)):
        name = _ORG_LEAD.sub("", match.group(0))
        # "打移动公司客服" is advice, not a team: a generic name is no link.
        if len(name) >= 4 and not any(name.endswith(g) for g in _GENERIC_ORGS):
            names.append(name)
    return list(dict.fromkeys(names))


def plates(text: str) -> list[tuple[str, str]]:
    """(plate, masked) of Chinese vehicle plates: 桂R·12345 -> (桂R12345, 桂R·1***5)."""
    out: dict[str, str] = {}
    for m in _PLATE.finditer(_nfkc(text).upper()):
        tail = m.group(3)
        if not any(c.isdigit() for c in tail):
            continue
        plate = m.group(1) + m.group(2) + tail
        out.setdefault(plate, f"{m.group(1)}{m.group(2)}·{tail[0]}***{tail[-1]}")
    return list(out.items())


def report_text(db: sqlite_utils.Database, report: dict[str, Any]) -> str:
    """What a report says about the suspects: first message, answers, decoded QR codes."""
    notes = [
        row[0]
        for row in db.execute(
            "SELECT text FROM report_messages WHERE report_id = ? AND direction IN (?, ?)",
            [report["id"], QR_NOTE, TEXT_NOTE],
        ).fetchall()
    ]
    return "\n".join(t for t in (report.get("summary"), report.get("details"), *notes) if t)


def keys_of(db: sqlite_utils.Database, vault: Vault, report: dict[str, Any]) -> list[Key]:
    """The link keys of a report (the reporter's own number is never one of them)."""
    text = report_text(db, report)
    keys: list[Key] = []
    numbers = phone_numbers(" ".join([report.get("suspect_phones") or "", text]))
    for digits in numbers:
        if official_of(digits):
            continue
        # A victim often gives their own number ("我的号码...被拿去注册"): that is not a
        # suspect's and must not tie the victim's reports to strangers'.
        if report.get("contact_hash") and vault.hash(digits) == report["contact_hash"]:
            continue
        keys.append(Key("phone", digits, mask_number(digits)))
    keys += [Key("url", key, display) for key, display in urls(text)]
    keys += [Key("org", name, name) for name in orgs(text)]
    keys += [Key("plate", plate, masked) for plate, masked in plates(text)]
    keys += [
        Key("message", mid, "同一条转发消息") for mid in dict.fromkeys(_MESSAGE_MARK.findall(text))
    ]
    if report.get("township") and report.get("county"):
        keys.append(Key("township", f"{report['county']}/{report['township']}", report["township"]))
    return keys


def stored_key(vault: Vault, kind: str, value: str) -> str:
    # The kind is part of what is hashed: the same digits as a suspect's number here and
    # a subscriber's contact elsewhere must not be joinable across tables.
    return vault.hash(f"{kind}:{value}") if kind in HASHED else value


def epoch(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp())


def store(db: sqlite_utils.Database, vault: Vault, report: dict[str, Any], keys: list[Key]) -> int:
    """Insert the report's keys (again is harmless); no transaction of its own, so the
    caller can link and cluster in one. Returns how many were new."""
    at = epoch(report["created_at"])
    stamp = now()
    new = 0
    for key in keys:
        cursor = db.execute(
            "INSERT INTO report_links (report_id, kind, key, display, at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [report["id"], key.kind, stored_key(vault, key.kind, key.value)]
            + [key.display, at, stamp],
        )
        new += cursor.rowcount
    return new


def neighbours(db: sqlite_utils.Database, report_id: int) -> set[int]:
    """Reports sharing a key with this one within 72 hours of it (index: kind, key, at)."""
    window = int(WINDOW.total_seconds())
    rows = db.execute(
        "SELECT DISTINCT o.report_id FROM report_links m JOIN report_links o"
        " ON o.kind = m.kind AND o.key = m.key AND o.at BETWEEN m.at - ? AND m.at + ?"
        " WHERE m.report_id = ? AND o.report_id != m.report_id",
        [window, window, report_id],
    ).fetchall()
    return {r[0] for r in rows}


def shared_keys(db: sqlite_utils.Database, report_ids: list[int]) -> list[dict[str, Any]]:
    """Keys held by two or more of these reports, for the officer (display is masked)."""
    rows = db.execute(
        "SELECT kind, min(display) AS display, count(DISTINCT report_id) AS reports"
        " FROM report_links WHERE report_id IN (SELECT value FROM json_each(?))"
        " GROUP BY kind, key HAVING count(DISTINCT report_id) >= 2"
        " ORDER BY reports DESC, kind, display",
        ["[" + ",".join(str(int(i)) for i in report_ids) + "]"],
    ).fetchall()
    return [{"kind": r[0], "display": r[1], "reports": r[2]} for r in rows]


def _month(iso: str | None) -> str | None:
    if not iso:
        return None
    beijing = dt.datetime.fromisoformat(iso).astimezone(dt.timezone(dt.timedelta(hours=8)))
    return beijing.strftime("%Y-%m")


def count(
    db: sqlite_utils.Database, vault: Vault, kind: str, value: str
) -> tuple[int, int, str | None, str | None]:
    """(reports, villages, first month, last month) for one key. Nothing else leaves."""
    row = db.execute(
        "SELECT count(DISTINCT l.report_id),"
        " count(DISTINCT r.county || '/' || r.township || '/' || r.village),"
        " min(r.created_at), max(r.created_at)"
        " FROM report_links l JOIN reports r ON r.id = l.report_id"
        " WHERE l.kind = ? AND l.key = ? AND r.status NOT IN (?, ?)",
        [kind, stored_key(vault, kind, value), *NOT_COUNTED],
    ).fetchone()
    return row[0], row[1], _month(row[2]), _month(row[3])


def lookup(db: sqlite_utils.Database, vault: Vault, text: str, limit: int = 2) -> list[Count]:
    """Counts for the numbers and links in a villager's message (at most ``limit``)."""
    results: list[Count] = []
    for digits in official_numbers(text):
        results.append(Count("phone", digits, official_of(digits), 0, 0, None, None))
    for digits in phone_numbers(text):
        if official_of(digits):
            continue
        counted = count(db, vault, "phone", digits)
        results.append(Count("phone", mask_number(digits), None, *counted))
    for key, display in urls(text):
        results.append(Count("url", display, None, *count(db, vault, "url", key)))
    return results[:limit]


# "查一下 139...", "帮我查查这个号码：139...": a request that says nothing but "look up".
_ASK_PREFIX = re.compile(
    r"^(?:帮我|帮忙|请|麻烦)?(?:查询|查查|查|核实|看看)(?:一下|下)?"
    r"(?:这个|这个的)?(?:号码|电话|手机号|链接|网址|网站)?[\s:：,，]*"
)


def is_lookup_only(text: str) -> bool:
    """True when the message is one phone number or one link, alone or after a bare
    "查一下"."""
    text = _ASK_PREFIX.sub("", _nfkc(text).strip()).strip()
    if not text or len(text) > 300:
        return False
    if re.fullmatch(r"[\d\s\-+()]+", text):
        digits = _digits(text)
        return bool(official_of(digits) and len(digits) >= 5) or phone_numbers(text) == [digits]
    match = _URL.fullmatch(text)
    return bool(match) and bool(url_key(text))
