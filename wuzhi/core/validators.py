"""Validation and normalisation of the identifiers community workers type or import:
居民身份证号 (GB 11643-1999) and phone numbers. Errors are Chinese sentences a worker can act on."""

from __future__ import annotations

import datetime as dt
import operator
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError

# 省级行政区划代码 (GB/T 2260): the first two digits of every valid ID number.
PROVINCE_CODES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
}
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ASCII_ZEROS = ord("0") * sum(_WEIGHTS)  # what the character codes of ASCII digits add on top


def normalize_text(value: object) -> str:
    """Full-width digits and letters to ASCII, spaces (also ideographic ones) removed at the ends."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def id_check_digit(first17: str) -> str:
    if len(first17) != len(_WEIGHTS):
        raise ValueError(f"id_check_digit needs 17 digits, got {len(first17)}")
    if first17.isascii() and first17.isdigit():
        # Weighted character codes less the zeros' share: no int() per digit (an import checks millions).
        return _CHECK[(sum(map(operator.mul, first17.encode(), _WEIGHTS)) - _ASCII_ZEROS) % 11]
    return _CHECK[sum(map(operator.mul, map(int, first17), _WEIGHTS)) % 11]


_SPACES = re.compile(r"\s+")
_ID15 = re.compile(r"\d{15}")
_ID18 = re.compile(r"\d{17}[\dX]")


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: dt.date
    sex: str  # "M" / "F"

    @property
    def masked(self) -> str:
        return mask_id(self.number)

    @property
    def tail(self) -> str:
        return self.number[-4:]


def parse_id_number(raw: object, today: dt.date | None = None) -> IdNumber:
    """Validate a 居民身份证号 and derive birth date and sex from it.

    Accepts full-width digits, spaces, a lowercase x, and legacy 15-digit numbers (converted to
    18 digits by inserting the century and computing the check digit)."""
    value = normalize_text(raw)
    if not value.isalnum():  # the usual number holds no space to remove
        value = _SPACES.sub("", value)
    value = value.upper()
    if not value:
        raise ValidationError("身份证号不能为空", code="required")
    if _ID15.fullmatch(value):
        value = value[:6] + "19" + value[6:]
        value += id_check_digit(value)
    if not _ID18.fullmatch(value):
        raise ValidationError("身份证号应为18位(最后一位可为X),当前为%(n)d位", params={"n": len(value)}, code="format")
    if value[:2] not in PROVINCE_CODES:
        raise ValidationError("身份证号前6位不是有效的行政区划代码", code="region")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError("身份证号中的出生日期 %(d)s 不存在", params={"d": value[6:14]}, code="birth_date") from None
    today = today or dt.date.today()
    if birth > today or birth.year < 1880:
        raise ValidationError("身份证号中的出生日期 %(d)s 不合理", params={"d": value[6:14]}, code="birth_date")
    if id_check_digit(value[:17]) != value[17]:
        raise ValidationError("身份证号校验位错误,请核对号码", code="checksum")
    sex = "M" if int(value[16]) % 2 else "F"
    return IdNumber(number=value, birth_date=birth, sex=sex)


def mask_id(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")
_PHONE_NOISE = re.compile(r"[\s()()]")


def normalize_phone(raw: object) -> str:
    """A mobile number (11 digits) or a landline with area code (0870-1234567). Raises on anything else."""
    value = normalize_text(raw)
    value = _PHONE_NOISE.sub("", value).replace("—", "-").replace("－", "-")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    value = value.lstrip("-")
    if _MOBILE.fullmatch(value.replace("-", "")):
        return value.replace("-", "")
    if _LANDLINE.fullmatch(value):
        if "-" not in value:
            # Area codes of 3 digits start with 01/02; all others have 4 (0870 昭通).
            cut = 3 if value[1] in "12" else 4
            value = value[:cut] + "-" + value[cut:]
        return value
    raise ValidationError("“%(v)s”不是有效的电话号码(手机11位,座机需带区号)", params={"v": value}, code="phone")


def mask_phone(number: str) -> str:
    if "-" in number:
        code, rest = number.split("-", 1)
        return f"{code}-{'*' * (len(rest) - 4)}{rest[-4:]}"
    return number[:3] + "****" + number[-4:] if len(number) >= 8 else "*" * len(number)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
