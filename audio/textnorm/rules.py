"""Pattern rewrites for numbers that are not plain quantities: codes, dates, times, ranges, signs.

The functions run in the order ``normalize`` calls them. Codes (phone numbers, hotlines, IDs)
go first, since their digits must never be read as quantities; full dates are then spelled out
with 年月日 so the range rule sees one uniform shape; years, months, days and clock times are
read last. Digits no rule here claims are left for ``quantities``.
"""

from __future__ import annotations

import re

from audio.textnorm.numbers import read_cardinal, read_digits

_SEP = r"[-‐‑‒–—―~～〜]"

# Measure words after which a number is a count, not a code: 联系200人 is no phone number.
_COUNT_AFTER = r"(?!人|名|个|次|户|家|位|元|万|条|起|辆|天|年|岁|分钟|小时)"
_PHONE_AREA_RE = re.compile(r"(?<![0-9])(0[0-9]{2,3}) ?[-‐‑–—] ?([0-9]{7,8})(?![0-9])")
_PHONE_GROUPS_RE = re.compile(r"(?<![0-9])([0-9]{3,4})-([0-9]{3,4})-([0-9]{4})(?![0-9])")
_HOTLINE_NUMBER = r"[0-9]{3,}(?:-[0-9]{3,})*"
_HOTLINE_RE = re.compile(
    r"(?:热线|电话|拨打|致电|联系|报警|举报|号码|手机|呼叫|求助|咨询|专线)(?:号码|号|电话|热线)?"
    rf"[：:\s是为“\"「（(]{{0,3}}({_HOTLINE_NUMBER}(?:[、/或]{_HOTLINE_NUMBER})*)(?![0-9.])"
    + _COUNT_AFTER
)
# Well-known service numbers named before the word that says so: 拨打12345政务服务热线.
_SERVICE_NUMBER_RE = re.compile(
    r"(?<![0-9.])(110|119|120|122|12345|12315|12110|96110|12320|12348|12355|12123|12333|12369)"
    rf"(?![0-9.]){_COUNT_AFTER}(?=[\u4e00-\u9fff]{{0,6}}?(?:热线|电话|报警|急救|火警|专线|平台|求助))"
)
_LONG_RUN_RE = re.compile(r"(?<![0-9.,])[0-9]{7,}")
_LEADING_ZERO_RE = re.compile(r"(?<![0-9.,])0[0-9]+")

_DATE_RE = re.compile(
    r"(?<![0-9])([12][0-9]{3})([-/.])(0?[1-9]|1[0-2])\2(0?[1-9]|[12][0-9]|3[01])(?![0-9])[日号]?"
)
_YEAR_RANGE_START_RE = re.compile(
    rf"(?<![0-9])([0-9]{{4}})(?=\s?(?:{_SEP}{{1,2}}|至|到)\s?[0-9]{{4}}年)"
)
_YEAR_RE = re.compile(r"(?<![0-9])([0-9]{4}) ?(?=年)")
_MONTH_RE = re.compile(r"(?<![0-9.])(0?[1-9]|1[0-2]) ?(?=月)")
_DAY_RE = re.compile(r"(?<![0-9.])(0?[1-9]|[12][0-9]|3[01]) ?(?=[日号])")

_CLOCK_RE = re.compile(
    r"(?<![0-9.])([01]?[0-9]|2[0-4])[:：]([0-5][0-9])(?:[:：]([0-5][0-9]))?(?![0-9])"
)
_HOUR_RE = re.compile(r"(?<![0-9.])([01]?[0-9]|2[0-4])点(?:([0-5]?[0-9])分(?!钟))?")

_RANGE_RE = re.compile(
    rf"(?<=[0-9])([年月日号点分秒%℃]|°C|[A-Za-z]{{1,3}}(?:/[A-Za-z])?)? ?{_SEP}{{1,2}} ?(?=-?[0-9])"
)
_MINUS_RE = re.compile(r"(?<![0-9A-Za-z])-(?=[0-9])")
_TEMPERATURE_AFTER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)? ?(?:℃|°|摄氏度|度)")


