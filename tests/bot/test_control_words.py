"""The words that steer a conversation, as villagers type them (bot/control_words.py)."""

from __future__ import annotations

import pytest

from bot.control_words import (
    asks_for_code,
    asks_if_real,
    asks_to_comply,
    cannot_do_it,
    declines_report,
    denies_an_act,
    denies_harm,
    is_leave,
    is_no,
    is_skip,
    is_yes,
    not_mine,
    only_acknowledges,
    only_denied_harm,
    without_denials,
)
from nlu.signals import victim_words


@pytest.mark.parametrize(
    "text", ["好的", "好的呀", "嗯那好的呀", "中", "要得", "行", "可以。", "嗯嗯", "1", "对头"]
)
def test_yes(text):
    assert is_yes(text) and not is_no(text)


@pytest.mark.parametrize("text", ["不要", "不用了", "不了", "2", "算了吧", "没有", "不是的"])
def test_no(text):
    assert is_no(text) and not is_yes(text)


@pytest.mark.parametrize("text", ["不中", "不中不中", "要不得", "不得行", "莫得", "甭了"])
def test_no_in_dialect(text):
    assert is_no(text) and not is_yes(text)


@pytest.mark.parametrize("text", ["中嘞", "成", "好滴", "得行", "中中"])
def test_yes_in_dialect(text):
    assert is_yes(text) and not is_no(text)


@pytest.mark.parametrize(
    "text", ["不报了", "不报了不报了", "算了算了", "俺不想举报了", "取消！", "不查了"]
)
def test_leave(text):
    assert is_leave(text)


@pytest.mark.parametrize(
    "text",
    ["算了不弄了", "俺不报了 没事了", "没事了 谢谢", "不用查了", "不用了", "那算了",
     "不想报警了，谢谢你们", "没事儿", "拉倒吧"],
)  # fmt: skip
def test_leave_in_everyday_words_run_together(text):
    assert is_leave(text)


@pytest.mark.parametrize(
    "text",
    ["没事吧", "谢谢", "好了", "不要报警吗", "他不说", "不知道", "不填", "没事了吗", "好了不说了"],
)
def test_not_a_leave(text):
    # 没事吧 asks whether it is fine; thanks alone and 好了 close nothing; 不知道 skips;
    # 好了不说了 may be "that is all" (a skip: leaving would withdraw a report).
    assert not is_leave(text)


@pytest.mark.parametrize(
    "text",
    ["不是俺花的", "俺没买过东西啊", "没消费过", "不是我", "那笔钱不是我转的", "没有啊 我没买过啥"],
)
def test_not_mine(text):
    assert not_mine(text)


@pytest.mark.parametrize(
    "text", ["是我花的", "我买了个电视", "钱没了", "不是我说你们 这短信咋回事啊"]
)
def test_mine_or_something_else(text):
    assert not not_mine(text)


@pytest.mark.parametrize(
    "text",
    ["有人打电话问俺要这个", "刚才有个人打电话叫俺念给他听", "他让我把码报给他", "他要我说给他"],
)
def test_asks_for_code(text):
    assert asks_for_code(text)


@pytest.mark.parametrize("text", ["这个码是干啥的", "我要这个干嘛", "验证码有啥用"])
def test_not_asked_for_code(text):
    assert not asks_for_code(text)


@pytest.mark.parametrize(
    "text",
    ["不知道啊", "俺也记不清了", "没有了", "没了没了", "就这些了。", "忘了", "不晓得",
     "俺不知道是哪个村的", "记不清几点了", "没拍到", "跳过", "好了不说了", "先这样吧"],
)  # fmt: skip
def test_skip(text):
    assert is_skip(text)


@pytest.mark.parametrize(
    "text",
    ["没有给验证码", "不知道他们是不是骗子", "金田村", "现在", "他们开白色面包车", "不报警会怎样"],
)
def test_a_word_inside_a_sentence_steers_nothing(text):
    assert not (is_skip(text) or is_leave(text) or is_yes(text) or is_no(text))


@pytest.mark.parametrize(
    "text", ["没转", "俺没交", "还没扫呢", "没有没有", "幸好没给他验证码", "我没上当"]
)
def test_denies_harm(text):
    assert denies_harm(text)


@pytest.mark.parametrize("text", ["没转完", "钱没了", "没给验证码就把手机借他了", "他没走"])
def test_not_a_denial(text):
    assert not denies_harm(text)


@pytest.mark.parametrize(
    "text", ["是不是骗子", "那是骗子吗", "他们是骗子吧", "这是真的假的", "靠谱吗"]
)
def test_asks_if_real(text):
    assert asks_if_real(text)


@pytest.mark.parametrize(
    "text", ["他说他是医保局的 是真的吗 工作证号ZH01", "查13912345678是不是骗子"]
)
def test_a_question_with_something_to_judge_is_not_bare(text):
    assert not asks_if_real(text)


@pytest.mark.parametrize("text", ["我不会弄", "俺不会弄 你能帮俺弄吗", "我是老人机", "帮我开一下"])
def test_cannot_do_it(text):
    assert cannot_do_it(text)


@pytest.mark.parametrize(
    "text", ["这个要去吗", "要给他吗", "能扫吗", "要不要去", "那我去不去", "给不给"]
)
def test_asks_to_comply(text):
    assert asks_to_comply(text)


@pytest.mark.parametrize("text", ["我要去镇上", "要去医保局办卡吗 在哪", "去"])
def test_not_asking_to_comply(text):
    assert not asks_to_comply(text)


@pytest.mark.parametrize(
    "text",
    [
        "我妈没把验证码给他们 她挂了电话",
        "不是我 我没给验证码",
        "他们要验证码 俺不给他们",
        "那人让俺扫码领鸡蛋俺没扫俺就回家了",
        "还没扫呢 他们说扫了送一桶油",
    ],
)
def test_a_story_that_only_denies_the_act(text):
    assert denies_an_act(text)
    assert not victim_words(without_denials(text))


@pytest.mark.parametrize(
    "text",
    [
        "俺没给验证码 可是扫了他们的码",  # denied one act, did another
        "他们说扫了送油 我就扫了",  # the promise, then the act
        "我没注意 就把验证码给他了",  # 没 about something else
        "没想到把验证码给了他们",
        "不小心把验证码给他们了",
        "俺没转钱 但卡里少了三千",
    ],
)
def test_harm_beside_a_denial_is_still_harm(text):
    assert victim_words(without_denials(text)) or not denies_an_act(text)
    assert not only_denied_harm(text)


def test_only_denied_harm_needs_nothing_else_handed_over():
    assert only_denied_harm("我妈没把验证码给他们 她挂了电话")
    assert not only_denied_harm("俺没给验证码 但是他们拿走了手机")


@pytest.mark.parametrize("text", ["先不报了 我再看看", "不用报警了", "算了 不想举报", "不报了"])
def test_declines_report(text):
    assert declines_report(text)


@pytest.mark.parametrize("text", ["以后不想收这种了", "不报了 也别给我发短信了", "我要举报"])
def test_not_declining_a_report(text):
    assert not declines_report(text)


@pytest.mark.parametrize("text", ["好的", "嗯", "嗯嗯", "谢谢", "谢谢谢谢", "好的呀", "行"])
def test_only_acknowledges(text):
    assert only_acknowledges(text)


@pytest.mark.parametrize("text", ["1", "2", "金田村", "好的 帮俺报一下", "谢谢 他们还在"])
def test_not_only_acknowledging(text):
    assert not only_acknowledges(text)
