"""Resident ID numbers (GB 11643-1999): parsing, validation, birth date, sex, age, masking."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from . import const
from .errors import InvalidIdNumber

logger = logging.getLogger(__name__)

_ID18 = re.compile(r"^\d{17}[\dX]$")
_ID15 = re.compile(r"^\d{15}$")


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A checked 18-character ID number and what it tells: region, birth date and sex."""

    number: str
    region: str
    birth_date: date
    sex: Literal["M", "F"]

    @property
    def sequence(self) -> str:
        """The 3-digit sequence code (odd = male)."""
        return self.number[14:17]

    @property
    def province(self) -> str:
        """The 2-digit province-level code."""
        return self.region[:2]

    @property
    def is_hmt_permit(self) -> bool:
        """True for residence permits of Hong Kong, Macau and Taiwan residents (81/82/83)."""
        return self.province in {"81", "82", "83"}

    @property
    def is_foreigner(self) -> bool:
        """True for the 2023 foreigner's permanent residence card (starts with 9)."""
        return self.number.startswith("9")

    @property
    def masked(self) -> str:
        """The number as shown on screens and tickets: 5101**********1234."""
        return mask_id_number(self.number)

    def age_on(self, day: date) -> int:
        """Full years of age on `day` (a 29 February birthday counts from 1 March)."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return max(years, 0)


def check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(ch) * w for ch, w in zip(first17, const.ID_WEIGHTS, strict=True))
    return const.ID_CHECK_CHARS[total % 11]


def _normalise(raw: str) -> str:
    return raw.strip().replace(" ", "").upper()


def _fail(check: str, zh: str, en: str, number: str, **detail: object) -> InvalidIdNumber:
    return InvalidIdNumber("id.invalid", zh, en, check=check, id_masked=mask_id_number(number), **detail)


def _birth(number: str, yyyymmdd: str, today: date | None) -> date:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise _fail(
            "birth_date",
            f"身份证号码中的出生日期“{yyyymmdd}”不是有效日期",
            f"the birth date {yyyymmdd} in the ID number is not a valid date",
            number,
        ) from None
    if born.year < const.ID_MIN_BIRTH_YEAR or (today is not None and born > today):
        raise _fail(
            "birth_date",
            f"身份证号码中的出生日期“{yyyymmdd}”超出合理范围",
            f"the birth date {yyyymmdd} in the ID number is out of range",
            number,
        )
    return born


def upgrade_old_number(old: str) -> str:
    """Turn a 15-digit first-generation number into its 18-character form."""
    old = _normalise(old)
    if not _ID15.match(old):
        raise _fail("format", "旧版身份证号码应为15位数字", "an old ID number has 15 digits", old)
    first17 = old[:6] + "19" + old[6:]
    return first17 + check_character(first17)


def parse_id_number(raw: str, *, today: date | None = None, allow_old: bool = False) -> IdNumber:
    """Check an ID number against every GB 11643 rule; raise InvalidIdNumber naming the failed check."""
    if not isinstance(raw, str):
        raise InvalidIdNumber(
            "id.invalid", "身份证号码必须是文本", "the ID number must be a string", check="format"
        )
    number = _normalise(raw)
    if _ID15.match(number):
        if not allow_old:
            raise _fail(
                "old_format",
                "不支持15位旧版身份证号码，请使用18位身份证号码",
                "15-digit old ID numbers are not accepted; use the 18-character number",
                number,
            )
        number = upgrade_old_number(number)
    if not _ID18.match(number):
        raise _fail(
            "format",
            f"身份证号码应为18位（17位数字加1位数字或X），实际为{len(number)}位",
            f"an ID number has 18 characters (17 digits and a digit or X), got {len(number)}",
            number,
        )
    region = number[:6]
    if region[:2] not in const.ID_PROVINCE_CODES:
        raise _fail(
            "region",
            f"身份证号码的地区码“{region}”无效",
            f"the region code {region} of the ID number is not valid",
            number,
        )
    born = _birth(number, number[6:14], today)
    sequence = number[14:17]
    if sequence == "000":
        raise _fail("sequence", "身份证号码的顺序码不能为000", "the sequence code cannot be 000", number)
    expected = check_character(number[:17])
    if number[17] != expected:
        raise _fail(
            "checksum",
            f"身份证号码校验码错误：应为{expected}，实际为{number[17]}",
            f"the ID number check character is wrong: expected {expected}, got {number[17]}",
            number,
            expected=expected,
            actual=number[17],
        )
    sex: Literal["M", "F"] = "M" if int(sequence[2]) % 2 == 1 else "F"
    return IdNumber(number=number, region=region, birth_date=born, sex=sex)


def is_valid_id_number(raw: str, *, today: date | None = None) -> bool:
    """True when `raw` is a valid 18-character ID number."""
    try:
        parse_id_number(raw, today=today)
    except InvalidIdNumber:
        return False
    return True


def mask_id_number(raw: str) -> str:
    """Keep the first 4 and last 4 characters: 5101**********1234 (a masked value stays as it is)."""
    if isinstance(raw, str) and const.MASK_CHAR in raw:
        return raw
    s = _normalise(raw) if isinstance(raw, str) else ""
    if len(s) <= 8:
        # Too short to show both ends without revealing most of it.
        return s[:1] + const.MASK_CHAR * (len(s) - 1) if s else ""
    return s[:4] + const.MASK_CHAR * (len(s) - 8) + s[-4:]


def mask_name(name: str) -> str:
    """Keep the surname: 张三 -> 张*, 欧阳娜娜 -> 欧阳**, 买买提·艾力 -> 买**·** (a masked name stays)."""
    s = name.strip() if isinstance(name, str) else ""
    if const.MASK_CHAR in s:
        return s
    if not s:
        return ""
    if " " in s and s.isascii():
        # Latin-script names (foreigner's cards): keep the first letter of each word.
        return " ".join(w[:1] + const.MASK_CHAR * (len(w) - 1) for w in s.split())
    keep = 2 if len(s) > 2 and s[:2] in const.COMPOUND_SURNAMES else 1
    if len(s) == 1:
        return const.MASK_CHAR
    return s[:keep] + "".join(ch if ch in "·•." else const.MASK_CHAR for ch in s[keep:])


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits of a mobile number: 138****5678."""
    s = re.sub(r"[\s-]", "", phone) if isinstance(phone, str) else ""
    if len(s) >= 8:
        return s[:3] + const.MASK_CHAR * (len(s) - 7) + s[-4:]
    if len(s) > 2:
        return s[:1] + const.MASK_CHAR * (len(s) - 2) + s[-1:]
    return const.MASK_CHAR * len(s)
