"""nlu.content: a message of fillers only says nothing, whatever the model thinks."""

import pytest

from nlu.content import has_content
from nlu.evaluate import load_examples
from nlu.normalise import normalise
from nlu.training import DATA


@pytest.mark.parametrize(
    "text",
    ["那个那个", "呃，就是……", "他们 他们", "俺想问问", "嗯呃 那啥", "请问一下？", "我们就是那个"],
)
def test_fillers_alone_say_nothing(text):
    assert not has_content(normalise(text))


@pytest.mark.parametrize(
    "text",
    [
        "他们要验证码",  # a pronoun with a request is content
        "那个二维码能扫吗",
        "嗯嗯",  # acknowledges
        "你好",
        "有人吗",
        "T",
        "138 1234 5678",
        "👍",  # left to the model, which knows emoji thanks
        "？",
        "wo xiang wen",  # pinyin is the model's to read
    ],
)
def test_anything_with_a_word_or_a_sign_is_left_to_the_model(text):
    assert has_content(normalise(text))


def test_the_training_data_is_almost_never_fillers_only():
    # The gate must not silence what the model was taught: a laugh is all it may take.
    silenced = [(t, i) for t, i in load_examples(DATA) if not has_content(normalise(t))]
    assert all(i == "out_of_scope" for _t, i in silenced) and len(silenced) <= 3, silenced
