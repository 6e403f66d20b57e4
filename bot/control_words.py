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
    }
)  # fmt: skip
NO = frozenset(
    {
        "2", "不", "不是", "否", "不要", "不用", "不行", "不对", "没有", "莫", "不得",
        "n", "no", "算", "不确认",
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


def is_leave(text: str) -> bool:
    return core(text) in LEAVE


def is_skip(text: str) -> bool:
    word = core(text)
    if word in SKIP:
        return True
    about = _ABOUT.search(word)
    return bool(about and about.start() and core(word[: about.start()]) in SKIP)
