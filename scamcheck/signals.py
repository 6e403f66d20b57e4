"""Scam signals in a text a villager pasted or photographed, and the verdict on it.

One analyser for typed, pasted and OCR text alike. Pure: no I/O, no database, no clock.

Three verdicts, as Singapore's ScamShield gives them:

- ``scam``: a request no real body makes (a verification code, a face scan for a
  stranger, screen sharing, money to a "safe account", an app from a link, a WeChat/QQ
  to add), a link that hides or fakes where it goes (shortener, look-alike domain, bare
  IP address), a spoof of our own 【村村反诈】 format, or two weaker signs together
  (an unknown link, a claim to be 医保局/公安/a bank, urgency, gifts).
- ``official``: only from an allow-list, and only with no scam signal at all: our own
  format carrying the recipient's own 尾号, or links that all go to government domains.
  The bureau's registered codes are the third allow-list entry, but checking them needs
  the registry: ``judge`` returns the codes and the caller checks them (see
  scamcheck/replies.py).
- ``unsure``: everything else (a bank debit notice, a carrier notice, a real
  verification-code SMS, a 12381 warning: we cannot see who sent it).

Words a real warning uses to describe a scam ("凡是要验证码的都是诈骗", "切勿刷脸")
are not requests: a sign preceded by a negation, or followed by "是诈骗", is skipped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import weburl
from registry.activities import find_codes, find_work_ids

Verdict = Literal["scam", "unsure", "official"]

KINDS = (
    "link", "shortener", "lookalike_domain", "bare_ip", "code_request", "face_scan",
    "impersonation", "urgency", "gift", "add_contact", "download_app", "screen_share",
    "money_request", "money_gone",
)  # fmt: skip
# Any one of these makes a message a scam: no real body asks for them.
STRONG = frozenset(
    {
        "shortener", "lookalike_domain", "bare_ip", "code_request", "face_scan",
        "add_contact", "download_app", "screen_share", "money_request",
    }
)  # fmt: skip
# Two different ones of these together make a scam.
WEAK = frozenset({"link", "impersonation", "urgency", "gift"})

OFFICIAL_DOMAINS = ("gov.cn",)
# Real domains of the banks, carriers and platforms whose names scammers borrow: a link
# to one is not a scam sign (and not official either: we cannot see who sent it).
BRAND_DOMAINS = (
    "icbc.com.cn", "ccb.com", "abchina.com", "boc.cn", "bankcomm.com", "cmbchina.com",
    "psbc.com", "95599.cn", "10086.cn", "chinamobile.com", "10010.com", "chinaunicom.com",
    "189.cn", "chinatelecom.com.cn", "alipay.com", "qq.com", "weixin.qq.com", "tenpay.com",
    "95516.com", "unionpay.com", "12306.cn",
)  # fmt: skip
# Names in a host that claim an official body or a brand (nhsa-gov.top, icbc-vip.cc).
BRAND_TOKENS = (
    "gov", "nhsa", "yibao", "ybj", "ybzx", "shebao", "12333", "12393", "mohrss", "gongan",
    "police", "icbc", "ccb", "abchina", "boc", "cmb", "psbc", "95588", "10086", "10010",
    "chinamobile", "unicom", "telecom", "alipay", "weixin", "wechat", "tenpay", "unionpay",
    "95516", "12306", "12123",
)  # fmt: skip
SHORTENERS = frozenset(
    {
        "t.cn", "url.cn", "w.url.cn", "dwz.cn", "suo.im", "kurl.cn", "mrw.so", "tb.cn",
        "bit.ly", "tinyurl.com", "goo.gl", "is.gd", "v.gd", "ow.ly", "t.co", "cutt.ly",
        "rebrand.ly", "u.nu", "0x3.me", "dlj.bz", "sina.lt", "dwz.date", "985.so", "c.tb.cn",
        "s.click.taobao.com", "u.jd.com", "m.tb.cn", "3.cn", "z.cn", "x.co",
    }
)  # fmt: skip
# Numbers a real message may give: police, the anti-fraud line, the medical-insurance
# hotline, the MIIT warning sender, the government service hotline.
OFFICIAL_NUMBERS = frozenset({"110", "96110", "12393", "12381", "12345", "120", "119", "12333"})

# Characters villagers in Guangxi and Hong Kong/Taiwan-set phones write in traditional
# form, limited to the words this module looks for (a full converter is not needed to
# find 驗證碼 or 醫保局).
_TRADITIONAL = str.maketrans(
    "醫療險驗證碼認識別臉掃領補貼禮動億凍結過陽銷號務員請點擊鏈接載裝聯繫係電話"
    "帳賬戶轉匯費錢額們個為這時將於國會辦衛員門廳稅徵屬審購獎歡迎復對開啟關閉"
    "測試處罰機構單據發現營運統雲閃詐騙團隊證件紅頭檔陸續頁網絡遠協幫實簡體裡"
    "讓給發郵寶貝喪資產權愛護獲連續達標準備註冊碼傳輸監專線諮詢熱線區縣鄉鎮村",
    "医疗险验证码认识别脸扫领补贴礼动亿冻结过阳销号务员请点击链接载装联系系电话"
    "帐账户转汇费钱额们个为这时将于国会办卫员门厅税征属审购奖欢迎复对开启关闭"
    "测试处罚机构单据发现营运统云闪诈骗团队证件红头档陆续页网络远协帮实简体里"
    "让给发邮宝贝丧资产权爱护获连续达标准备注册码传输监专线咨询热线区县乡镇村",
)

_NEGATION = re.compile(
    r"(冒充|假冒|假扮|不|勿|别|莫|禁止|严禁|切勿|谨防|警惕|防止|提防|绝不|从不|决不|凡是|凡|任何人)"
)
_SCAM_WORD = r"(诈骗|骗子|骗局|骗号|骗钱|假的|套路|陷阱|违法)"
_CALLED_SCAM = re.compile(
    rf"^[^？?]{{0,20}}(是|都是|均为|就是|一律是|属于|可能是|小心|当心){_SCAM_WORD}"
)
_WARNING = re.compile(rf"{_SCAM_WORD}|反诈|谨防|警惕|切勿|提防|都别|别信|不要信")
_QUESTION = re.compile(r"[？?]|吗|是不是|真的假的|真假|能不能|可不可以|怎么办")

# A link: with a scheme, www., a bare IP, or a bare domain with a common ending.
_TLDS = (
    "com|cn|net|org|top|xyz|vip|cc|me|ly|co|info|site|shop|club|io|app|link|ink|icu|work|"
    "wang|ren|so|im|date|bz|lt|gl|tk|ml|ga|cf|gq|pw|live|online|store|tech|fun|asia|hk|tw"
)
# Characters a URL can hold once past its host (ASCII only: OCR drops the space between
# a link and the Chinese after it, "http://x.top/a重新认证").
_URL_TAIL = r"[A-Za-z0-9\-._~:/?#@!$&*+;=%]*"
_LINK = re.compile(
    rf"(?:https?://|www\.)[A-Za-z0-9\-._~:@\[\]]+(?:/{_URL_TAIL})?"
    rf"|(?<![\w.@])(?:\d{{1,3}}\.){{3}}\d{{1,3}}(?::\d+)?(?:/{_URL_TAIL})?"
    rf"|(?<![A-Za-z0-9.@/\-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})(?![a-z0-9])"
    rf"(?::\d+)?(?:/{_URL_TAIL})?",
    re.I,
)
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<![\d-])(0\d{2,3})[\s-]?(\d{7,8})(?![\d-])")
_SERVICE = re.compile(r"(?<!\d)([48]00)[\s-]?(\d{3})[\s-]?(\d{4})(?!\d)")

_PATTERNS: dict[str, re.Pattern[str]] = {
    "code_request": re.compile(
        r"(要|索要|索取|问我要|提供|告诉|告知|发给|发送给|报给|报一下|报出|念|回复|转发|填写|填入|输入|说出|给我|给他|给工作人员)"
        r"[^，。！？\n]{0,8}(验[证正政]码|校验码|动态码|短信码|确认码|激活码|授权码短信)"
        r"|(验[证正政]码|动态码|短信码)[^，。！？\n]{0,8}(发给|告诉|报给|提供给|回复给|给我|给工作人员|念给)"
        # the code, then in the next clause who to hand it to: "验证码是384920，请提供给工作人员"
        r"|(验[证正政]码|动态码|短信码)(?:(?![不别勿莫])[^。！？\n]){0,14}"
        r"(提供给|告诉|报给|交给|发给|念给|转告)"
        r"(工作人员|我们|客服|专员|他|她|对方|上门)"
    ),
    "face_scan": re.compile(
        r"刷脸|刷个脸|人脸识别|人脸认证|人脸验证|面部识别|眨眨?眼|张张?嘴|摇摇?头|视频认证|录一段视频"
    ),
    "screen_share": re.compile(
        r"屏幕共享|共享屏幕|共享桌面|远程协助|远程控制|向日葵|todesk|腾讯会议|视频会议", re.I
    ),
    "money_request": re.compile(
        r"安全账户|转账|汇款|转入[^，。]{0,6}账户|保证金|手续费|解冻费|激活费|工本费|押金|打款|先交|"
        r"缴纳[^，。]{0,6}费|刷流水|垫付"
    ),
    "download_app": re.compile(
        r"(下载|安装|更新)[^，。！？\n]{0,10}(app|软件|客户端|应用|安装包|apk)|\.apk\b", re.I
    ),
    "add_contact": re.compile(
        r"加[^，。！？\n]{0,4}(微信|企业微信|qq|好友|群)|微信号|qq号|qq群|进群|入群|扫码进群|"
        r"联系(在线)?客服|添加客服",
        re.I,
    ),
    "gift": re.compile(
        r"礼品|礼物|赠品|免费领|免费送|领取|送鸡蛋|鸡蛋|大米|食用油|洗衣液|洗衣粉|纸巾|补贴|补助金|红包|"
        r"返现|返利|中奖|奖励金|福利|抽奖"
    ),
    "urgency": re.compile(
        r"停用|冻结|过期|逾期|作废|注销|失效|暂停|停机|停保|封号|封停|立即|马上|尽快|"
        r"今[日天]内|\d+\s*小时内|限时|最后一天|否则|影响[^，。]{0,4}(报销|使用|待遇)|将被"
    ),
}
_CALL_BACK = re.compile(r"拨打|致电|联系|回电|咨询|电话|热线|专线|客服|手机|微信|qq|:|：", re.I)
_GOV_CLAIM = re.compile(
    r"医保局|医疗保障局|医保中心|医保部门|国家医保|医保服务中心|社保局|社保中心|人社局|人力资源和社会保障|"
    r"公安局|派出所|公安|警察|民警|刑警|检察院|法院|卫健委|税务局|市场监管"
)
_BRAND_CLAIM = re.compile(
    r"银行|信用卡中心|中国移动|中国联通|中国电信|运营商|营业厅|支付宝|微信支付|财付通|云闪付|银联|客服"
)
_MONEY_GONE = re.compile(
    r"被骗|骗走|钱没了|钱被转|被转走|被扣了|被盗刷|盗刷|"
    r"(我|已经|已|刚才|刚刚)[^，。！？\n]{0,6}(转|付|汇|打|给)了[^，。！？\n]{0,10}(钱|元|块|万)|"
    r"(支出|转出|扣款|扣费|消费|支付|付款|取现)(人民币|金额)?\s*[¥￥]?\d+(\.\d+)?\s*元"
)

# A signature opens (or closes) a line: a screenshot has the clock and sender above it.
_SIGNATURE = re.compile(r"^\s*[【\[]([^】\]]{2,12})[】\]]|[【\[]([^】\]]{2,12})[】\]]\s*$", re.M)
CODE_TEMPLATE = re.compile(r"(验证码|校验码|动态码)\s*(为|是|:)?\s*\d{4,8}")
_DEBIT = re.compile(
    r"尾号\s*\d{4}\s*的?[^，。]{0,6}(账户|卡|信用卡)|(支出|扣款|转出|消费|入账)(人民币)?\s*\d"
)
_CARRIER = re.compile(r"尊敬的[^，。]{0,6}(客户|用户)|话费|套餐|流量")
_OPT_OUT = re.compile(r"回T退订|退订回T|拒收请回复R|回复T退订|回TD退订", re.I)
OUR_SIGNATURE = "村村反诈"
_OUR_TAIL = re.compile(r"[（(]\s*尾号\s*(\d{3})\s*[）)]")


@dataclass(frozen=True)
class Signal:
    kind: str
    evidence: str  # the words found (phone numbers masked)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    signals: tuple[Signal, ...]
    links: tuple[str, ...]
    phones: tuple[str, ...]  # digits only; callers hash them (storage/privacy.py) to look up
    codes: tuple[str, ...]  # authorisation codes (YB-…) then work IDs, for the registry check
    pasted: bool  # reads like a forwarded SMS rather than the villager's own words

    def kinds(self) -> set[str]:
        return {s.kind for s in self.signals}


_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits), traditional → simplified for the words we
    look for, zero-width characters and OCR line breaks inside words removed."""
    text = unicodedata.normalize("NFKC", text or "").translate(_TRADITIONAL)
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    # A line a screen or a letter wrapped (OCR gives one line per visual line) is one
    # sentence: rejoin across CJK characters and punctuation, never before a signature.
    text = re.sub(
        rf"(?<=[{_CJK}])[ \t]*\n[ \t]*(?=[^\s【\[])|(?<=\S)[ \t]*\n[ \t]*(?![【\[])(?=[{_CJK}])",
        "",
        text,
    )
    # A link the phone (or OCR) broke over two lines: "http://nhsa-" + "gov.top/a".
    return re.sub(r"(?<=[A-Za-z0-9\-./_?=&%#:])[ \t]*\n[ \t]*(?=[A-Za-z0-9\-./_?=&%#])", "", text)


