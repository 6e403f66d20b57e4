"""nlu/signals.py: the rules that outrank the model where a wrong guess hurts. Harm
already done gets first aid whatever the intent (in every voice, also described only by
its consequences); a subscribe/unsubscribe parse whose words also say the opposite is
asked about, never acted on."""

from __future__ import annotations

import pytest

from nlu.signals import contrary, victim_words


@pytest.mark.parametrize(
    "text",
    [
        "那我已经扫了咋办啊",
        "验证码给了他们",
        "俺爹把验证码告诉人家了",
        "卡里的钱没了",
        "我的名字下面开了个贷款",
        "已经刷了脸了",
        # consequences, the act not named
        "我娘卡上的养老金少了两百",
        "银行发信息说扣了三百块 俺啥也没买",
        "手机上收到一条注册成功的短信 俺没注册过啥",
        "莫名其妙多了一张卡",
        "俺的微信被盗了 登不上了",
        "说我用身份证借了网贷 可我没借过",
        "有人冒用我的名字",
        "来了好几条催收的短信",
        # the code named without the word 验证码
        "我把手机上收到的六位数念给那个人了",
        "俺把短信里的数字告诉办卡的了",
        "那串数字我报给他们了",
        # traditional characters
        "驗證碼給了他們",
        "我已經掃了",
    ],
)
def test_victim_words(text):
    assert victim_words(text)


@pytest.mark.parametrize(
    "text",
    [
        "能扫吗",
        "没扫",
        "验证码不给人",
        "我没给验证码",
        "别扫了",
        "超市扫码付款怎么弄",
        "收到你们的提醒了",
        "银行卡怎么挂失",
        "微信怎么绑定医保",
        "钱还在 没少",
        "他们把二维码发给我了",
        "六位数的密码怎么改",
    ],
)
def test_not_victim_words(text):
    assert not victim_words(text)


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("subscribe", "不想再收这些了"),
        ("subscribe", "俺要腿订"),  # homophone of 退订, caught by sound
        ("subscribe", "冇想收"),
        ("subscribe", "別再給我發了"),  # traditional
        ("unsubscribe", "不是退订 我想开通"),
        ("unsubscribe", "恢复提醒吧"),
        ("unsubscribe", "重新订上"),
    ],
)
def test_contrary_words(intent, text):
    assert contrary(intent, text)


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("subscribe", "以后有消息告诉我"),
        ("subscribe", "给俺订上"),
        ("unsubscribe", "不想收了"),
        ("unsubscribe", "不要再收了"),
        ("unsubscribe", "别发了"),
        ("report_suspicious_visit", "别发了"),
    ],
)
def test_not_contrary_words(intent, text):
    assert not contrary(intent, text)


@pytest.mark.parametrize(
    "text",
    ["现在卡里少了三千", "钱没了 俺的养老金被人取走了", "俺的存款被人转走了", "不是俺花的",
     "余额没了", "银行卡被扣了两百", "俺还把身份证给他们拍了"],
)  # fmt: skip
def test_money_gone_without_the_act_is_harm(text):
    assert victim_words(text)


@pytest.mark.parametrize(
    "text", ["卡里没少", "卡里少了吗", "会不会卡里少了钱？", "我卡里会不会少了钱", "俺卡里钱够不够"]
)
def test_money_asked_about_or_denied_is_not_harm(text):
    assert not victim_words(text)
