"""Turn the reader's base-message reply into an IdCard (text block layouts of all three card types)."""

from __future__ import annotations

import logging
from datetime import date

from devices.const import (
    CARD_TYPE_FOREIGNER,
    CARD_TYPE_HMT,
    CARD_TYPE_OFFSET,
    FINGERPRINT_LEN,
    FOREIGNER_FIELDS,
    HMT_FIELDS,
    LATEST_ADDRESS_LEN,
    LONG_TERM,
    PHOTO_LEN,
    RESIDENT_FIELDS,
    SEX_NAMES,
    TEXT_LEN,
)
from devices.errors import FrameError, InvalidCardData
from devices.idcard.idnumber import check_card_number
from devices.idcard.model import CardType, IdCard
from devices.idcard.nations import nation_name

logger = logging.getLogger(__name__)


def decode_ucs2(raw: bytes) -> str:
    """Decode a UCS-2LE field and strip the space/NUL padding."""
    try:
        text = raw.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise InvalidCardData("text field is not UCS-2", message_zh="卡片文字信息编码错误") from exc
    return text.strip(" \x00\u3000")


def _field(text: bytes, spec: tuple[int, int]) -> str:
    offset, length = spec
    return decode_ucs2(text[offset : offset + length])


def parse_date(value: str, what: str, *, allow_long_term: bool = False) -> date | None:
    """YYYYMMDD -> date; 长期 -> None where allowed; anything else is InvalidCardData."""
    if allow_long_term and value == LONG_TERM:
        return None
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError as exc:
        raise InvalidCardData(f"{what} is not a date: {value!r}", message_zh=f"卡片{what}日期无效") from exc


def card_type_of(text: bytes) -> CardType:
    """Card type from byte 248 of the text block."""
    marker = text[CARD_TYPE_OFFSET : CARD_TYPE_OFFSET + 2]
    if marker == CARD_TYPE_FOREIGNER.encode("utf-16-le"):
        return CardType.FOREIGNER
    if marker == CARD_TYPE_HMT.encode("utf-16-le"):
        return CardType.HMT
    return CardType.RESIDENT


def parse_text(text: bytes, photo: bytes = b"", fingerprint: bytes | None = None) -> IdCard:
    """Parse the 256-byte text block (plus photo and fingerprint bytes) into an IdCard."""
    if len(text) != TEXT_LEN:
        raise FrameError(
            f"text block is {len(text)} bytes, expected {TEXT_LEN}", message_zh="卡片文字信息长度错误"
        )
    kind = card_type_of(text)
    if kind is CardType.FOREIGNER:
        f = {k: _field(text, spec) for k, spec in FOREIGNER_FIELDS.items()}
        nation_code, nation, address = "", "", ""
        extra = {"name_en": f["name_en"], "nationality": f["nationality"], "card_version": f["version"]}
    else:
        f = {k: _field(text, spec) for k, spec in RESIDENT_FIELDS.items()}
        address = f["address"]
        if kind is CardType.HMT:
            # The nation field is unused on residence permits.
            nation_code, nation = "", ""
            h = {k: _field(text, spec) for k, spec in HMT_FIELDS.items()}
            count = h["issue_count"]
            extra = {
                "travel_permit_number": h["travel_permit"],
                "issue_count": int(count) if count.isdigit() else None,
            }
        else:
            nation_code, nation, extra = f["nation"], nation_name(f["nation"]), {}
    sex_code = f["sex"]
    birth = parse_date(f["birth"], "出生")
    id_number = f["id_number"].upper()
    problem = check_card_number(id_number, kind=str(kind), birth=birth, sex_code=sex_code)
    if problem:
        logger.warning("card carries an invalid ID number: %s", problem.code)
    return IdCard(
        name=f["name"],
        sex=SEX_NAMES.get(sex_code, ""),
        sex_code=sex_code,
        nation_code=nation_code,
        nation=nation,
        birth_date=birth,
        address=address,
        id_number=id_number,
        authority=f["authority"],
        valid_from=parse_date(f["valid_from"], "有效期起始"),
        valid_to=parse_date(f["valid_to"], "有效期截止", allow_long_term=True),
        card_type=kind,
        photo=photo,
        fingerprint=fingerprint,
        id_problem=problem,
        **extra,
    )


def parse_base_message(data: bytes, *, with_fingerprint: bool) -> IdCard:
    """Parse the data of a 30 01 (or 30 10) reply: lengths, text, photo[, fingerprint]."""
    n_lengths = 3 if with_fingerprint else 2
    if len(data) < 2 * n_lengths:
        raise FrameError("base message reply too short", message_zh="身份证信息数据过短")
    lengths = [int.from_bytes(data[i : i + 2], "big") for i in range(0, 2 * n_lengths, 2)]
    text_len, photo_len = lengths[0], lengths[1]
    fp_len = lengths[2] if with_fingerprint else 0
    if text_len != TEXT_LEN or photo_len not in (0, PHOTO_LEN) or fp_len not in (0, FINGERPRINT_LEN):
        raise FrameError(f"unexpected block lengths {lengths}", message_zh="身份证信息长度错误")
    body = data[2 * n_lengths :]
    if len(body) != text_len + photo_len + fp_len:
        raise FrameError(
            f"base message carries {len(body)} bytes, lengths say {text_len + photo_len + fp_len}",
            message_zh="身份证信息长度与内容不符",
        )
    text = body[:text_len]
    photo = body[text_len : text_len + photo_len]
    fingerprint = body[text_len + photo_len :] if fp_len else None
    return parse_text(text, photo, fingerprint)


def parse_latest_address(data: bytes) -> str | None:
    """The 70-byte latest address (追加地址); None when the card has none."""
    if len(data) != LATEST_ADDRESS_LEN:
        raise FrameError(f"latest address is {len(data)} bytes", message_zh="最新住址长度错误")
    return decode_ucs2(data) or None
