"""The sound of a message (toneless pinyin), for the classifier's sound features
(nlu/textclf.py) and the rules that read words by sound (nlu/signals.py). Kept apart from
textclf so that reading a sound does not import scikit-learn."""

from __future__ import annotations

from functools import cache


@cache
def _syllables() -> dict[str, str]:
    """Han character -> its first reading without tone (pypinyin's table), built once:
    a lookup per character instead of pypinyin's phrase matching (0.5 ms a message)."""
    from pypinyin.pinyin_dict import pinyin_dict

    tones = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")
    return {
        chr(code): readings.split(",")[0].translate(tones) for code, readings in pinyin_dict.items()
    }


def pinyin(text: str) -> str:
    """The sound of a message: Han characters as toneless pinyin, Latin letters as
    typed, without spaces, anything else a separator. Homophone typos (腿订 for 退订,
    医保瓶证) and pinyin-only messages (wo yao tuiding) then share n-grams with what
    they stand for."""
    table = _syllables()
    out = []
    for ch in text.lower():
        if ch in table:
            out.append(table[ch])
        elif "a" <= ch <= "z":
            out.append(ch)
        elif not ch.isspace() and (not out or out[-1] != "|"):
            out.append("|")
    return "".join(out)
