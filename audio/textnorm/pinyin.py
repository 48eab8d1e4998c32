"""Grapheme to pinyin: normalized Han text as tone-numbered syllables for espeak-ng's
``cmn-latn-pinyin`` voice, which reads each character with one fixed reading but reads
tone-numbered pinyin as written.

Readings come from pypinyin's phrase dictionary (words matched longest first, left to right),
our own additions in ``readings.py``, and the lexicon. Then, over each clause:

- 一 and 不 change tone by what follows (the engine reads them as written): 一定 yi2 ding4,
  一天 yi4 tian1, 不是 bu2 shi4, 看一看 kan4 yi5 kan4, 是不是 shi4 bu5 shi4; 一 stays yi1 in
  codes, years, ordinals, clock hours and dates (the normalizer marks those with ``CITATION``),
  after 第, before another digit, at a clause or word end (统一), and inside numbers (十一).
- Third-tone sandhi (你好 ni2 hao3) is left to the engine, which applies it itself.
- The neutral tone is written 5 (便宜 pian2 yi5); 儿化 is a light ``er5`` after the syllable.
- 地 after an adverb-forming word is de5 (认真地), 得 as a modal is dei3, as a complement de5.

Importing this module is cheap; pypinyin and its dictionaries (about 50 MB, 0.3 to 1 s) load on
the first conversion, or ahead of time with ``warm_up()``.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from importlib import metadata

from audio.textnorm import readings
from audio.textnorm.markup import CITATION

# Bump when the rules below change the syllables they produce.
RULES_VERSION = 1

HAN_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3007"
_HAN_RUN_RE = re.compile(rf"[{HAN_CHARS}{CITATION}]+")
# Punctuation that makes the engine pause; other symbols are dropped.
PAUSES = "，。！？；：、"
_PAUSE_FOR = dict.fromkeys("（）()《》〈〉【】〔〕「」『』[]{}—…–-~～·•", "，") | {
    ",": "，",
    ".": "。",
    "!": "！",
    "?": "？",
    ";": "；",
    ":": "：",
}
_NUMERALS = frozenset("零〇一二三四五六七八九十百千万亿两幺")
_DIGITS = frozenset("零〇一二三四五六七八九幺")
_PLACES = frozenset("百千万亿")
_ORDINAL_AFTER = frozenset("号月")
_YI_FINAL_AFTER = frozenset("统唯万同单专逐归之")
_YI_WEEKDAY_AFTER = frozenset("周期拜")
_MEASURES = frozenset("次回遍趟天个")
_TIMES_OF_DAY = ("上午", "下午", "中午", "晚上", "凌晨", "早上", "早晨", "夜里", "夜间", "傍晚")
_CLOCK_AFTER = _NUMERALS | {"半", "钟", "整"}

_TONE_MARKS = {
    **dict.fromkeys("āēīōūǖ", 1),
    **dict.fromkeys("áéíóúǘḿń", 2),
    **dict.fromkeys("ǎěǐǒǔǚň", 3),
    **dict.fromkeys("àèìòùǜǹ", 4),
}
_SYLLABLE_RE = re.compile(r"[a-zü]+[1-5]")
_LOCK = threading.Lock()


@functools.cache
def g2p_id() -> str:
    """What produced the syllables, for cache keys: pypinyin's version and our tables (read
    once: looking a version up scans the installed packages, ~2 ms, and this is asked for
    every clip)."""
    return (
        f"pypinyin-{metadata.version('pypinyin')}"
        f"/rules-{RULES_VERSION}/tables-{readings.TABLES_DIGEST}"
    )


def syllable_of(written: str) -> str | None:
    """One pinyin syllable as tone-numbered lower case (``hóng`` -> ``hong2``, ``lv4`` ->
    ``lü4``, ``ma`` -> ``ma5``), or None if it is no syllable of Mandarin."""
    tone = 0
    letters = []
    for ch in unicodedata.normalize("NFC", written.strip().lower()):
        if ch in _TONE_MARKS:
            tone = _TONE_MARKS[ch]
            ch = "ü" if ch in "ǖǘǚǜ" else unicodedata.normalize("NFD", ch)[0]
        letters.append(ch)
    body = "".join(letters).replace("v", "ü")
    if body[-1:].isdigit():
        tone, body = int(body[-1]), body[:-1]
    if not body or not 0 <= tone <= 5 or body not in _valid_syllables():
        return None
    return f"{body}{tone or 5}"


def reading_of(written: str) -> str | None:
    """A lexicon value as syllables (``hóng tóng`` -> ``hong2 tong2``), or None if the value is
    not pinyin with tones (tone marks or numbers on every syllable but neutral ones)."""
    parts = [part for part in re.split(r"[\s'’\-]+", written.strip()) if part]
    if not parts or not any(_has_tone(part) for part in parts):
        return None
    syllables = [syllable_of(part) for part in parts]
    if any(s is None for s in syllables):
        return None
    return " ".join(s for s in syllables if s)


_PINYIN_CHARS_RE = re.compile(rf"[A-Za-z0-9üÜ' ’\-{''.join(_TONE_MARKS)}]+")


def looks_like_pinyin(written: str) -> bool:
    """Whether a lexicon value is meant as pinyin: Latin letters with tone marks or numbers."""
    stripped = written.strip()
    return bool(_PINYIN_CHARS_RE.fullmatch(stripped)) and any(
        _has_tone(part) for part in stripped.split()
    )


def _has_tone(part: str) -> bool:
    return any(ch in _TONE_MARKS for ch in part) or bool(re.search(r"[a-zA-Züv][1-5]$", part))


@functools.cache
def _valid_syllables() -> frozenset[str]:
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.contrib.tone_convert import to_normal

    found = {"m", "n", "ng", "hm", "hng", "ê"}
    for value in PINYIN_DICT.values():
        for written in value.split(","):
            found.add(to_normal(written, v_to_u=True))
    return frozenset(found)


class _Pypinyin:
    """pypinyin with our tables loaded: ``words`` segments, ``read`` gives syllables."""

    def __init__(self) -> None:
        from pypinyin import Style, lazy_pinyin, load_phrases_dict
        from pypinyin.contrib.tone_convert import tone3_to_tone

        def marked(syllables: str) -> list[list[str]]:
            return [[tone3_to_tone(s)] for s in syllables.split()]

        load_phrases_dict({word: marked(s) for word, s in readings.PHRASES.items()})
        from pypinyin.constants import PHRASES_DICT

        self._lazy_pinyin = lazy_pinyin
        self._style = Style.TONE3
        self._phrases = PHRASES_DICT
        self._longest = min(12, max(len(word) for word in PHRASES_DICT))

    def words(self, text: str) -> list[str]:
        """Words of pypinyin's phrase dictionary matched longest first from the right (reverse
        maximum matching: 从重庆 splits 从/重庆, where matching from the left takes 从重)."""
        out: list[str] = []
        end = len(text)
        while end > 0:
            for size in range(min(self._longest, end), 0, -1):
                word = text[end - size : end]
                if size == 1 or word in self._phrases:
                    out.append(word)
                    end -= size
                    break
        out.reverse()
        return out

    def read(self, words: list[str]) -> list[str]:
        return self._lazy_pinyin(words, style=self._style, neutral_tone_with_five=True, v_to_u=True)


_ENGINE: list[_Pypinyin] = []


def _pypinyin() -> _Pypinyin:
    """The one loaded pypinyin of this process (threads that ask at once wait for it)."""
    if not _ENGINE:
        with _LOCK:
            if not _ENGINE:
                _ENGINE.append(_Pypinyin())
    return _ENGINE[0]


def warm_up() -> None:
    """Load pypinyin and the dictionaries now (the server does this at start, in a thread)."""
    to_pinyin("一")


class _Syllable:
    """One Han character and its reading, with what the rules need to know about it."""

    __slots__ = ("char", "cited", "fixed", "segment", "syllable", "word_end", "word_start")

    def __init__(
        self, char: str, syllable: str, *, segment: str, word_start: bool, word_end: bool
    ) -> None:
        self.char = char
        self.syllable = syllable
        self.segment = segment  # the dictionary word it was read in ("" for a lexicon word)
        self.word_start = word_start
        self.word_end = word_end
        self.cited = False  # marked by the normalizer: 一 reads yi1
        self.fixed = False  # given by the lexicon: no rule changes it


def _tone(syllable: str) -> int:
    """The tone of a syllable (of the first, for a lexicon reading of several)."""
    first = syllable.split(" ", 1)[0]
    return int(first[-1]) if first[-1:].isdigit() else 5


def _read_run(run: str, lexicon: Mapping[str, str]) -> list[_Syllable]:
    """Syllables of a run of Han characters (with ``CITATION`` marks)."""
    cited = set()
    chars: list[str] = []
    for ch in run:
        if ch == CITATION:
            cited.add(len(chars))
        else:
            chars.append(ch)
    text = "".join(chars)
    out: list[_Syllable] = []
    for piece, given in _split_by_lexicon(text, lexicon):
        if given is not None:
            parts = given.split()
            for i, ch in enumerate(piece):
                syl = _Syllable(ch, "", segment="", word_start=i == 0, word_end=i == len(piece) - 1)
                syl.fixed = True
                syl.syllable = parts[i] if i < len(parts) else ""
                out.append(syl)
            # A reading with more syllables than characters: the rest go with the last one.
            if len(parts) > len(piece) and out:
                out[-1].syllable = " ".join(parts[len(piece) - 1 :])
            continue
        out.extend(_read_free(piece))
    for index in cited:
        if index < len(out):
            out[index].cited = True
    return out


@functools.lru_cache(maxsize=32)
def _readings(entries: tuple[tuple[str, str], ...]) -> dict[str, str]:
    found = {word: reading_of(written) for word, written in entries if word}
    return {word: reading for word, reading in found.items() if reading}


def _split_by_lexicon(text: str, lexicon: Mapping[str, str]) -> Iterator[tuple[str, str | None]]:
    if not lexicon:
        yield text, None
        return
    pattern = _lexicon_pattern(tuple(sorted(lexicon)))
    last = 0
    for match in pattern.finditer(text):
        if match.start() > last:
            yield text[last : match.start()], None
        yield match.group(0), lexicon[match.group(0)]
        last = match.end()
    if last < len(text):
        yield text[last:], None


@functools.lru_cache(maxsize=32)
def _lexicon_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(words, key=lambda word: (-len(word), word))
    return re.compile("|".join(re.escape(word) for word in ordered))


def _read_free(text: str) -> list[_Syllable]:
    engine = _pypinyin()
    words = engine.words(text)
    read = engine.read(words)
    if len(read) != len(text):  # never seen; keep the characters aligned regardless
        read = [engine.read([ch])[0] for ch in text]
    out: list[_Syllable] = []
    for word in words:
        for i, ch in enumerate(word):
            out.append(
                _Syllable(
                    ch, read[len(out)], segment=word, word_start=i == 0, word_end=i == len(word) - 1
                )
            )
    return out


def _apply_rules(clause: list[_Syllable]) -> None:
    """Particles, 儿化 and the tone changes of 一 and 不, within one clause."""
    text = "".join(s.char for s in clause)
    for i, s in enumerate(clause):
        if s.fixed:
            continue
        before = text[:i]
        # 地 may start a dictionary word by chance (认真地学习: 地学); the particle wins.
        if s.char == "地" and i > 0 and s.word_start:
            reduplicated = i >= 2 and text[i - 1] == text[i - 2]
            if reduplicated or any(before.endswith(w) for w in readings.ADVERBIAL_BEFORE_DI):
                s.syllable = "de5"
            continue
        if len(s.segment) > 1:
            continue
        if s.char == "为" and i > 0:
            if text[i - 1] in readings.COPULA_WEI_AFTER or (
                i + 1 < len(clause) and text[i + 1] in _NUMERALS
            ):
                s.syllable = "wei2"
        elif s.char == "地" and i > 0:
            reduplicated = i >= 2 and text[i - 1] == text[i - 2]
            if reduplicated or any(before.endswith(w) for w in readings.ADVERBIAL_BEFORE_DI):
                s.syllable = "de5"
        elif s.char == "得" and i > 0:
            modal = any(before.endswith(w) for w in readings.MODAL_BEFORE_DEI)
            s.syllable = "dei3" if modal and i + 1 < len(clause) else "de5"
        elif s.char == "儿" and i > 0:
            starts_word = i + 1 < len(clause) and text[i + 1] in readings.ER_BEFORE
            if text[i - 1] not in readings.ER_AFTER and not starts_word:
                s.syllable = "er5"
    for i, s in enumerate(clause):
        if s.fixed:
            continue
        prev = clause[i - 1] if i > 0 else None
        nxt = clause[i + 1] if i + 1 < len(clause) else None
        if s.char == "不" and s.syllable.startswith("bu"):
            s.syllable = _bu(s, prev, nxt)
        elif s.char == "一" and s.syllable.startswith("yi"):
            after = clause[i + 2] if i + 2 < len(clause) else None
            clock = text[:i].endswith(_TIMES_OF_DAY)
            s.syllable = _yi(s, prev, nxt, after, clock=clock)
        elif (
            s.char == "数"
            and nxt is not None
            and nxt.char == "一"
            and i + 2 < len(clause)
            and clause[i + 2].char == "数"
        ):
            s.syllable = clause[i + 2].syllable = "shu3"


def _bu(s: _Syllable, prev: _Syllable | None, nxt: _Syllable | None) -> str:
    if s.syllable == "bu5":
        return "bu5"  # light in the word it belongs to (差不多, 受不了)
    if nxt is None:
        return "bu4"
    if prev is not None and prev.char == nxt.char:
        return "bu5"  # 是不是, 好不好
    return "bu2" if _tone(nxt.syllable) == 4 else "bu4"


def _yi(
    s: _Syllable,
    prev: _Syllable | None,
    nxt: _Syllable | None,
    after: _Syllable | None,
    *,
    clock: bool,
) -> str:
    if s.cited or nxt is None:
        return "yi1"
    if prev is not None and prev.char == nxt.char and prev.char not in _NUMERALS:
        return "yi5"  # 看一看
    if prev is not None and prev.char == "第" and nxt.char not in _PLACES:
        return "yi1"  # 第一 (but 第一百 is dì yì bǎi)
    if nxt.char in _DIGITS:
        return "yi1"  # 一九九八, 一一
    if prev is not None and prev.char in _NUMERALS and nxt.char not in _PLACES:
        return "yi1"  # 十一, 二十一日, 一百零一, 一百一十
    if prev is not None and prev.char in _YI_FINAL_AFTER:
        return "yi1"  # 统一, 唯一, 万一, 之一
    if prev is not None and prev.char in _YI_WEEKDAY_AFTER and nxt.char not in _MEASURES:
        return "yi1"  # 周一, 星期一 (but 每周一次)
    if nxt.char in _ORDINAL_AFTER:
        return "yi1"  # 一号, 一月
    if prev is not None and prev.char == "月" and nxt.char in "日号":
        return "yi1"  # 十一月一日
    if prev is not None and prev.char in "楼栋幢号" and nxt.char in "层楼室":
        return "yi1"  # 一号楼一层
    if nxt.char == "点" and (clock or (after is not None and after.char in _CLOCK_AFTER)):
        return "yi1"  # 下午一点, 一点半
    if s.word_end and len(s.segment) > 1:
        return "yi1"
    return "yi2" if _tone(nxt.syllable) == 4 else "yi4"


def syllables(text: str, lexicon: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(character, syllable)`` for each Han character of ``text``, and ``(mark, mark)`` for
    each pause; other characters are dropped. ``lexicon`` maps Han words to pinyin readings
    (``hóng tóng`` or ``hong2 tong2``); a reading that is no pinyin is ignored."""
    lexicon = _readings(tuple(sorted((lexicon or {}).items())))
    out: list[tuple[str, str]] = []
    clause: list[_Syllable] = []

    def close_clause() -> None:
        _apply_rules(clause)
        out.extend((s.char, s.syllable) for s in clause)
        clause.clear()

    position = 0
    for match in _HAN_RUN_RE.finditer(text):
        for ch in text[position : match.start()]:
            mark = ch if ch in PAUSES else _PAUSE_FOR.get(ch)
            if mark is not None:
                close_clause()
                out.append((mark, mark))
        clause.extend(_read_run(match.group(0), lexicon))
        position = match.end()
    for ch in text[position:]:
        mark = ch if ch in PAUSES else _PAUSE_FOR.get(ch)
        if mark is not None:
            close_clause()
            out.append((mark, mark))
    close_clause()
    return out


