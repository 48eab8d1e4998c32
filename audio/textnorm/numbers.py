"""Readings of digit strings in Mandarin: cardinal numbers, decimals and digit-by-digit codes.

Every function takes ASCII digit strings (``[0-9]+``) and returns Han characters only.
"""

from __future__ import annotations

from audio.textnorm.markup import CITATION

_DIGITS = "零一二三四五六七八九"
_GROUP_UNITS = ("", "万", "亿", "万亿")
_PLACE_UNITS = ("", "十", "百", "千")
# Beyond 万亿 a cardinal reading is of no use to a listener: read such numbers digit by digit.
_MAX_CARDINAL_DIGITS = 4 * len(_GROUP_UNITS)


def read_digits(digits: str, *, yao: bool = False) -> str:
    """Read ``digits`` one by one; ``yao`` reads 1 as 幺, as announcers read phone numbers.

    Without ``yao`` each 一 is marked to keep its first tone (一九九八, not yì jiǔ).
    """
    text = "".join(_DIGITS[int(ch)] for ch in digits)
    return text.replace("一", "幺") if yao else cite(text)


def cite(text: str) -> str:
    """Mark every 一 of ``text`` to be read yī (a code, an ordinal, a date, a clock hour)."""
    return text.replace("一", CITATION + "一")


def cite_alone(text: str) -> str:
    """Mark ``text`` if it is a lone 一 (一号, 一月, 一点): inside a larger number the
    pinyin step finds the tone itself (十一号, 一百号)."""
    return cite(text) if text == "一" else text


def _read_group(group: str) -> str:
    """Read up to four digits with their places (千百十), inserting 零 for inner zeros."""
    out: list[str] = []
    zero_pending = False
    for index, ch in enumerate(group):
        place = len(group) - 1 - index
        if ch == "0":
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGITS[int(ch)] + _PLACE_UNITS[place])
    return "".join(out)


def read_cardinal(digits: str, *, liang: bool = False) -> str:
    """Read an integer as a quantity: ``1005`` -> 一千零五, ``10`` -> 十, ``110`` -> 一百一十.

    With ``liang`` (a quantity, not an ordinal) a lone 2 reads 两 and a leading 2 before
    百/千/万/亿 reads 两 as well (``200`` -> 两百); inner twos read 二 (``1200`` -> 一千二百).
    """
    stripped = digits.lstrip("0")
    if not stripped:
        return "零"
    if len(stripped) > _MAX_CARDINAL_DIGITS:
        return read_digits(digits)
    groups: list[str] = []
    while stripped:
        groups.insert(0, stripped[-4:])
        stripped = stripped[:-4]
    parts: list[str] = []
    zero_pending = False
    for index, group in enumerate(groups):
        unit = _GROUP_UNITS[len(groups) - 1 - index]
        if int(group) == 0:
            zero_pending = bool(parts)
            continue
        # An inner group that does not fill its thousands place is preceded by 零 (一万零五百).
        if parts and (zero_pending or group[0] == "0"):
            parts.append("零")
        parts.append(_read_group(group.lstrip("0")) + unit)
        zero_pending = False
    text = "".join(parts)
    # 10..19 at the head of a number read 十.. not 一十.. (十五, 十万); 一百一十 keeps its 一.
    if text.startswith("一十"):
        text = text[1:]
    if liang:
        if text == "二":
            return "两"
        if len(text) > 1 and text[0] == "二" and text[1] in "百千万亿":
            return "两" + text[1:]
    return text


def read_decimal(integer: str, fraction: str, *, liang: bool = False) -> str:
    """Read a decimal number: ``37``, ``3`` -> 三十七点三; the fraction is read digit by digit."""
    head = read_cardinal(integer, liang=liang and len(integer.lstrip("0")) > 1)
    return cite_alone(head) + "点" + read_digits(fraction)
