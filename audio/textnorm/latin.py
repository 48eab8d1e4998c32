"""Latin letters and ASCII punctuation, which espeak's Mandarin voice would read as English.

Known abbreviations are replaced by their Chinese words; any other Latin word is spelled
letter by letter with the Chinese readings of the English letter names (PM -> 披艾姆), the way a
Mandarin speaker reads an abbreviation aloud. ASCII punctuation becomes Chinese punctuation,
which espeak turns into pauses.
"""

from __future__ import annotations

import re
import unicodedata

# English letter names as a Mandarin speaker says them, in characters espeak reads plainly.
LETTER_READINGS = {
    "A": "诶",
    "B": "比",
    "C": "西",
    "D": "迪",
    "E": "伊",
    "F": "艾弗",
    "G": "吉",
    "H": "艾尺",
    "I": "艾",
    "J": "杰",
    "K": "开",
    "L": "艾勒",
    "M": "艾姆",
    "N": "恩",
    "O": "欧",
    "P": "披",
    "Q": "丘",
    "R": "阿尔",
    "S": "艾斯",
    "T": "梯",
    "U": "优",
    "V": "维",
    "W": "达布留",
    "X": "艾克斯",
    "Y": "歪",
    "Z": "泽德",
}

# Words common in announcements that have a Chinese name; matched case-insensitively.
ABBREVIATIONS = {"app": "应用", "wifi": "无线网络", "qq": "扣扣", "tel": "电话"}

# Accented Latin letters (é, ü, ā in stray pinyin) are spelled like their base letters.
_ACCENTED_RE = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
_NUMBER_SIGN_RE = re.compile(r"(?<![A-Za-z])No\. ?(?=[0-9])", re.IGNORECASE)
_ABBREVIATION_RE = re.compile(r"(?<![A-Za-z])(?:app|wi-?fi|qq|tel)(?![A-Za-z])", re.IGNORECASE)
_WORD_RE = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?")

_PUNCTUATION = str.maketrans(
    {
        ",": "，",
        ".": "。",
        "!": "！",
        "?": "？",
        ";": "；",
        ":": "：",
        "(": "（",
        ")": "）",
        "&": "和",
        "+": "加",
        "=": "等于",
        "<": "小于",
        ">": "大于",
        "≤": "小于等于",
        "≥": "大于等于",
    }
)


def read_abbreviations(text: str) -> str:
    """Known abbreviations to Chinese words (APP -> 应用, Tel -> 电话) and ``No.3`` -> ``第3``.

    Runs before the number rules, so "Tel: 12345" is recognised as a hotline.
    """
    text = _NUMBER_SIGN_RE.sub("第", text)
    return _ABBREVIATION_RE.sub(lambda m: ABBREVIATIONS[m.group(0).lower().replace("-", "")], text)


def _read_word(match: re.Match[str]) -> str:
    return "".join(LETTER_READINGS.get(ch.upper(), "") for ch in match.group(0))


def _base_letter(match: re.Match[str]) -> str:
    decomposed = unicodedata.normalize("NFKD", match.group(0))
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalpha())


def read_latin(text: str) -> str:
    """Spell every remaining Latin word letter by letter: PM -> 披艾姆."""
    return _WORD_RE.sub(_read_word, _ACCENTED_RE.sub(_base_letter, text))


_HAN = r"[\u3400-\u9fff]"
_NAME_DOT_RE = re.compile(rf"(?<={_HAN})[·•・](?={_HAN})")
_HAN_SLASH_RE = re.compile(rf"(?<={_HAN}) ?/ ?(?={_HAN})")


def read_punctuation(text: str) -> str:
    """ASCII punctuation to Chinese punctuation; signs read as words (& 和, + 加, ≥ 大于等于);
    a slash between words is a pause (村委会/社区), a dot inside a name is dropped."""
    text = text.translate(_PUNCTUATION)
    return _HAN_SLASH_RE.sub("、", _NAME_DOT_RE.sub("", text))
