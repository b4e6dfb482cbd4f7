"""Tag-length-value records of the social security card and their field encodings (BCD, GBK)."""

from __future__ import annotations

from datetime import date

from devices.errors import FrameError, InvalidCardData


def parse_tlv(record: bytes, tag: int) -> bytes:
    """The value of a one-record TLV (tag, length, value); wrong tag or length is FrameError."""
    if len(record) < 2:
        raise FrameError(f"record {tag:02X} too short", message_zh="社保卡记录过短")
    if record[0] != tag:
        raise FrameError(
            f"record carries tag {record[0]:02X}, expected {tag:02X}", message_zh="社保卡记录标签错误"
        )
    length = record[1]
    if len(record) < 2 + length:
        raise FrameError(f"record {tag:02X} is cut short", message_zh="社保卡记录不完整")
    return record[2 : 2 + length]


def encode_tlv(tag: int, value: bytes) -> bytes:
    """One TLV record."""
    if len(value) > 0xFF:
        raise ValueError("value too long for a one-byte length")
    return bytes([tag, len(value)]) + value


def bcd_digits(value: bytes) -> str:
    """Packed BCD -> digit string; a nibble above 9 is InvalidCardData."""
    digits = value.hex()
    if not digits.isdigit():
        raise InvalidCardData(f"not BCD: {digits}", message_zh="社保卡数据格式错误")
    return digits


def bcd_date(value: bytes) -> date | None:
    """4-byte BCD YYYYMMDD -> date (all zeros: None)."""
    digits = bcd_digits(value)
    if set(digits) == {"0"}:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as exc:
        raise InvalidCardData(f"not a date: {digits}", message_zh="社保卡日期无效") from exc


def text(value: bytes, encoding: str = "ascii") -> str:
    """Decode a padded text field (NUL/space/0xFF padding)."""
    try:
        return value.rstrip(b"\x00\xff ").decode(encoding).strip()
    except UnicodeDecodeError as exc:
        raise InvalidCardData(f"field is not {encoding}", message_zh="社保卡文字编码错误") from exc
