"""Pattern rewrites for numbers that are not plain quantities: codes, dates, times, ranges, signs.

The functions run in the order ``normalize`` calls them. Codes (phone numbers, hotlines, IDs)
go first, since their digits must never be read as quantities; full dates are then spelled out
with 年月日 so the range rule sees one uniform shape; years, months, days and clock times are
read last. Digits no rule here claims are left for ``quantities``.
"""

from __future__ import annotations

import re

from audio.textnorm.latin import LETTER_READINGS
from audio.textnorm.markup import WEAK_PAUSE
from audio.textnorm.numbers import cite_alone, read_cardinal, read_digits

_SEP = r"[-‐‑‒–—―~～〜]"

# Measure words after which a number is a count, not a code: 联系200人 is no phone number.
_COUNT_AFTER = r"(?!人|名|个|次|户|家|位|元|万|条|起|辆|天|年|岁|分钟|小时)"
_PHONE_AREA_RE = re.compile(r"(?<![0-9])(0[0-9]{2,3}) ?[-‐‑–—] ?([0-9]{7,8})(?![0-9])")
_PHONE_GROUPS_RE = re.compile(r"(?<![0-9])([0-9]{3,4})-([0-9]{3,4})-([0-9]{4})(?![0-9])")
_HOTLINE_NUMBER = r"[0-9]{3,}(?:-[0-9]{3,})*"
_HOTLINE_RE = re.compile(
    r"(?:热线|电话|拨打|致电|联系|报警|举报|号码|手机|呼叫|求助|咨询|专线"
    r"|验证码|尾号|编号|工号|批号|账号|卡号|单号|学号|密码|口令)(?:号码|号|电话|热线)?"
    rf"[：:\s是为“\"「（(]{{0,3}}({_HOTLINE_NUMBER}(?:[、/或]{_HOTLINE_NUMBER})*)(?![0-9.])"
    + _COUNT_AFTER
)
# Well-known service numbers named before the word that says so: 拨打12345政务服务热线.
# 95xxx/96xxx (banks, carriers), 100xx (10086) and 12xxx (government) are service numbers too.
_SERVICE_NUMBER_RE = re.compile(
    r"(?<![0-9.])(110|119|120|122|9[56][0-9]{3}|100[0-9]{2}|12[0-9]{3})"
    rf"(?![0-9.]){_COUNT_AFTER}"
    r"(?=[\u4e00-\u9fff]{0,6}?(?:热线|电话|报警|急救|火警|专线|平台|求助|客服|短信|服务))"
)
# Named right after a word that says so: 冒充95588客服, 拨打的12345.
_SERVICE_AFTER_RE = re.compile(
    r"(?<=冒充|假冒|仿冒|官方|客服)(9[56][0-9]{3}|100[0-9]{2})(?![0-9.])"
)
_MOBILE_SPACED_RE = re.compile(r"(?<![0-9])(1[3-9][0-9]) ([0-9]{4}) ([0-9]{4})(?![0-9])")

# Licence plates: province, city letter, optional dot, five or six letters and digits.
_PLATE_RE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])"
    r" ?([A-Z])[·•. ]?([A-Z0-9]{5,6})(?![A-Za-z0-9])"
)
# One capital letter and digits is a code (G108, S221, K1234次, N95, H7N9): letter, digits.
_LETTER_CODE_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z])([0-9]{1,5})(?=[A-Z]?[0-9]*(?![A-Za-z0-9.]))")
_ROAD_NUMBER_RE = re.compile(r"(?<![0-9.])([0-9]{2,4})(?=国道|省道|县道|乡道)")
# 90后, 00后, 85后: a generation, read digit by digit.
_GENERATION_RE = re.compile(r"(?<![0-9.])([0-9][05])(?=后(?!天|日|年|月|周|小时|分钟|再|方|面))")
# Room numbers of three or four digits (301室, 1201房间) are read digit by digit.
_ROOM_RE = re.compile(r"(?<![0-9.])([0-9]{3,4})(?=室|房间|号房|病房)")
# 3·15, 9·11: a day named by its date, digit by digit.
_DOTTED_DAY_RE = re.compile(r"(?<![0-9.])([0-9]{1,2})[·•]([0-9]{1,2})(?![0-9])")
# A year in document-number brackets: 尧政发〔2023〕5号.
_BRACKET_YEAR_RE = re.compile(r"(?<=[〔\[【（(])([12][0-9]{3})(?=[〕\]】）)])")
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