def _read_code(code: str) -> str:
    """Read a phone number or ID digit by digit, a hyphen inside it becoming a short pause."""
    return "，".join(read_digits(part, yao=True) for part in code.split("-") if part)


def _read_hotlines(match: re.Match[str]) -> str:
    codes = match.group(1)
    spoken = re.sub(r"[0-9][0-9-]*[0-9]", lambda m: _read_code(m.group(0)), codes)
    return match.group(0)[: match.start(1) - match.start()] + spoken


def read_codes(text: str) -> str:
    """Phone numbers, hotlines, IDs and zero-led numbers, digit by digit with 幺 for 1."""
    text = _PHONE_AREA_RE.sub(lambda m: _read_code(f"{m.group(1)}-{m.group(2)}"), text)
    text = _PHONE_GROUPS_RE.sub(lambda m: _read_code(m.group(0)), text)
    text = _HOTLINE_RE.sub(_read_hotlines, text)
    text = _SERVICE_NUMBER_RE.sub(lambda m: _read_code(m.group(1)), text)
    return _LONG_RUN_RE.sub(lambda m: _read_code(m.group(0)), text)


def read_leading_zeros(text: str) -> str:
    """A number written with a leading zero is a code (编号007): read it digit by digit."""
    return _LEADING_ZERO_RE.sub(lambda m: _read_code(m.group(0)), text)


def spell_out_dates(text: str) -> str:
    """Rewrite numeric dates with 年月日 so later rules read them: 2022-10-19 -> 2022年10月19日."""
    return _DATE_RE.sub(
        lambda m: f"{m.group(1)}年{int(m.group(3))}月{int(m.group(4))}日",
        text,
    )


def mark_ranges(text: str) -> str:
    """A dash or tilde between two numbers is a range: 3-5 -> 3至5, 7:00—19:00 -> 7:00至19:00."""
    return _RANGE_RE.sub(lambda m: (m.group(1) or "") + "至", text)


def _sign(match: re.Match[str]) -> str:
    source = match.string
    after = _TEMPERATURE_AFTER_RE.match(source, match.end())
    before = source[max(0, match.start() - 6) : match.start()]
    return "零下" if after or "温" in before else "负"


def read_signs(text: str) -> str:
    """A leading minus reads 零下 for temperatures and 负 otherwise."""
    return _MINUS_RE.sub(_sign, text)


def read_calendar(text: str) -> str:
    """Years digit by digit (二零二二年), months and days as numbers (十月十九日, 二号)."""
    text = _YEAR_RANGE_START_RE.sub(lambda m: read_digits(m.group(1)), text)
    text = _YEAR_RE.sub(lambda m: read_digits(m.group(1)), text)
    text = _MONTH_RE.sub(lambda m: read_cardinal(m.group(1)), text)
    return _DAY_RE.sub(lambda m: read_cardinal(m.group(1)), text)


def _minutes(digits: str) -> str:
    """Minutes and seconds written with two digits keep their zero: 05 -> 零五."""
    if len(digits) == 2 and digits[0] == "0":
        return "零" + read_cardinal(digits)
    return read_cardinal(digits)


def _read_clock(match: re.Match[str]) -> str:
    hour, minute, second = match.group(1), match.group(2), match.group(3)
    spoken = read_cardinal(hour, liang=True) + "点"
    if int(minute) or (second and int(second)):
        spoken += _minutes(minute) + "分"
    if second and int(second):
        spoken += _minutes(second) + "秒"
    return spoken


def _read_hour(match: re.Match[str]) -> str:
    spoken = read_cardinal(match.group(1), liang=True) + "点"
    if match.group(2) is not None:
        spoken += _minutes(match.group(2)) + "分"
    return spoken


def read_times(text: str) -> str:
    """Clock times: 19:00 -> 十九点, 7:30 -> 七点三十分, 2点 -> 两点, 8点05分 -> 八点零五分."""
    text = _CLOCK_RE.sub(_read_clock, text)
    return _HOUR_RE.sub(_read_hour, text)
