"""nlu.normalise: the one spelling the model is trained and run on."""

from __future__ import annotations

import pytest

from nlu.normalise import normalise


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # traditional -> simplified, vocabulary untouched
        ("醫保電子憑證怎麼激活", "医保电子凭证怎么激活"),
        ("這個號碼是騙子嗎", "这个号码是骗子吗"),
        ("他們要我的驗證碼", "他们要我的验证码"),
        ("個人信息", "个人信息"),
        # full-width -> half-width
        ("ＡＢＣ１２３", "ABC123"),
        ("真的吗？", "真的吗?"),
        ("你好\u3000在吗", "你好 在吗"),
        # mobile numbers in groups
        ("打138 1234 5678问问", "打13812345678问问"),
        ("138-1234-5678", "13812345678"),
        ("１３８－１２３４－５６７８", "13812345678"),
        ("139.1234.5678", "13912345678"),
        ("电话 1381 234 5678", "电话 13812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0086-139-1234-5678", "+8613912345678"),
        # landlines, service numbers
        ("0571-8888 1234", "057188881234"),
        ("010-6666-8888", "01066668888"),
        ("400-800-1234", "4008001234"),
        ("800 820 8820", "8008208820"),
        ("96-110", "96110"),
        # numbers said in Chinese numerals
        ("幺三九一二三四五六七八", "13912345678"),
        ("号码是一三八零零一三八零零零", "号码是13800138000"),
        ("幺八六 幺二三四 五六七八", "18612345678"),
        ("139一二三四5678", "13912345678"),
        # what must stay as written
        ("2024-01-15 那天", "2024-01-15 那天"),
        ("一共1 200元", "一共1 200元"),
        ("三五个人来了", "三五个人来了"),
        ("一五一十说清楚", "一五一十说清楚"),
        ("价格 3.5 元", "价格 3.5 元"),
        ("验证码 123456", "验证码 123456"),
        # punctuation and whitespace
        ("真的吗？？？！！！", "真的吗?!"),
        ("救命啊!!!!", "救命啊!"),
        ("好的。。。", "好的。"),
        ("然后呢，，，", "然后呢,"),
        ("  你好   在吗 \n 有人吗  ", "你好 在吗 有人吗"),
        ("\t退订\n", "退订"),
        ("", ""),
    ],
)
def test_normalise(written: str, expected: str) -> None:
    assert normalise(written) == expected


@pytest.mark.parametrize(
    "text",
    [
        "醫保局的人來了 電話１３８ １２３４ ５６７８！！",
        "幺三九一二三四五六七八",
        "T",
        "http://a.cn/x?y=1",
    ],
)
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


def test_urls_keep_their_shape() -> None:
    assert normalise("点开 http://yb-gov.top/a?x=1 领取") == "点开 http://yb-gov.top/a?x=1 领取"
