"""Sample cards with real-looking but fake data, and the byte encoding a real card's reader sends for them."""

from __future__ import annotations

import hashlib
from dataclasses import replace
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
    TEXT_LEN,
)
from devices.idcard.model import CardType, IdCard

KINDS = ("resident", "elderly", "rare", "fingerprint", "foreigner", "hmt", "invalid", "social_security")
SAMPLE_LATEST_ADDRESS = "四川省巴中市巴州区回风街道兴文路18号"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check(first17: str) -> str:
    """Append the GB 11643 check character (the simulator's own copy, independent of the driver)."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def fake_bytes(seed: str, n: int) -> bytes:
    """Deterministic stand-in bytes (a WLT photo or fingerprint templates cannot be made up for real)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def _resident(**over: object) -> IdCard:
    base = IdCard(
        name="王建国",
        sex="男",
        sex_code="1",
        nation_code="01",
        nation="汉族",
        birth_date=date(1985, 3, 12),
        address="四川省巴中市巴州区江北大道中段128号3栋2单元501号",
        id_number=with_check("51190219850312123"),
        authority="巴中市公安局巴州区分局",
        valid_from=date(2016, 5, 20),
        valid_to=date(2036, 5, 20),
        card_type=CardType.RESIDENT,
        photo=fake_bytes("photo-王建国", PHOTO_LEN),
    )
    return replace(base, **over)  # type: ignore[arg-type]


def sample_card(kind: str = "resident") -> IdCard:
    """A sample card of `kind` (see KINDS)."""
    if kind == "resident":
        return _resident()
    if kind == "elderly":
        # Born 1950: 70+ for the green channel; cards issued past 46 are valid 长期.
        return _resident(
            name="陈桂兰",
            sex="女",
            sex_code="2",
            nation_code="15",
            nation="土家族",
            birth_date=date(1950, 8, 16),
            address="四川省巴中市平昌县江口镇新华街45号",
            id_number=with_check("51192319500816004"),
            authority="平昌县公安局",
            valid_from=date(2010, 9, 1),
            valid_to=None,
            photo=fake_bytes("photo-陈桂兰", PHOTO_LEN),
        )
    if kind == "rare":
        # CJK Extension A characters that printers' fonts often lack.
        return _resident(
            name="刘䶮㵘",
            nation_code="07",
            nation="彝族",
            birth_date=date(1992, 11, 3),
            address="四川省巴中市通江县诺江镇㵘水路7号",
            id_number=with_check("51192119921103003"),
            authority="通江县公安局",
            valid_from=date(2018, 1, 9),
            valid_to=date(2028, 1, 9),
            photo=fake_bytes("photo-刘䶮", PHOTO_LEN),
        )
    if kind == "fingerprint":
        return _resident(fingerprint=fake_bytes("fp-王建国", FINGERPRINT_LEN))
    if kind == "invalid":
        number = with_check("51190219850312123")
        wrong = "0" if number[-1] != "0" else "1"
        return _resident(id_number=number[:-1] + wrong)
    if kind == "foreigner":
        return IdCard(
            name="史密斯",
            sex="男",
            sex_code="1",
            nation_code="",
            nation="",
            birth_date=date(1979, 9, 15),
            address="",
            id_number="USA511079091501",
            authority="1500",
            valid_from=date(2020, 1, 15),
            valid_to=date(2030, 1, 15),
            card_type=CardType.FOREIGNER,
            photo=fake_bytes("photo-smith", PHOTO_LEN),
            name_en="SMITH, JOHN WILLIAM",
            nationality="USA",
            card_version="05",
        )
    if kind == "hmt":
        return IdCard(
            name="陈家豪",
            sex="男",
            sex_code="1",
            nation_code="",
            nation="",
            birth_date=date(1990, 7, 1),
            address="四川省巴中市巴州区巴州大道88号",
            id_number=with_check("81000019900701005"),
            authority="巴中市公安局",
            valid_from=date(2023, 3, 1),
            valid_to=date(2028, 3, 1),
            card_type=CardType.HMT,
            photo=fake_bytes("photo-陈家豪", PHOTO_LEN),
            travel_permit_number="H60123456",
            issue_count=1,
        )
    if kind == "social_security":
        return IdCard(
            name="李秀英",
            sex="女",
            sex_code="2",
            nation_code="01",
            nation="汉族",
            birth_date=date(1962, 4, 28),
            address="",
            id_number=with_check("51190319620428002"),
            authority="",
            valid_from=date(2019, 6, 1),
            valid_to=date(2029, 6, 1),
            card_type=CardType.SOCIAL_SECURITY,
            social_security_number="A51190362",
            card_identifier="511900D156000005",
            birthplace_code="511903",
        )
    raise ValueError(f"unknown sample card kind {kind!r}; choose one of {', '.join(KINDS)}")


def _put(block: bytearray, spec: tuple[int, int], value: str) -> None:
    offset, length = spec
    raw = value.encode("utf-16-le")
    if len(raw) > length:
        raise ValueError(f"{value!r} does not fit {length} bytes")
    block[offset : offset + length] = raw + " ".encode("utf-16-le") * ((length - len(raw)) // 2)


def _ymd(day: date | None) -> str:
    return LONG_TERM if day is None else day.strftime("%Y%m%d")


def encode_text_block(card: IdCard) -> bytes:
    """The 256-byte UCS-2LE text block a reader returns for `card`."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_LEN // 2))
    if card.card_type is CardType.FOREIGNER:
        f = FOREIGNER_FIELDS
        _put(block, f["name_en"], card.name_en)
        _put(block, f["sex"], card.sex_code)
        _put(block, f["id_number"], card.id_number)
        _put(block, f["nationality"], card.nationality)
        _put(block, f["name"], card.name)
        _put(block, f["valid_from"], _ymd(card.valid_from))
        _put(block, f["valid_to"], _ymd(card.valid_to))
        _put(block, f["birth"], _ymd(card.birth_date))
        _put(block, f["version"], card.card_version)
        _put(block, f["authority"], card.authority)
        block[CARD_TYPE_OFFSET : CARD_TYPE_OFFSET + 2] = CARD_TYPE_FOREIGNER.encode("utf-16-le")
        return bytes(block)
    f = RESIDENT_FIELDS
    _put(block, f["name"], card.name)
    _put(block, f["sex"], card.sex_code)
    _put(block, f["nation"], card.nation_code)
    _put(block, f["birth"], _ymd(card.birth_date))
    _put(block, f["address"], card.address)
    _put(block, f["id_number"], card.id_number)
    _put(block, f["authority"], card.authority)
    _put(block, f["valid_from"], _ymd(card.valid_from))
    _put(block, f["valid_to"], _ymd(card.valid_to))
    if card.card_type is CardType.HMT:
        _put(block, HMT_FIELDS["travel_permit"], card.travel_permit_number)
        _put(block, HMT_FIELDS["issue_count"], f"{card.issue_count or 0:02d}")
        block[CARD_TYPE_OFFSET : CARD_TYPE_OFFSET + 2] = CARD_TYPE_HMT.encode("utf-16-le")
    return bytes(block)


def encode_latest_address(address: str | None) -> bytes:
    """The 70-byte latest-address field (spaces when the card has none)."""
    block = bytearray(" ".encode("utf-16-le") * (LATEST_ADDRESS_LEN // 2))
    if address:
        _put(block, (0, LATEST_ADDRESS_LEN), address)
    return bytes(block)
