"""ID-number checks for numbers read from cards (GB 11643-1999 plus the card's own cross-checks).

queueing.idnumber did not exist when the drivers were written; this is the devices-side copy of
the same rule and should give way to queueing.idnumber once that module lands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
HMT_REGIONS = ("810000", "820000", "830000")
COMPOUND_SURNAMES = frozenset(
    ["欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐", "端木", "澹台", "轩辕", "呼延", "独孤", "南宫", "西门", "百里"]
)
_ID18 = re.compile(r"^\d{17}[\dX]$")
_FOREIGN15 = re.compile(r"^[A-Z]{3}\d{12}$")


@dataclass(frozen=True)
class IdNumberProblem:
    """Why a number read from a card is not a valid ID number."""

    code: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        return f"{self.message_zh} ({self.message_en})"


def check_character(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def birth_from_number(number: str) -> date | None:
    """Return the birth date encoded in an 18-character number, or None if it is not a real date."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def check_gb11643(number: str) -> IdNumberProblem | None:
    """Check an 18-character number against GB 11643 (format, birth date, check character)."""
    if not _ID18.match(number):
        return IdNumberProblem("id.format", "身份号码格式错误，应为17位数字加校验位", "must be 17 digits and a check character")
    if birth_from_number(number) is None:
        return IdNumberProblem("id.birth_date", "身份号码中的出生日期无效", "the birth date inside the number is not a date")
    expected = check_character(number[:17])
    if number[17] != expected:
        return IdNumberProblem(
            "id.check_digit", f"身份号码校验位错误，应为{expected}", f"check character should be {expected}"
        )
    return None


def check_card_number(number: str, *, kind: str, birth: date | None, sex_code: str) -> IdNumberProblem | None:
    """Check a number as read from a card of `kind` ("resident", "hmt", "foreigner") against the card's own data."""
    if kind == "foreigner" and _FOREIGN15.match(number):
        # The 2017 card's 15-character number: nationality letters, region, birth YYMMDD, sequence.
        return None
    problem = check_gb11643(number)
    if problem:
        return problem
    if kind == "hmt" and number[:6] not in HMT_REGIONS:
        return IdNumberProblem(
            "id.region", "港澳台居民居住证号码应以810000/820000/830000开头", "a residence permit number starts with 81/82/83"
        )
    if kind == "foreigner" and not number.startswith("9"):
        return IdNumberProblem(
            "id.region", "外国人永久居留身份证号码应以9开头", "a permanent residence card number starts with 9"
        )
    if birth is not None and birth_from_number(number) != birth:
        return IdNumberProblem("id.birth_mismatch", "身份号码与出生日期不符", "the number does not match the birth date")
    if sex_code in ("1", "2") and int(number[16]) % 2 != (1 if sex_code == "1" else 0):
        return IdNumberProblem("id.sex_mismatch", "身份号码与性别不符", "the number does not match the sex")
    return None


def is_valid_id_number(number: str) -> bool:
    """True if `number` is a valid 18-character GB 11643 number."""
    return check_gb11643(number) is None


def mask_id_number(number: str) -> str:
    """Keep the first and last four characters: 5101**********1234."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """Keep the surname (compound ones too): 张* / 欧阳**."""
    name = name.strip()
    if not name:
        return ""
    keep = 2 if len(name) > 2 and name[:2] in COMPOUND_SURNAMES else 1
    return name[:keep] + "*" * (len(name) - keep)
