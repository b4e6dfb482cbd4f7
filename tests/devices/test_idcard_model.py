"""IdCard behaviour, the text-block parser's errors, and the photo decoder seam."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from devices.errors import FrameError, InvalidCardData, PhotoDecoderMissing
from devices.idcard import CardType, decode_photo, photo_decoder
from devices.idcard.idnumber import check_card_number
from devices.idcard.parse import parse_base_message, parse_text
from devices.sim.cards import encode_text_block, sample_card


def test_age_counts_full_years_for_the_green_channel() -> None:
    elderly = sample_card("elderly")
    assert elderly.age_on(date(2020, 8, 15)) == 69
    assert elderly.age_on(date(2020, 8, 16)) == 70


def test_masking_for_screens_and_tickets() -> None:
    card = replace(sample_card("resident"), name="张三")
    assert card.masked_name == "张*"
    assert card.masked_id == "5119**********1234"
    assert replace(card, name="欧阳娜娜").masked_name == "欧阳**"
    assert card.identity() == {"id_number": "511902198503121234", "name": "张三", "card_type": "resident"}


def test_card_type_labels_are_chinese_first() -> None:
    assert CardType.RESIDENT.label_zh == "居民身份证"
    assert CardType.HMT.label_zh == "港澳台居民居住证"


def test_expiry() -> None:
    card = sample_card("resident")
    assert not card.expired_on(date(2036, 5, 20))
    assert card.expired_on(date(2036, 5, 21))


def _roundtrip(kind: str, **over: object):  # type: ignore[no-untyped-def]
    card = replace(sample_card(kind), **over)  # type: ignore[arg-type]
    return parse_text(encode_text_block(card), card.photo)


def test_birth_date_that_disagrees_with_the_number_is_flagged() -> None:
    card = _roundtrip("resident", birth_date=date(1985, 3, 13))
    assert card.id_problem is not None and card.id_problem.code == "id.birth_mismatch"


def test_sex_that_disagrees_with_the_number_is_flagged() -> None:
    card = _roundtrip("resident", sex_code="2")
    assert card.id_problem is not None and card.id_problem.code == "id.sex_mismatch"
    assert card.sex == "女"


def test_residence_permit_needs_an_81_82_83_number() -> None:
    card = _roundtrip("hmt", id_number=sample_card("resident").id_number, birth_date=date(1985, 3, 12))
    assert card.id_problem is not None and card.id_problem.code == "id.region"


def test_unknown_sex_code_is_kept() -> None:
    card = _roundtrip("resident", sex_code="9")
    assert card.sex == "未说明" and card.sex_code == "9"


def test_a_text_block_with_a_broken_date_is_invalid_card_data() -> None:
    block = bytearray(encode_text_block(sample_card("resident")))
    block[36:52] = "19851399".encode("utf-16-le")
    with pytest.raises(InvalidCardData) as info:
        parse_text(bytes(block))
    assert info.value.code == "card.invalid_data"


def test_a_text_block_of_the_wrong_size_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        parse_text(b"\x20\x00" * 100)


def test_base_message_lengths_must_add_up() -> None:
    card = sample_card("resident")
    good = b"\x01\x00\x04\x00" + encode_text_block(card) + card.photo
    assert parse_base_message(good, with_fingerprint=False).name == "王建国"
    with pytest.raises(FrameError):
        parse_base_message(good[:-1], with_fingerprint=False)
    with pytest.raises(FrameError):
        parse_base_message(b"\x01\x01\x04\x00" + good[4:], with_fingerprint=False)
    with pytest.raises(FrameError):
        parse_base_message(b"\x01", with_fingerprint=True)


def test_no_photo_decoder_is_installed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HALL_PHOTO_DECODER", raising=False)
    assert photo_decoder() is None
    with pytest.raises(PhotoDecoderMissing) as info:
        decode_photo(sample_card("resident").photo)
    assert info.value.code == "photo.no_decoder"
    assert "解码插件" in info.value.message_zh
    # The raw bytes stay usable: that is what gets stored.
    assert len(sample_card("resident").photo) == 1024


def test_a_configured_vendor_module_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in vendor package: returns a BMP header plus the byte count, to prove the call path.
    (tmp_path / "vendor_wlt_demo.py").write_text(
        textwrap.dedent(
            """
            def decode_wlt(raw):
                return b"BM" + len(raw).to_bytes(4, "little")
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HALL_PHOTO_DECODER", "vendor_wlt_demo")
    try:
        assert decode_photo(sample_card("resident").photo) == b"BM" + (1024).to_bytes(4, "little")
        with pytest.raises(InvalidCardData):
            decode_photo(b"\x00" * 10)
        monkeypatch.setenv("HALL_PHOTO_DECODER", "no_such_vendor_module")
        with pytest.raises(PhotoDecoderMissing):
            decode_photo(sample_card("resident").photo)
    finally:
        sys.modules.pop("vendor_wlt_demo", None)


def test_sample_cards_carry_valid_numbers_and_unknown_kinds_are_refused() -> None:
    for kind in ("resident", "elderly", "rare", "fingerprint", "hmt", "foreigner"):
        assert _roundtrip(kind).id_valid, kind
    ss = sample_card("social_security")
    assert check_card_number(ss.id_number, kind="resident", birth=ss.birth_date, sex_code=ss.sex_code) is None
    assert not _roundtrip("invalid").id_valid
    with pytest.raises(ValueError):
        sample_card("martian")