def _read_letter_code(letter: str, digits: str) -> str:
    return LETTER_READINGS[letter] + read_digits(digits, yao=True)


def _read_plate(match: re.Match[str]) -> str:
    tail = "".join(
        LETTER_READINGS[ch] if ch.isalpha() else read_digits(ch, yao=True) for ch in match.group(3)
    )
    return match.group(1) + LETTER_READINGS[match.group(2)] + tail


def read_codes(text: str) -> str:
    """Phone numbers, hotlines, IDs, licence plates, road and train numbers, room numbers and
    zero-led numbers, digit by digit with 幺 for 1; generations (90后) with 零 and 一."""
    text = _PLATE_RE.sub(_read_plate, text)
    text = _LETTER_CODE_RE.sub(lambda m: _read_letter_code(m.group(1), m.group(2)), text)
    text = _ROAD_NUMBER_RE.sub(lambda m: read_digits(m.group(1), yao=True), text)
    text = _GENERATION_RE.sub(lambda m: read_digits(m.group(1)), text)
    text = _ROOM_RE.sub(lambda m: read_digits(m.group(1), yao=True), text)
    text = _DOTTED_DAY_RE.sub(lambda m: read_digits(m.group(1) + m.group(2), yao=True), text)
    text = _BRACKET_YEAR_RE.sub(lambda m: read_digits(m.group(1)), text)
    text = _MOBILE_SPACED_RE.sub(lambda m: _read_code("".join(m.groups())), text)
    text = _PHONE_AREA_RE.sub(lambda m: _read_code(f"{m.group(1)}-{m.group(2)}"), text)
    text = _PHONE_GROUPS_RE.sub(lambda m: _read_code(m.group(0)), text)
    text = _HOTLINE_RE.sub(_read_hotlines, text)
    text = _SERVICE_NUMBER_RE.sub(lambda m: _read_code(m.group(1)), text)
    text = _SERVICE_AFTER_RE.sub(lambda m: _read_code(m.group(1)), text)
    return _LONG_RUN_RE.sub(lambda m: _read_code(m.group(0)), text)


_NUMBER_SIGN_RE = re.compile(r"(?<=[0-9])\s?[#＃](?=\s?[\u4e00-\u9fff])")
_HASH_KEY_RE = re.compile(r"[#＃](号?)(?=键)")
_TIMES_RE = re.compile(r"(?<=[0-9])\s?[×xX*]\s?(?=[0-9])")
_BULLETS_RE = re.compile(r"[#＃※★☆●○■□◆◇▲△►▶→⇒√✓✔✗✘♦♥♠♣◎❤]+")


def read_symbols(text: str) -> str:
    """Symbols that are no punctuation: 3#楼 -> 3号楼, 按#键 -> 按井号键, 3×4 -> 3乘4; bullets
    and stars pause."""
    text = _NUMBER_SIGN_RE.sub("号", text)
    text = _HASH_KEY_RE.sub("井号", text)
    text = _TIMES_RE.sub("乘", text)
    return _BULLETS_RE.sub(WEAK_PAUSE, text)


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
    text = _MONTH_RE.sub(lambda m: cite_alone(read_cardinal(m.group(1))), text)
    return _DAY_RE.sub(lambda m: cite_alone(read_cardinal(m.group(1))), text)


def _minutes(digits: str) -> str:
    """Minutes and seconds written with two digits keep their zero: 05 -> 零五."""
    if len(digits) == 2 and digits[0] == "0":
        return "零" + read_cardinal(digits)
    return read_cardinal(digits)


def _read_clock(match: re.Match[str]) -> str:
    hour, minute, second = match.group(1), match.group(2), match.group(3)
    spoken = cite_alone(read_cardinal(hour, liang=True)) + "点"
    if int(minute) or (second and int(second)):
        spoken += _minutes(minute) + "分"
    if second and int(second):
        spoken += _minutes(second) + "秒"
    return spoken


def _read_hour(match: re.Match[str]) -> str:
    spoken = cite_alone(read_cardinal(match.group(1), liang=True)) + "点"
    if match.group(2) is not None:
        spoken += _minutes(match.group(2)) + "分"
    return spoken


def read_times(text: str) -> str:
    """Clock times: 19:00 -> 十九点, 7:30 -> 七点三十分, 2点 -> 两点, 8点05分 -> 八点零五分."""
    text = _CLOCK_RE.sub(_read_clock, text)
    return _HOUR_RE.sub(_read_hour, text)
