"""The traditional-script converter that 遼寧長安網 is seen through.

The converter in front of that portal turns simplified text into traditional
script and appends the pinyin of some characters in parentheses
(``網(wǎng)``, ``會(huì)``, ``發(fā)布時(shí)間``).  Which characters get pinyin is
the converter's own choice: the table below is every annotated character of
the seed 003 page with the reading shown there, so pages built here carry the
same annotations as the real one.  No library reproduces this converter's
output, hence the hand-written table.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

# Character -> pinyin, as annotated on the seed 003 page.
PINYIN: dict[str, str] = {
    "網": "wǎng",
    "會": "huì",
    "報": "bào",
    "調": "diào",
    "現": "xiàn",
    "發": "fā",
    "時": "shí",
    "進": "jìn",
    "區": "qū",
    "設": "shè",
    "勵": "lì",
    "領": "lǐng",
    "戰": "zhàn",
    "導": "dǎo",
    "實": "shí",
    "創": "chuàng",
    "關": "guān",
    "強": "qiáng",
    "團": "tuán",
    "結": "jié",
    "動": "dòng",
    "細": "xì",
    "機": "jī",
    "聯": "lián",
    "穩": "wěn",
    "態": "tài",
    "點": "diǎn",
    "隊": "duì",
    "堅": "jiān",
    "負": "fù",
    "責": "zé",
    "協": "xié",
    "標": "biāo",
    "個": "gè",
    "項": "xiàng",
    "礎": "chǔ",
    "構": "gòu",
    "學": "xué",
    "習": "xí",
    "準": "zhǔn",
    "務": "wù",
}

_ANNOTATE = re.compile("[" + "".join(PINYIN) + "]")


# The converter maps character by character (no phrase table: 了解了 stays
# 了解了, 发布 becomes 發布, not 發佈) with Taiwan forms (為, 著), and leaves
# alone characters whose simplified form is also a traditional one: these are
# the ones the seed page shows unconverted (于天敏, 先后, 战斗, 模范, 志愿者),
# plus three common ones of the same kind.
KEEP = frozenset("于后斗范愿里台面")


@lru_cache(maxsize=1)
def _s2tw() -> opencc.OpenCC:
    return opencc.OpenCC("s2tw")


@lru_cache(maxsize=8192)
def _char(ch: str) -> str:
    if ch in KEEP or ch < "\u2e80":
        return ch
    return str(_s2tw().convert(ch))


def to_traditional(text: str) -> str:
    """Simplified -> traditional script as the converter does it, without pinyin."""
    return "".join(_char(ch) for ch in text)


def annotate_pinyin(text: str) -> str:
    """Append ``(pinyin)`` after every character the converter annotates."""
    return _ANNOTATE.sub(lambda m: f"{m.group(0)}({PINYIN[m.group(0)]})", text)


def convert(text: str) -> str:
    """The converter's output for simplified ``text``: traditional script plus pinyin."""
    return annotate_pinyin(to_traditional(text))
