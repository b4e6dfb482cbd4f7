"""Checks of an ID number as read from a card: GB 11643 (queueing.idnumber) plus the card's own cross-checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from queueing.errors import InvalidIdNumber
from queueing.idnumber import mask_id_number, mask_name, parse_id_number

__all__ = ["IdNumberProblem", "check_card_number", "mask_id_number", "mask_name"]

HMT_PROVINCES = ("81", "82", "83")
# The 2017 foreigner's card: 3 nationality letters and 12 digits (region, birth YYMMDD, sequence, check).
_FOREIGN15 = re.compile(r"^[A-Z]{3}\d{12}$")


@dataclass(frozen=True)
class IdNumberProblem:
    """Why a number read from a card is not acceptable; `code` is stable (id.checksum, id.birth_mismatch...)."""

    code: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        return f"{self.message_zh} ({self.message_en})"


def check_card_number(number: str, *, kind: str, birth: date | None, sex_code: str) -> IdNumberProblem | None:
    """Check a number read from a card of `kind` ("resident", "hmt", "foreigner") against the card's own data."""
    if kind == "foreigner" and _FOREIGN15.match(number):
        return None
    try:
        parsed = parse_id_number(number)
    except InvalidIdNumber as exc:
        return IdNumberProblem(f"id.{exc.detail.get('check', 'invalid')}", exc.message_zh, exc.message_en)
    if kind == "hmt" and parsed.province not in HMT_PROVINCES:
        return IdNumberProblem(
            "id.region",
            "港澳台居民居住证号码应以81/82/83开头",
            "a residence permit number starts with 81, 82 or 83",
        )
    if kind == "foreigner" and not parsed.is_foreigner:
        return IdNumberProblem(
            "id.region",
            "外国人永久居留身份证号码应以9开头",
            "a permanent residence card number starts with 9",
        )
    if kind == "resident" and (parsed.is_foreigner or parsed.is_hmt_permit):
        return IdNumberProblem(
            "id.region", "居民身份证号码的地区码无效", "not a resident ID card region code"
        )
    if birth is not None and parsed.birth_date != birth:
        return IdNumberProblem(
            "id.birth_mismatch",
            "身份号码与卡上出生日期不符",
            "the number does not match the card's birth date",
        )
    if sex_code in ("1", "2") and parsed.sex != ("M" if sex_code == "1" else "F"):
        return IdNumberProblem(
            "id.sex_mismatch", "身份号码与卡上性别不符", "the number does not match the card's sex"
        )
    return None
