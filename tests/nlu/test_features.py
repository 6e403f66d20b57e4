"""What the intent model's features mark: negated words, a message's edges."""

from __future__ import annotations

import pytest

from nlu.textclf import edged, marked_words


def negated(text: str) -> set[str]:
    return {t for t in marked_words(text) if t.startswith("¬")}


@pytest.mark.parametrize("text", ["不想收提醒了", "别再发提醒", "莫发提醒了", "提醒我不要了"])
def test_words_after_a_negator_are_marked(text):
    marks = negated(text)
    assert "¬" in marks
    assert marks - {"¬"}, marks


@pytest.mark.parametrize("text", ["我想收提醒", "帮我订上提醒", "提醒挺好 没事"])
def test_nothing_is_marked_without_a_negator(text):
    assert negated(text) == set()


def test_the_scope_ends_with_the_clause_and_after_three_words():
    assert "¬订阅" not in negated("不要了，订阅提醒")
    marks = negated("不想 一 二 三 四 五")
    assert {"¬一", "¬二", "¬三"} <= marks
    assert "¬四" not in marks


def test_the_plain_words_are_kept_beside_their_marks():
    tokens = marked_words("不想收提醒")
    assert "提醒" in tokens and "¬提醒" in tokens


def test_edges_mark_the_start_and_the_end():
    assert edged("举报ABC") == "\x02举报abc\x03"
    assert edged("") == "\x02\x03"
