"""The short words that steer a conversation: yes and no to a confirmation, skip a
question, leave a form.

Villagers do not type the one word a menu suggests: 「不知道啊」, 「俺也记不清了」,
「没有了」, 「中」 (Henan's "fine"), 「要得」 (Sichuan's), 「算了吧」. Each reply is reduced to
its core first (punctuation, spaces and tone particles dropped, a leading 我/俺 and 也/都
dropped, a doubled word read once), then matched whole: a word inside a longer sentence
is never taken as a command, so 「没有给验证码」 is not a skip.
"""

from __future__ import annotations

import re

# Tone particles and fillers that change nothing about the answer.
_PARTICLES = "了的啊呀吧呢哦嘛哈啦喽咯嘞哇噢呐么"
_EDGES = re.compile(rf"^(?:(?:我|俺|额|咱|偶|那|嗯|哦|噢|呃)+)|(?:[{_PARTICLES}]+)$")
_NOISE = re.compile(r"[\s\u3000,，.。!！?？~～…、;；:：'\"“”‘’()（）【】\[\]]+")
_ADVERBS = re.compile(r"^(?:也|都|真|实在|确实|还)+")

YES = frozenset(
    {
        "1", "是", "是的", "对", "对的", "对头", "好", "好的", "确认", "确定", "嗯", "嗯嗯",
        "要", "要得", "行", "行的", "可以", "中", "得行", "没问题", "y", "yes", "ok",
        "成", "妥", "好滴", "阔以", "是滴",
    }
)  # fmt: skip
NO = frozenset(
    {
        "2", "不", "不是", "否", "不要", "不用", "不行", "不对", "没有", "莫", "不得",
        "n", "no", "算", "不确认",
        # Henan's 不中, Sichuan's 要不得 / 不得行, 莫得 / 莫要 (no), 不消 (no need)
        "不中", "要不得", "不得行", "莫得", "莫要", "不消", "不成", "甭",
    }
)  # fmt: skip
# "Stop this form" (the villager leaves; what was filed stays filed).
LEAVE = frozenset(
    {
        "取消", "取消举报", "不报", "不报警", "不举报", "不想报", "不想举报", "不报告",
        "不查", "不想查", "不问", "不弄", "算", "cancel", "退出", "结束",
    }
)  # fmt: skip
# "I can't answer this one" (the question is skipped, the form goes on).
SKIP = frozenset(
    {
        "跳过", "跳", "skip", "无", "没", "没有", "没得", "没啥", "没什么", "没别的",
        "没其他", "没其他的", "就这些", "就这么多", "就这样", "不知道", "不晓得", "不清楚",
        "搞不清", "说不清", "说不上", "说不上来", "记不清", "记不得", "不记得", "忘",
        "忘记", "没看清", "没注意", "没拍", "没拍到", "没照片", "不知", "不填",
        "好了不说", "不说", "说完", "先这样", "就说这些", "没别的说",
    }
)  # fmt: skip
# What the question was about, said along with the skip: 「不知道是哪个村」, 「记不清几点」.
_ABOUT = re.compile(r"(?:是)?(?:哪个村|哪村|哪儿|哪里|什么时候|啥时候|几点|什么|啥)(?:的)?$")


def core(text: str) -> str:
    """The reply reduced to what decides it (see the module docstring)."""
    word = _NOISE.sub("", text.casefold())
    for _ in range(4):  # particles stack and words double: 「嗯那好的呀」, 「不报了不报了」
        half = len(word) // 2
        stripped = word[:half] if half and word[:half] == word[half:] else word
        stripped = _ADVERBS.sub("", _EDGES.sub("", stripped))
        if stripped == word:
            break
        word = stripped
    return word or _NOISE.sub("", text.casefold())


def is_yes(text: str) -> bool:
    return core(text) in YES


def is_no(text: str) -> bool:
    return core(text) in NO


_PARTS = re.compile(r"[\s,，.。!！;；、~～]+")


# Everyday ways of stopping, run together as voice input writes them: 「算了不弄了」,
# 「俺不报了没事了」, 「不用查了」, 「没事了谢谢」. A 没事 counts only as 没事了 / 没事儿
# (「没事吧」 asks whether something is fine). 「好了不说了」 is not among them: it may mean
# "that is all I know", and leaving the report form withdraws the report (it is a skip).
_STOP_WORD = (
    r"算了?|罢了|不用了?|不要了?|没事了|没事儿了?|没啥事了|不弄了?|"
    r"不(?:想|用|要|必|再)?(?:报|报警|举报|报告|报案|查|问|弄|搞|整|登记|核实)了?|"
    r"拉倒|"
    r"取消(?:举报)?|退出|结束"
)
_CLOSING = r"好了|行了|谢谢(?:你们?|您)?|谢了|多谢|就这样"
_RUN_TOGETHER = re.compile(
    rf"^(?:我|俺|那|嗯|哦|噢|唉|哎)*(?:(?:{_STOP_WORD}|{_CLOSING})[{_PARTICLES}]*)+$"
)
_HAS_STOP = re.compile(_STOP_WORD)


