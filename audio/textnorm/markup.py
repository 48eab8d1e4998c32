"""Clean-up of pasted text: HTML, full-width forms, pinyin annotations, whitespace and pauses.

Pauses are first written as private-use marker characters (``WEAK_PAUSE``, ``STRONG_PAUSE``)
and only turned into punctuation at the very end, once it is known what stands around them.
"""

from __future__ import annotations

import html
import re

WEAK_PAUSE = "\ue000"
STRONG_PAUSE = "\ue001"
# Put before a 一 that reads yī whatever follows (codes, ordinals, dates, clock hours); kept
# for the pinyin step and dropped from the text shown (see ``audio.textnorm.pinyin``).
CITATION = "\ue002"

HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Punctuation that already makes espeak pause; a pause marker next to one is redundant.
PAUSE_PUNCTUATION = "，。！？、；：…,.!?;:"

_MAX_UNESCAPE_ROUNDS = 4
_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "li", "ul", "ol", "dl", "dd", "dt", "pre", "hr"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "title"),
        *("section", "article", "blockquote", "header", "footer"),
    }
)

_SCRIPT_RE = re.compile(r"<(script|style)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_DECLARATION_RE = re.compile(r"<[!?][^<>]*>")
_TAG_RE = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)(?:[\s/][^<>]*)?>")

_FULLWIDTH = str.maketrans(
    {chr(0xFF10 + i): chr(0x30 + i) for i in range(10)}
    | {chr(0xFF21 + i): chr(0x41 + i) for i in range(26)}
    | {chr(0xFF41 + i): chr(0x61 + i) for i in range(26)}
    | {"％": "%", "﹪": "%", "－": "-", "−": "-", "／": "/", "＋": "+", "＆": "&"}
)
_FULLWIDTH_POINT_RE = re.compile(r"(?<=[0-9])．(?=[0-9])")
# Zero-width characters and controls pasted from web pages; they only confuse the rules below.
_INVISIBLE_RE = re.compile(
    r"[\u200b-\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000-\ue00f]"
)

_TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_SYLLABLE = rf"[A-Za-zü{_TONE_VOWELS}]{{1,6}}[1-5]?"
_PINYIN_RE = re.compile(
    rf"(?<=[{HAN}])[ \t]*[(（][ \t]*({_SYLLABLE}(?:[ \t'’-]{{1,3}}{_SYLLABLE}){{0,7}})[ \t]*[)）]"
)
_TONE_RE = re.compile(rf"[{_TONE_VOWELS}]|[A-Za-zü][1-5]")

_NEWLINES = str.maketrans(dict.fromkeys("\r\x85\u2028\u2029", "\n"))
_BLANKS_RE = re.compile(r"[^\S\n]+")
_NEWLINE_RE = re.compile(r" ?\n[\n ]*")
_HAN_SPACE_RE = re.compile(rf"(?<=[{HAN}]) (?=[{HAN}])")
_SPACES_RE = re.compile(r"\s+")
_CJK_SPACE_RE = re.compile(r" (?=[^\x00-\u2e7f])|(?<=[^\x00-\u2e7f]) ")
# "..." or "。。。" is one pause, not three.
_REPEATED_STOP_RE = re.compile(r"。{2,}")
_PAUSE_RUN_RE = re.compile(r" ?[\ue000\ue001](?: ?[\ue000\ue001])* ?")


def drop_markers(text: str) -> str:
    """The text without reading marks (``CITATION``), as it is shown."""
    return text.replace(CITATION, "")


def _tag_pause(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    if name == "br":
        return WEAK_PAUSE
    return STRONG_PAUSE if name in _BLOCK_TAGS else ""


def strip_markup(text: str) -> str:
    """Unescape HTML entities and drop tags; ``<br>`` and block tags leave pause markers."""
    text = _INVISIBLE_RE.sub("", text)
    # Pasted text is sometimes escaped twice (``&amp;nbsp;``); unescape until it settles.
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = _INVISIBLE_RE.sub("", text)
    text = _SCRIPT_RE.sub("", text)
    text = _COMMENT_RE.sub("", text)
    text = _DECLARATION_RE.sub("", text)
    return _TAG_RE.sub(_tag_pause, text)


def fold_fullwidth(text: str) -> str:
    """Fold full-width digits, letters and number signs to ASCII: one set of rules reads both."""
    return _FULLWIDTH_POINT_RE.sub(".", text.translate(_FULLWIDTH))


def _drop_pinyin(match: re.Match[str]) -> str:
    # Only an annotation with tones is surely pinyin; (app) or (PM) after a word is not.
    return "" if _TONE_RE.search(match.group(1)) else match.group(0)


def drop_pinyin_annotations(text: str) -> str:
    """Remove pinyin given in parentheses after Han characters: 时(shí)间 -> 时间."""
    return _PINYIN_RE.sub(_drop_pinyin, text)


def collapse_whitespace(text: str) -> str:
    """Line breaks and spaces between Han words become weak pauses; other runs one space."""
    text = _BLANKS_RE.sub(" ", text.translate(_NEWLINES))
    text = _NEWLINE_RE.sub(WEAK_PAUSE, text)
    # Web pages separate phrases with spaces ("通知 各位居民"); Chinese has none inside a phrase.
    return _HAN_SPACE_RE.sub(WEAK_PAUSE, text)


def _resolve_pause(match: re.Match[str]) -> str:
    # The run swallows the spaces around it, so its neighbours are the characters next to it.
    source = match.string
    if match.start() == 0 or match.end() == len(source):
        return ""
    if source[match.start() - 1] in PAUSE_PUNCTUATION or source[match.end()] in PAUSE_PUNCTUATION:
        return ""
    return "。" if STRONG_PAUSE in match.group(0) else "，"


def finish_spacing(text: str) -> str:
    """Resolve pause markers, drop spaces that touch CJK text, merge repeated full stops."""
    text = _SPACES_RE.sub(" ", text)
    text = _PAUSE_RUN_RE.sub(_resolve_pause, text)
    text = _SPACES_RE.sub(" ", text).strip()
    return _REPEATED_STOP_RE.sub("。", _CJK_SPACE_RE.sub("", text))