def to_pinyin(text: str, lexicon: Mapping[str, str] | None = None) -> str:
    """The syllables of ``text`` as given to the engine: ``yin2 hang2， ni3 hao3。``."""
    return join(syllables(text, lexicon))


def join(pairs: list[tuple[str, str]]) -> str:
    """``syllables()`` as one line: pauses stick to the syllable before them, a leading pause
    is dropped and a run of pauses becomes the strongest of them."""
    words: list[str] = []
    for char, syllable in pairs:
        if char in PAUSES:
            if words and words[-1][-1:] not in PAUSES:
                words[-1] += char
            elif words and _stronger(char, words[-1][-1]):
                words[-1] = words[-1][:-1] + char
        elif syllable:
            words.append(syllable)
    return " ".join(words)


def with_tone_marks(syllable: str) -> str:
    """``yin2`` -> ``yín``, ``yi5`` -> ``yi`` (for people to read; the engine gets numbers)."""
    from pypinyin.contrib.tone_convert import tone3_to_tone

    return " ".join(tone3_to_tone(part) for part in syllable.split())


_STRENGTH = {"、": 0, "，": 1, "；": 2, "：": 2, "。": 3, "？": 3, "！": 3}


def _stronger(new: str, old: str) -> bool:
    return _STRENGTH.get(new, 0) > _STRENGTH.get(old, 0)
