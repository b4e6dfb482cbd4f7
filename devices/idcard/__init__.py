"""ID-card and social-security-card readers: the IdCard result, the drivers and open_reader(url)."""

from __future__ import annotations

from devices.idcard.factory import open_reader
from devices.idcard.idnumber import IdNumberProblem
from devices.idcard.model import CardType, IdCard
from devices.idcard.photo import decode_photo, photo_decoder
from devices.idcard.reader import CardReader
from devices.idcard.serial_reader import SamSerialReader

__all__ = [
    "CardReader",
    "CardType",
    "IdCard",
    "IdNumberProblem",
    "SamSerialReader",
    "decode_photo",
    "open_reader",
    "photo_decoder",
]
