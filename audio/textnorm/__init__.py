"""Text as it will be spoken: announcement text rewritten for espeak-ng's ``cmn-latn-pinyin`` voice.

``normalize`` leaves no Arabic digit and no Latin letter behind: numbers, dates, times, units,
phone numbers and abbreviations become the Han characters a Mandarin announcer would say.
``read`` also gives the tone-numbered pinyin a pinyin voice is fed (``audio.textnorm.pinyin``);
the normalizer marks each 一 that keeps its first tone (codes, dates, ordinals, clock hours).

Readings chosen where usage varies:

- 两 for a lone 2 before a measure word (两人, 两点, 两公里) and for a leading 2 before
  百/千/万/亿 in quantities (两百米, 两千元); 二 in ordinals (第二, 二号, 二楼, 第二百名),
  dates, decimals (二点五) and inner digits (一千二百).
- Codes are read digit by digit with 幺 for 1: phone numbers (0357-2021234, 400-800-1234),
  any run of seven or more digits, numbers written with a leading zero, and numbers after
  热线/电话/拨打/致电/联系/报警/举报... or well-known service numbers (110, 12345, 96110) named
  right before such a word. Years are read digit by digit with 一 (二零二二年, 一九九八年).
- Other codes are read digit by digit with 幺 too (issue 16): licence plates (晋L·A1234 ->
  晋艾勒诶幺二三四), a capital letter with digits (G108, K1234次, N95), road numbers (209国道),
  room numbers of three or four digits (301室; window numbers such as 12号窗口 stay numbers, as
  they are said locally), verification codes and card tails (验证码, 尾号), service numbers
  (95588, 10086, 12xxx) named next to 客服/热线/冒充..., and 3·15; generations (90后 -> 九零后)
  and years in document numbers (〔2024〕) with 零 and 一.
- Symbols: 3#楼 -> 三号楼, 按#键 -> 按井号键, ¥1,200元 -> 一千二百元 (元 said once), $ -> 美元,
  3×4 -> 三乘四, a slash between words pauses, a dot inside a name is dropped, bullets pause.
- Latin words with a Chinese name (APP, WiFi, QQ, Tel) are replaced; unit symbols after a
  number are read as units; every other Latin word is spelled with Chinese letter names.
- ``a/b`` between small numbers is a fraction (1/3 -> 三分之一); month/day with a slash is
  not recognised as a date, only year/month/day is.
- Line breaks, ``<br>`` and spaces between Han words become a comma pause, block tags a full stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audio.textnorm.hanzi import apply_lexicon, split_lexicon, to_simplified
from audio.textnorm.latin import read_abbreviations, read_latin, read_punctuation
from audio.textnorm.markup import (
    collapse_whitespace,
    drop_markers,
    drop_pinyin_annotations,
    finish_spacing,
    fold_fullwidth,
    strip_markup,
)
from audio.textnorm.quantities import read_percentages, read_quantities, read_units
from audio.textnorm.rules import (
    mark_ranges,
    read_calendar,
    read_codes,
    read_leading_zeros,
    read_signs,
    read_symbols,
    read_times,
    spell_out_dates,
)

__all__ = ["Reading", "normalize", "read", "to_pinyin"]


@dataclass(frozen=True, slots=True)
class Reading:
    """A text as spoken: ``spoken`` in characters (shown for review), ``pinyin`` the
    tone-numbered syllables a pinyin voice is given (see ``audio.textnorm.pinyin``)."""

    spoken: str
    pinyin: str
    # (character, syllable) for each Han character and (mark, mark) for each pause.
    pairs: tuple[tuple[str, str], ...] = ()


def _spoken(text: str, lexicon: Mapping[str, str] | None) -> str:
    """The spoken text with the normalizer's reading marks (see ``pinyin.CITATION``)."""
    if not text:
        return ""
    text = strip_markup(text)
    text = fold_fullwidth(text)
    text = drop_pinyin_annotations(text)
    text = collapse_whitespace(text)
    text = to_simplified(text)
    # Names come before numbers so a spoken form may itself contain digits to be read.
    # Entries whose reading is pinyin keep their characters here; the pinyin step uses them.
    text = apply_lexicon(text, split_lexicon(lexicon)[0])
    text = read_abbreviations(text)
    text = read_symbols(text)
    text = read_codes(text)
    text = spell_out_dates(text)
    text = mark_ranges(text)
    text = read_signs(text)
    text = read_calendar(text)
    text = read_times(text)
    text = read_leading_zeros(text)
    text = read_percentages(text)
    text = read_units(text)
    text = read_quantities(text)
    text = read_latin(text)
    text = read_punctuation(text)
    return finish_spacing(text)


def normalize(text: str, lexicon: Mapping[str, str] | None = None) -> str:
    """Return ``text`` exactly as it will be spoken.

    Strips HTML, pinyin annotations and Traditional characters, applies ``lexicon`` (written
    word -> spoken form, longest match first), then reads codes, dates, times, ranges, signs,
    units and quantities in Chinese and spells leftover Latin letters. Never raises on a string,
    and normalizing twice gives the same text as normalizing once.
    """
    return drop_markers(_spoken(text, lexicon))


def to_pinyin(text: str, lexicon: Mapping[str, str] | None = None) -> str:
    """The tone-numbered syllables a pinyin voice is given for ``text`` (one line)."""
    return read(text, lexicon).pinyin


def read(text: str, lexicon: Mapping[str, str] | None = None) -> Reading:
    """``text`` as spoken, in characters and in pinyin. Lexicon entries whose reading is
    pinyin (``洪洞 = hóng tóng``) keep their characters and give their syllables."""
    from audio.textnorm import pinyin

    marked = _spoken(text, lexicon)
    pairs = pinyin.syllables(marked, split_lexicon(lexicon)[1])
    return Reading(drop_markers(marked), pinyin.join(pairs), tuple(pairs))