def is_leave(text: str) -> bool:
    """A leave word, alone or with other refusals: 「算了 不举报了」, 「不用了，不报了」,
    「算了不弄了」, 「没事了 谢谢」."""
    if core(text) in LEAVE:
        return True
    parts = [core(p) for p in _PARTS.split(text) if p.strip()]
    if len(parts) > 1 and any(p in LEAVE for p in parts) and all(p in LEAVE | NO for p in parts):
        return True
    word = _NOISE.sub("", text.casefold())
    closing = re.fullmatch(rf"(?:{_CLOSING})[{_PARTICLES}]*", word)
    return bool(_RUN_TOGETHER.match(word) and _HAS_STOP.search(word) and not closing)


def is_skip(text: str) -> bool:
    word = core(text)
    if word in SKIP:
        return True
    about = _ABOUT.search(word)
    return bool(about and about.start() and core(word[: about.start()]) in SKIP)


_WHAT_NOW = re.compile(
    r"^(那|那我|那俺|现在|然后|接下来|下一步)?(该)?(咋办|怎么办|咋整|怎么整|咋弄|怎么弄|干啥|做啥|"
    r"还要做啥|还要干啥|然后呢|下一步呢|还有呢|报警吗|要报警吗|咋个办|点算)"
    r"(呢|啊|嘞|哦|呀|吧|了)?[?？。!！]*$"
)


def asks_what_now(text: str) -> bool:
    """A short "what do I do now?" (咋办, 然后呢, 下一步呢, 现在咋办 报警吗)."""
    parts = [p for p in re.split(r"[\s，,。]+", text.strip()) if p]
    return bool(parts) and len(text) <= 16 and all(_WHAT_NOW.match(p) for p in parts)


def _short_and_whole(pattern: re.Pattern[str], text: str, most: int) -> bool:
    """The reply is short and its core is all ``pattern``: nothing else to judge."""
    return len(text) <= most and bool(pattern.match(core(text)))


# "I did not" after first aid: 没转, 没给他, 还没呢, 俺没上当, 没有没有.
_DENIAL = re.compile(
    r"^(?:还|幸好|好在|当时)?(?:没|没有|冇|莫|未|没敢|不曾)(?:有)?"
    r"(?:给|畀|转|扫|借|拍|刷|输|告诉|说|发|填|点|按|付|交|上当|照做|理|信|答应|同意)?(?:过)?"
    r"(?:他|他们|她|人家|给他|给他们|佢|佢哋)?(?:钱|验证码|码|手机|脸|身份证|数字)?(?:呢)?$"
)


def denies_harm(text: str) -> bool:
    """A short reply saying the harm did not happen (after the hotline's first aid)."""
    return _short_and_whole(_DENIAL, text, 16)


def ends_in_denial(text: str) -> bool:
    """The story ends with "but I did not" (俺没给, 还好没扫): nothing happened yet."""
    clauses = [c for c in re.split(r"[\s，,。.!！?？；;]+", text) if c]
    return len(clauses) > 1 and denies_harm(clauses[-1])


# A message that is only a phone number (mobile, or a landline with its area code).
_PHONE_ONLY = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")


def phone_only(text: str) -> bool:
    """The whole message is one phone number: sent at a form's question, it is the
    visitors' number (or one to look up), never the answer to that question."""
    return bool(_PHONE_ONLY.match(text))


# "Is it real / a scam?" asked bare, about what was just described.
_IS_IT_REAL = re.compile(
    r"^(?:这|那|这个|那个|他|他们|这些人|这事)?(?:是不是|是|算不算|算|会不会是)?"
    r"(?:骗子|骗人|骗局|诈骗|真的|假的|真的假的?|真是假|可信|靠谱|能信|正规|要紧|严重|危险)"
    r"(?:吗|不|么|没)?$"
)


def asks_if_real(text: str) -> bool:
    """A short "is it real?", "是不是骗子", "靠谱吗" with nothing else to judge."""
    return _short_and_whole(_IS_IT_REAL, text, 14)


# "Should I go / do what they say?" about what was just described: 这个要去吗, 要给他吗.
_COMPLY = re.compile(
    r"^(?:那|这个|那个|这|那我|俺)?(?:(?:要|能|该|得|可以|用不用|要不要|该不该|能不能)"
    r"(?:去|给|带|配合|扫|签|拍|刷|答应|照做|登记|参加)(?:他|他们|她)?(?:吗|么|不)?"
    r"|(去|给|扫|签|配合)不\1)$"
)


def asks_to_comply(text: str) -> bool:
    """A short "should I go / give it / do it?" with nothing else to judge."""
    return _short_and_whole(_COMPLY, text, 12)


# "I can't do it myself / can you do it for me" (after how to open the e-voucher).
_CANNOT = re.compile(
    r"(?:不会|弄不来|搞不来|整不来|不懂|看不懂|学不会|没有?(?:智能机|智能手机|微信|支付宝)"
    r"|老人机|不识字)"
    r"|(?:帮|替|给)(?:我|俺)(?:弄|办|开|搞|整|操作)"
)


