"""Whose subscription a message asks for (bot/enrollment.for_someone_else), and the
engine's cleaning of traditional characters before any rule reads a message."""

from __future__ import annotations

import pytest

from bot.engine import clean
from bot.enrollment import for_someone_else


@pytest.mark.parametrize(
    "text",
    [
        "帮俺村张大爷订阅一下 他号码13800138000",
        "给我妈订阅一下防骗提醒",
        "替我爸退订一下",
        "帮她也订上",
        "给村里老人都订阅",
        "帮我妈把订阅取消了",
    ],
)
def test_for_someone_else(text):
    assert for_someone_else(text)


@pytest.mark.parametrize(
    "text",
    [
        "帮我订阅一下",
        "给俺订阅",
        "订阅",
        "我要订阅 金田村",
        "帮我自己订上",
        "以后也给我发",
        "帮我把订阅取消了吧",
    ],
)
def test_for_oneself(text):
    assert not for_someone_else(text)


@pytest.mark.parametrize(
    ("sent", "read"),
    [("工作證號ZH2025031", "工作证号ZH2025031"), ("不報了", "不报了"), ("１３８", "138")],
)
def test_clean_reads_traditional_and_full_width_as_the_rules_are_written(sent, read):
    assert clean(sent) == read