def mask_phone(number: str) -> str:
    """138****5678; short numbers are shown as they are (they are service numbers)."""
    if len(number) >= 11:
        return number[:3] + "****" + number[-4:]
    if len(number) >= 7:
        return number[:3] + "*" * (len(number) - 5) + number[-2:]
    return number


def _affirmed(text: str, start: int, end: int) -> bool:
    """The sign at text[start:end] is asked for, not warned against."""
    before = re.split(r"[，。！？；\n,.!?;]", text[max(0, start - 10) : start])[-1]
    if _NEGATION.search(before):
        return False
    return not _CALLED_SCAM.match(text[end : end + 20])


def _phones(text: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for pattern in (_MOBILE, _SERVICE, _LANDLINE):
        for m in pattern.finditer(text):
            digits = "".join(m.groups())
            if digits not in (p for p, _ in found):
                found.append((digits, m.start()))
    return found


def _links(text: str) -> list[str]:
    out: list[str] = []
    for m in _LINK.finditer(text):
        link = m.group(0).rstrip(".,:;!?")
        before = text[max(0, m.start() - 1) : m.start()]
        if before == "@" or link.lower() in out:
            continue  # an e-mail address, not a link
        out.append(link)
    return out


def absolute(link: str) -> str:
    """``link`` with a scheme ("t.cn/abc" printed without one is still a link)."""
    return link if re.match(r"^[a-z][a-z0-9+.-]*://", link, re.I) else "http://" + link


# Ways a printed link misleads about where it goes (weburl's reasons), shown as a
# look-alike: the text reads like one site, a browser goes to another.
_MISLEADING = frozenset(
    {
        "userinfo", "punycode_host", "non_ascii_host", "parsers_disagree",
        "rewritten_characters", "percent_encoded_host", "control_characters",
    }
)  # fmt: skip


def _link_signal(link: str) -> Signal | None:
    parsed = weburl.parse_link(absolute(link))
    if parsed is None or not parsed.host:
        return Signal("link", link[:40])
    host = parsed.host
    if parsed.is_ip:
        return Signal("bare_ip", host.strip("[]"))
    if weburl.under(host, SHORTENERS):
        return Signal("shortener", host)
    if set(parsed.suspicious) & _MISLEADING:
        return Signal("lookalike_domain", host)
    if weburl.host_is_under(absolute(link), OFFICIAL_DOMAINS + BRAND_DOMAINS):
        return None
    if any(token in host for token in BRAND_TOKENS):
        return Signal("lookalike_domain", host)
    return Signal("link", host)


def official_link(link: str) -> bool:
    """A browser would go to a government site, and the text reads unambiguously."""
    return weburl.host_is_under(absolute(link), OFFICIAL_DOMAINS)


def _pasted(text: str, links: list[str]) -> bool:
    return bool(
        links
        or _SIGNATURE.search(text)
        or CODE_TEMPLATE.search(text)
        or _DEBIT.search(text)
        or _CARRIER.search(text)
        or _OPT_OUT.search(text)
    )


def looks_pasted(text: str) -> bool:
    """``judge(text).pasted`` without the rest of the judgement: asked of every message
    outside a form, and most are the villager's own words (nothing more to judge)."""
    norm = normalise(text)
    return _pasted(norm, _links(norm))


def _ours(text: str) -> bool:
    sig = _SIGNATURE.search(text)
    return bool(sig and OUR_SIGNATURE in (sig.group(1) or sig.group(2) or ""))


def judge(text: str, *, recipient_tail: str | None = None) -> Judgement:
    """The verdict on ``text``. ``recipient_tail``: the last 3 digits of the number of
    the villager asking (known on SMS; None on WeChat/web chat), to check our own format."""
    norm = normalise(text)
    lower = norm.lower()
    signals: list[Signal] = []

    def add(kind: str, evidence: str) -> None:
        if all(s.kind != kind or s.evidence != evidence for s in signals):
            signals.append(Signal(kind, evidence))

    links = _links(norm)
    for link in links:
        sig = _link_signal(link)
        if sig:
            add(sig.kind, sig.evidence)
    # Digits inside a link are not phone numbers.
    no_links = _LINK.sub(" ", norm)
    phone_hits = [(p, at) for p, at in _phones(no_links) if p not in OFFICIAL_NUMBERS]
    phones = [p for p, _ in phone_hits]

    for kind, pattern in _PATTERNS.items():
        for m in pattern.finditer(lower):
            if _affirmed(lower, m.start(), m.end()):
                add(kind, m.group(0).strip())
                break
    # A number to call back that is not an official hotline: the gang's own line.
    for number, at in phone_hits:
        if _CALL_BACK.search(no_links[max(0, at - 12) : at]) and _affirmed(no_links, at, at):
            add("add_contact", mask_phone(number))
            break

    gov = [m for m in _GOV_CLAIM.finditer(norm) if _affirmed(norm, m.start(), m.end())]
    if gov:
        add("impersonation", gov[0].group(0))
    brand = _BRAND_CLAIM.search(norm)
    if brand and (links or phones or STRONG & {s.kind for s in signals}):
        add("impersonation", brand.group(0))

    ours = _ours(norm)
    tail = _OUR_TAIL.search(norm)
    if ours:
        # We never send links or numbers to call, and the 尾号 is the recipient's own.
        if links or phones:
            add("impersonation", OUR_SIGNATURE)
        if tail and recipient_tail and tail.group(1) != recipient_tail[-3:]:
            add("impersonation", f"{OUR_SIGNATURE}（尾号{tail.group(1)}）")

    gone = _MONEY_GONE.search(norm)
    if gone and _affirmed(norm, gone.start(), gone.end()):
        add("money_gone", gone.group(0))

    # A signed warning (12381, the police, our own tips) describes the tricks it warns
    # of: with no link or number of its own to act on, its words are not requests.
    # A villager's question ("要验证码，是骗子吗？") is not a warning.
    if (
        _WARNING.search(norm)
        and _SIGNATURE.search(norm)
        and not links
        and not phones
        and (ours or not _QUESTION.search(norm))
        and not any(s.kind == "add_contact" for s in signals)
    ):
        signals[:] = [
            s for s in signals if s.kind in ("money_gone",) or OUR_SIGNATURE in s.evidence
        ]
    elif _WARNING.search(norm) and not links and not phones and not ours:
        signals[:] = [s for s in signals if s.kind != "impersonation"]
    kinds = {s.kind for s in signals}

    codes = tuple(find_codes(norm) + find_work_ids(norm))
    verdict: Verdict
    our_spoof = any(s.kind == "impersonation" and OUR_SIGNATURE in s.evidence for s in signals)
    if kinds & STRONG or our_spoof:
        verdict = "scam"
    elif ours and tail and recipient_tail and not links and not phones:
        # Ours, to this very recipient: its urgency words ("马上打110") are our own.
        verdict = "official"
    elif len(kinds & WEAK) >= 2:
        verdict = "scam"
    elif (
        links
        and all(official_link(u) for u in links)
        and not phones
        and not kinds - {"impersonation"}
    ):
        verdict = "official"
    else:
        verdict = "unsure"
    order = {k: i for i, k in enumerate(KINDS)}
    signals.sort(key=lambda s: order[s.kind])
    return Judgement(
        verdict=verdict,
        signals=tuple(signals),
        links=tuple(links),
        phones=tuple(phones),
        codes=codes,
        pasted=_pasted(norm, links),
    )