def cannot_do_it(text: str) -> bool:
    return len(text) <= 24 and bool(_CANNOT.search(core(text)))


# "It wasn't me" right after a pasted bank debit: 不是俺花的, 俺没买过东西啊, 没消费过.
_NOT_MINE = re.compile(
    r"^(?:没有|没|不是)?[啊呀]?(?:我|俺)?(?:这|那|这个|那个|这笔|那笔|笔|这钱)?(?:钱)?"
    r"(?:不是|没|没有|从没|从来没|没有过)(?:我|俺|咱|我们|俺们|我家)?"
    r"(?:花|买|消费|用|刷|转|取|付|办|借|动)(?:过)?(?:的|钱|这钱|这笔钱|东西|啥|什么|这个)?"
    r"(?:啊|呀|呢|哦)?(?:这是|那)?(?:咋回事|怎么回事|咋办|怎么办)?$"
    r"|^不是(?:我|俺|咱)$"
)


def not_mine(text: str) -> bool:
    """A short "I did not spend this" after a debit notice (the hotline's first aid next)."""
    return _short_and_whole(_NOT_MINE, text, 20)


# Someone asks for the code just pasted: 有人问俺要这个, 叫俺念给他听, 让我把码报给他.
_ASKED_FOR_CODE = re.compile(
    r"(?:问|找|跟|向)(?:我|俺|咱|我妈|我爸)?要(?:这个|这|码|验证码|那个)"
    r"|(?:让|叫|要)(?:我|俺|咱|我妈|我爸)(?:把(?:这个|码|验证码)?)?(?:念|报|说|发|告诉|读)"
)


def asks_for_code(text: str) -> bool:
    """Someone asked the villager for the code in the SMS they just pasted."""
    return len(text) <= 30 and bool(_ASKED_FOR_CODE.search(core(text)))


# An act the villager says did NOT happen, wherever it sits in the story: a negation
# right before the act, with at most the thing handed over between them (俺没给他们,
# 我妈没把验证码给他们, 还没扫, 不给他). 没想到/没注意 … 给了 are not denials: only the
# object may stand between the negation and the act.
_NEGATED_ACT = re.compile(
    r"(?:没有|没敢|没|未|冇|不曾|不肯|不想|不|莫)(?:有)?(?:把|将)?"
    r"(?:验证码|那个码|码|手机|身份证|医保卡|银行卡|卡|钱|脸|号码|数字|密码|这个|那个)?"
    r"(?:给|畀|转|扫|借|拍|刷|输|告诉|说|念|报|发|填|点|交|付)(?:过|了)?"
    r"(?:给)?(?:他们|他|她们|她|人家|对方|佢哋|佢)?"
)
# A promise, not an act: 他们说扫了送油, 只要扫了就送, 扫了就能领.
_PROMISED_ACT = re.compile(
    r"(?:说|只要|如果|要是|讲)[^，。,.!！?？\s]{0,2}?(?:扫|刷|拍)(?:了|完)"
    r"(?:码|脸)?(?:就|才)?(?:能|可以)?(?:送|领|给|有|发)"
)
# What would still be harm once the denied acts are gone: something handed, taken or done.
_ACT_LEFT = re.compile(r"给|畀|借|扫|拍|刷|转|拿|弄|告诉|念|报给|输|填|取|扣|少了|没了|骗")


def without_denials(text: str) -> str:
    """The text with every denied or promised act cut out (a clause break left in its
    place): what remains is what the villager says did happen."""
    return _PROMISED_ACT.sub("，", _NEGATED_ACT.sub("，", text))


def denies_an_act(text: str) -> bool:
    """Somewhere in the story an act is denied (俺没给, 还没扫) or only promised."""
    return bool(_NEGATED_ACT.search(text) or _PROMISED_ACT.search(text))


def only_denied_harm(text: str) -> bool:
    """The story denies the act and, the denied acts cut out, says nothing else was handed
    over or done (我妈没把验证码给他们 她挂了电话): a warning, not first aid."""
    return denies_an_act(text) and not _ACT_LEFT.search(without_denials(text))


# "Not reporting (for now)" in the villager's words: 先不报了 我再看看, 不用报警了. About a
# report, never about the tips: no word for messages or the subscription in it.
_DECLINES_REPORT = re.compile(r"不(?:想|用|要|必|再|忙)?(?:着)?(?:报|举报|报警|报案)")
_ABOUT_MESSAGES = re.compile(r"订|收|发|短信|消息|提醒|推送|退")


def declines_report(text: str) -> bool:
    """A refusal to report (after the offer), which a model may read as an opt-out."""
    return bool(_DECLINES_REPORT.search(text)) and not _ABOUT_MESSAGES.search(text)


_THANKS = frozenset(
    {"谢", "谢谢", "谢了", "多谢", "谢谢你", "谢谢你们", "谢谢您", "感谢", "辛苦", "辛苦你们"}
)


def only_acknowledges(text: str) -> bool:
    """A bare "好的" / "嗯" / "谢谢" (not a digit: "1" answers some questions)."""
    word = core(text)
    return not word.isdigit() and (word in YES or word in _THANKS)
