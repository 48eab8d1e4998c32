"""Text as it will be spoken: announcement text rewritten for espeak-ng's ``cmn-latn-pinyin`` voice.

``normalize`` leaves no Arabic digit and no Latin letter behind: numbers, dates, times, units,
phone numbers and abbreviations become the Han characters a Mandarin announcer would say.

Readings chosen where usage varies:

- 两 for a lone 2 before a measure word (两人, 两点, 两公里) and for a leading 2 before
  百/千/万/亿 in quantities (两百米, 两千元); 二 in ordinals (第二, 二号, 二楼, 第二百名),
  dates, decimals (二点五) and inner digits (一千二百).
- Codes are read digit by digit with 幺 for 1: phone numbers (0357-2021234, 400-800-1234),
  any run of seven or more digits, numbers written with a leading zero, and numbers after
  热线/电话/拨打/致电/联系/报警/举报... or well-known service numbers (110, 12345, 96110) named
  right before such a word. Years are read digit by digit with 一 (二零二二年, 一九九八年).
- Latin words with a Chinese name (APP, WiFi, QQ, Tel) are replaced; unit symbols after a
  number are read as units; every other Latin word is spelled with Chinese letter names.
- ``a/b`` between small numbers is a fraction (1/3 -> 三分之一); month/day with a slash is
  not recognised as a date, only year/month/day is.
- Line breaks, ``<br>`` and spaces between Han words become a comma pause, block tags a full stop.
"""

from __future__ import annotations

from collections.abc import Mapping

from audio.textnorm.hanzi import apply_lexicon, to_simplified
from audio.textnorm.latin import read_abbreviations, read_latin, read_punctuation
from audio.textnorm.markup import (
    collapse_whitespace,
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
    read_times,
    spell_out_dates,
)

__all__ = ["normalize"]


def normalize(text: str, lexicon: Mapping[str, str] | None = None) -> str:
    """Return ``text`` exactly as it will be spoken.

    Strips HTML, pinyin annotations and Traditional characters, applies ``lexicon`` (written
    word -> spoken form, longest match first), then reads codes, dates, times, ranges, signs,
    units and quantities in Chinese and spells leftover Latin letters. Never raises on a string,
    and normalizing twice gives the same text as normalizing once.
    """
    if not text:
        return ""
    text = strip_markup(text)
    text = fold_fullwidth(text)
    text = drop_pinyin_annotations(text)
    text = collapse_whitespace(text)
    text = to_simplified(text)
    # Names come before numbers so a spoken form may itself contain digits to be read.
    text = apply_lexicon(text, lexicon)
    text = read_abbreviations(text)
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
