"""nlu.entities: phone numbers in every written form, organisations under their
canonical names, times, and places handed in at run time — through the parsers."""

from __future__ import annotations

import pytest

from nlu.entities import Gazetteer, extract
from nlu.keywords import KeywordParser
from nlu.normalise import normalise


def found(text: str, gazetteer: Gazetteer | None = None) -> list[tuple[str, str]]:
    return [(e.entity, e.value) for e in extract(normalise(text), gazetteer)]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("他用13812345678打的", "13812345678"),
        ("电话是138 1234 5678", "13812345678"),
        ("电话是138-1234-5678", "13812345678"),
        ("号码１３９１２３４５６７８", "13912345678"),
        ("+86 186 1234 5678 打来的", "18612345678"),
        ("+8615912345678", "15912345678"),
        ("008615912345678", "15912345678"),
        ("幺五九一二三四五六七八 是骗子吗", "15912345678"),
        ("客服400-800-1234让我转账", "4008001234"),
        ("800 820 8820", "8008208820"),
        ("座机0571-88881234", "057188881234"),
        ("座机(0571)88881234", "057188881234"),
        ("010-6666-8888 打来说医保要停", "01066668888"),
    ],
)
def test_phone_numbers_in_every_form(text: str, number: str) -> None:
    assert ("phone_number", number) in found(text)


@pytest.mark.parametrize(
    "text",
    ["验证码是123456", "2024-01-15来的", "一共1380元", "订单号1381234567890123"],
)
def test_not_phone_numbers(text: str) -> None:
    assert not [v for e, v in found(text) if e == "phone_number"]


@pytest.mark.parametrize(
    ("text", "organisation"),
    [
        ("说是医保局的", "医保局"),
        ("县医疗保障局来的人", "县医保局"),
        ("社保局的工作人员", "社保局"),
        ("人力资源和社会保障局通知", "人社局"),
        ("卫健委派来的", "卫健委"),
        ("移动公司的人说送话费", "中国移动"),
        ("自称电信公司客服", "中国电信"),
        ("联通营业厅的", "中国联通"),
        ("农业银行打来电话", "中国农业银行"),
        ("邮储银行的短信", "中国邮政储蓄银行"),
        ("医保服务站的人", "医保服务站"),
        ("派出所的警察", "派出所"),
        ("村委會讓我們去登記", "村委会"),
        ("平安保险的业务员", "中国平安"),
    ],
)
def test_organisations_canonical(text: str, organisation: str) -> None:
    assert ("organization", organisation) in found(text)


def test_times() -> None:
    assert ("time", "昨天下午3点") in found("昨天下午3点来的")
    assert ("time", "刚才") in found("刚才有人敲门")


def test_places_are_handed_in_at_run_time() -> None:
    gazetteer = Gazetteer()
    assert ("village", "枫树坪村") not in found("枫树坪村来了人", gazetteer)
    gazetteer.set_places(["枫树坪村", "高岭村"], ["青石镇"])
    assert ("village", "枫树坪村") in found("枫树坪村来了人", gazetteer)
    assert ("township", "青石镇") in found("青石镇那边也有", gazetteer)
    # the training lookup stays
    assert ("village", "石桥村") in found("石桥村来了人", gazetteer)


def test_entities_do_not_overlap_and_index_the_normalised_text() -> None:
    parser = KeywordParser()
    parser.set_places(["高岭村"], [])
    parse = parser.parse("高嶺村來了人 電話１３８ １２３４ ５６７８ 說是醫保局的！！")
    spans = sorted((e.start, e.end) for e in parse.entities)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    for e in parse.entities:
        if e.entity != "phone_number":
            assert parse.text[e.start : e.end] == e.value
    assert ("phone_number", "13812345678") in [(e.entity, e.value) for e in parse.entities]
    assert ("village", "高岭村") in [(e.entity, e.value) for e in parse.entities]


def test_link_wins_over_a_number_inside_it() -> None:
    kinds = found("点 http://a.cn/13812345678 领")
    assert kinds == [("url", "http://a.cn/13812345678")]
