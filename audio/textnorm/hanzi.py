"""Han-character rewrites: Traditional to Simplified, and the pronunciation lexicon."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Protocol


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@functools.cache
def _t2s() -> _Converter:
    # Loading OpenCC reads its dictionaries; do it on first use, never at import time.
    from opencc import OpenCC

    converter: _Converter = OpenCC("t2s")
    return converter


def to_simplified(text: str) -> str:
    """Convert Traditional characters to Simplified ones (時間 -> 时间); others pass through."""
    return _t2s().convert(text) if text else text


@functools.lru_cache(maxsize=32)
def _compile(entries: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    table = {to_simplified(word): spoken for word, spoken in entries if word}
    # Python tries alternatives in order, so longest-first makes the match longest-first.
    words = sorted(table, key=lambda word: (-len(word), word))
    return re.compile("|".join(re.escape(word) for word in words)), table


def apply_lexicon(text: str, lexicon: Mapping[str, str] | None) -> str:
    """Replace lexicon words by their spoken form, longest match first, left to right.

    Keys are compared in Simplified form, so a Traditional key matches too. Spoken forms are
    used as given: write them in Simplified characters to keep normalization idempotent.
    """
    if not lexicon or not text:
        return text
    entries = tuple(sorted((str(word), str(spoken)) for word, spoken in lexicon.items()))
    if not any(word for word, _ in entries):
        return text
    pattern, table = _compile(entries)
    return pattern.sub(lambda match: table[match.group(0)], text)


def split_lexicon(
    lexicon: Mapping[str, str] | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Split a lexicon into entries spoken as other characters (洪洞 = 洪同) and entries read
    in pinyin (洪洞 = hóng tóng); the keys of the second kind in Simplified characters."""
    if not lexicon:
        return {}, {}
    return _split(tuple(sorted((str(word), str(spoken)) for word, spoken in lexicon.items())))


@functools.lru_cache(maxsize=32)
def _split(entries: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], dict[str, str]]:
    from audio.textnorm.pinyin import looks_like_pinyin

    plain: dict[str, str] = {}
    pinyin: dict[str, str] = {}
    for word, spoken in entries:
        if not word:
            continue
        if looks_like_pinyin(spoken):
            pinyin[to_simplified(word)] = spoken
        else:
            plain[word] = spoken
    return plain, pinyin
