"""Does a message say anything? A message made only of fillers (nlu/fillers.yml:
hesitation sounds, pointing words, bare pronouns, "I want to ask" openers) has no
request in it, and a linear model over n-grams is still sure about it (他们 is victims'
words in the data). Such a message goes to the fallback: the safety line and "say it
again", never a guessed intent — one rule the classifier component and its
evaluation (nlu/comparison.py) share.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

FILLERS = Path(__file__).with_name("fillers.yml")
# Letters, digits and Han characters: what is left of a message that says something.
_MEANING = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")


@cache
def _fillers() -> re.Pattern[str]:
    words = yaml.safe_load(FILLERS.read_text(encoding="utf-8"))["fillers"]
    # Longest first, so 那个 goes as one and not as 那 + 个.
    alternatives = sorted({str(w) for w in words}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in alternatives))


def has_content(text: str) -> bool:
    """False only when ``text`` (normalised) has words and every one is a filler. Latin
    letters and digits always count (pinyin, codes, numbers); a message of punctuation
    or emoji alone (？, 👍) is left to the model, which was trained on such."""
    if not _MEANING.search(text):
        return True
    return bool(_MEANING.search(_fillers().sub("", text)))
