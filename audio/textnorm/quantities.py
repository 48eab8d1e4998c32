"""Quantities: percentages, temperatures, units of measure, decimals and integers.

Runs after ``rules``, so every digit left here is a quantity (or an ordinal such as 第2, 2号).
"""

from __future__ import annotations

import re

from audio.textnorm.numbers import cite_alone, read_cardinal, read_decimal

_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PERCENT_RE = re.compile(rf"(?<![0-9])({_NUMBER}) ?([%‰])")
# The amount says 元 once, even when written ¥1,200元; $ is 美元.
_CURRENCY_RE = re.compile(rf"([¥￥$]) ?({_NUMBER}(?:,[0-9]{{3}})*)(?: ?(?:元|块)(?!钱))?")
# 1/3 is a fraction; dates with slashes (2022/10/19) were spelled out before this runs.
_FRACTION_RE = re.compile(r"(?<![0-9./])([0-9]{1,3})/([0-9]{1,3})(?![0-9./])")

# Symbols read the same wherever they stand; °C before °, so 5°C is not read 五度C.
_SYMBOLS = {
    "°C": "摄氏度",
    "° C": "摄氏度",
    "℃": "摄氏度",
    "°F": "华氏度",
    "℉": "华氏度",
    "°": "度",
    "㎡": "平方米",
    "㎥": "立方米",
    "㎞": "公里",
    "㎏": "公斤",
    "㎝": "厘米",
    "㎜": "毫米",
}

# Unit symbols read only right after a number (5m, 2 kg): alone, m or g is just a letter.
_UNITS = {
    "km": "公里",
    "kg": "公斤",
    "mg": "毫克",
    "g": "克",
    "cm": "厘米",
    "mm": "毫米",
    "m": "米",
    "m²": "平方米",
    "m2": "平方米",
    "m³": "立方米",
    "m3": "立方米",
    "km²": "平方公里",
    "t": "吨",
    "L": "升",
    "l": "升",
    "ml": "毫升",
    "mL": "毫升",
    "h": "小时",
    "min": "分钟",
    "s": "秒",
    "kW": "千瓦",
    "kWh": "千瓦时",
    "kW·h": "千瓦时",
    "kV": "千伏",
}
# Multi-letter symbols are also written in capitals (KM, KG); single letters are not (5M, 5G).
_UNITS.update({symbol.upper(): spoken for symbol, spoken in _UNITS.items() if len(symbol) > 1})
_UNITS.update({"Km": "公里", "Kg": "公斤", "KM/H": "公里每小时"})
_UNIT_ALTERNATION = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_UNIT_RE = re.compile(
    rf"(?<=[0-9]) ?({_UNIT_ALTERNATION})(?:/({_UNIT_ALTERNATION}|小时|秒|人|天))?(?![A-Za-z0-9²³])"
)
# Without a number only unmistakable multi-letter units are read (每kg, km/h).
_BARE_UNITS = {"km/h": "公里每小时", "km": "公里", "kg": "公斤", "cm": "厘米", "mm": "毫米"}
_BARE_UNIT_RE = re.compile(r"(?<![A-Za-z])(km/h|km|kg|cm|mm)(?![A-Za-z0-9²³])", re.IGNORECASE)
_PER_RE = re.compile(r"(?<=[0-9])(元|块|米|公里|人|户|次|个) ?/ ?(?=[\u4e00-\u9fff])")

_ORDINAL_BEFORE = "第"
_ORDINAL_AFTER = (*"号楼层室栋幢期届路排级组床", "单元")
# A lone 2 reads 两 before these measure words (两人, 两公里); elsewhere it stays 二 (二号, 第二).
_MEASURE_WORDS = (
    *"个人名位户家辆台部条件只支张间把套处起项种份批道座所头趟具盏根棵枚扇遍次回轮剂针顿场",
    *"瓶箱包盒袋本块元角毛斤吨升米克亩天周年岁秒倍万千百亿成",
    *("公里", "千米", "厘米", "毫米", "公斤", "千克", "毫克", "毫升", "公顷", "平方米"),
    *("平方公里", "立方米", "星期", "小时", "钟头", "分钟"),
)
_QUANTITY_RE = re.compile(
    r"(?<![0-9])(?:([0-9]{1,3}(?:,[0-9]{3})+)(?![0-9])|([0-9]+))(?:\.([0-9]+))?"
)


def read_percentages(text: str) -> str:
    """95% -> 百分之九十五, 0.5% -> 百分之零点五, 3‰ -> 千分之三."""

    def spoken(match: re.Match[str]) -> str:
        prefix = "百分之" if match.group(2) == "%" else "千分之"
        # 百分之二 keeps 二 (no measure word follows); 百分之两百 reads like any quantity.
        return prefix + _read_number(match.group(1), liang=match.group(1) != "2")

    return _PERCENT_RE.sub(spoken, text)


def read_units(text: str) -> str:
    """Unit symbols to words: 5km -> 5公里, 60km/h -> 60公里每小时, 37.3℃ -> 37.3摄氏度."""
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = _CURRENCY_RE.sub(lambda m: m.group(2) + ("美元" if m.group(1) == "$" else "元"), text)

    def spoken(match: re.Match[str]) -> str:
        unit, per = match.group(1), match.group(2)
        word = _UNITS[unit]
        if per is not None:
            word += "每" + _UNITS.get(per, per)
        return word

    text = _UNIT_RE.sub(spoken, text)
    text = _BARE_UNIT_RE.sub(lambda m: _BARE_UNITS[m.group(1).lower()], text)
    return _PER_RE.sub(lambda m: m.group(1) + "每", text)


def _read_number(number: str, *, liang: bool) -> str:
    integer, _, fraction = number.partition(".")
    if fraction:
        return read_decimal(integer, fraction, liang=liang)
    return read_cardinal(integer, liang=liang)


def _is_ordinal(source: str, start: int, end: int) -> bool:
    return source[start - 1 : start] == _ORDINAL_BEFORE or source.startswith(_ORDINAL_AFTER, end)


def _read_quantity(match: re.Match[str]) -> str:
    source, start, end = match.string, match.start(), match.end()
    integer = (match.group(1) or match.group(2)).replace(",", "")
    fraction = match.group(3)
    if fraction is not None:
        return read_decimal(integer, fraction, liang=not _is_ordinal(source, start, end))
    ordinal = _is_ordinal(source, start, end)
    if integer == "2":
        liang = not ordinal and source.startswith(_MEASURE_WORDS, end)
    else:
        liang = not ordinal
    spoken = read_cardinal(integer, liang=liang)
    # 一号楼, 一层 are yī; 第一 is found by the pinyin step (第 before it).
    return cite_alone(spoken) if ordinal and source[start - 1 : start] != "第" else spoken


def _read_fraction(match: re.Match[str]) -> str:
    numerator, denominator = match.group(1), match.group(2)
    return read_cardinal(denominator) + "分之" + read_cardinal(numerator)


def read_quantities(text: str) -> str:
    """Fractions, decimals and integers: 1/3 -> 三分之一, 1,200 -> 一千二百, 2米 -> 两米."""
    text = _FRACTION_RE.sub(_read_fraction, text)
    return _QUANTITY_RE.sub(_read_quantity, text)
