"""ID number rules (GB 11643) and masking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queueing.errors import DomainError, InvalidIdNumber
from queueing.idnumber import (
    check_character,
    is_valid_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
    parse_id_number,
    upgrade_old_number,
)


def make_id(region: str, born: date, seq: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


def test_reference_valid_number_parses_with_birth_date_and_sex() -> None:
    n = parse_id_number("11010519491231002X")
    assert n.number == "11010519491231002X"
    assert n.region == "110105"
    assert n.birth_date == date(1949, 12, 31)
    assert n.sex == "F"  # sequence 002: even = female
    assert n.age_on(date(2026, 11, 27)) == 76
    assert n.masked == "1101**********002X"


def test_reference_invalid_number_names_the_checksum_and_expected_character() -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number("110101197608056896")
    e = err.value
    assert e.code == "id.invalid"
    assert e.detail["check"] == "checksum"
    assert e.detail["expected"] == "7"
    assert "校验码" in e.message_zh and "7" in e.message_zh
    assert "check character" in e.message_en
    # The error never carries the full number.
    assert "110101197608056896" not in repr(e.detail)
    assert parse_id_number("110101197608056897").sex == "M"


def test_lowercase_x_and_spaces_are_normalised() -> None:
    assert parse_id_number(" 11010519491231002x ").number == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "check"),
    [
        ("", "format"),
        ("1101051949123100", "format"),
        ("11010519491231002Y", "format"),
        ("1101051949123100212", "format"),
        ("110105194912310", "old_format"),
        (make_id("000000", date(1990, 1, 1), 11), "region"),
        ("51010219900229001" + check_character("51010219900229001"), "birth_date"),
        ("11010519900230001" + check_character("11010519900230001"), "birth_date"),
        ("11010518000101001" + check_character("11010518000101001"), "birth_date"),
        ("11010519900101000" + check_character("11010519900101000"), "sequence"),
    ],
)
def test_each_failed_check_is_named(raw: str, check: str) -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number(raw)
    assert err.value.detail["check"] == check
    assert err.value.message_zh and err.value.message_en
    assert isinstance(err.value, DomainError)


def test_birth_date_in_the_future_is_refused_when_today_is_given() -> None:
    future = make_id("510100", date(2030, 1, 1), 11)
    assert parse_id_number(future).birth_date == date(2030, 1, 1)
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number(future, today=date(2026, 11, 27))
    assert err.value.detail["check"] == "birth_date"


def test_old_numbers_are_rejected_by_default_and_upgraded_on_request() -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number("110105491231002")
    assert "15位" in err.value.message_zh
    up = parse_id_number("110105491231002", allow_old=True)
    assert up.number == upgrade_old_number("110105491231002") == "11010519491231002X"


def test_hmt_and_foreigner_numbers_pass_the_same_check() -> None:
    hk = parse_id_number(make_id("810000", date(1990, 5, 6), 21))
    assert hk.is_hmt_permit and not hk.is_foreigner
    foreign = parse_id_number(make_id("936000", date(1985, 2, 3), 11))
    assert foreign.is_foreigner


def test_age_on_birthday_and_leap_day() -> None:
    n = parse_id_number(make_id("510100", date(1956, 2, 29), 13))
    assert n.age_on(date(2026, 2, 28)) == 69
    assert n.age_on(date(2026, 3, 1)) == 70
    assert n.age_on(date(1950, 1, 1)) == 0


def test_is_valid_never_raises() -> None:
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110101197608056896")
    assert not is_valid_id_number("garbage")


@settings(max_examples=200, deadline=None)
@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)),
    seq=st.integers(min_value=1, max_value=999),
    region=st.sampled_from(["110105", "510102", "511902", "810000", "650102"]),
    pos=st.integers(min_value=0, max_value=17),
    data=st.data(),
)
def test_any_single_character_change_is_caught(born: date, seq: int, region: str, pos: int, data) -> None:
    good = make_id(region, born, seq)
    parsed = parse_id_number(good)
    assert parsed.birth_date == born
    assert parsed.sex == ("M" if seq % 2 else "F")
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    new = data.draw(st.sampled_from([c for c in alphabet if c != good[pos]]))
    bad = good[:pos] + new + good[pos + 1 :]
    # GB 11643's mod-11 check catches every single substitution.
    assert not is_valid_id_number(bad)


def test_masking_of_ids_names_and_phones() -> None:
    assert mask_id_number("510103199001011234") == "5101**********1234"
    assert mask_id_number("") == ""
    assert "1234" not in mask_id_number("1234")
    assert mask_name("张三") == "张*"
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧阳**"
    assert mask_name("欧阳") == "欧*"
    assert mask_name("李") == "*"
    assert mask_name("买买提·艾力") == "买**·**"
    assert mask_name("ZHANG SAN") == "Z**** S**"
    assert mask_name("") == ""
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_phone("12345") == "1***5"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789X", min_size=9, max_size=20))
def test_masked_ids_keep_length_and_hide_the_middle(raw: str) -> None:
    masked = mask_id_number(raw)
    assert len(masked) == len(raw)
    assert masked[:4] == raw[:4] and masked[-4:] == raw[-4:]
    assert set(masked[4:-4]) <= {"*"}


def test_masking_a_masked_value_leaves_it_as_it_is() -> None:
    """Screens mask what the server already masked; doing it twice must not hide the last digits."""
    from queueing.idnumber import mask_id_number, mask_name

    assert mask_id_number(mask_id_number("110101199003074514")) == "1101**********4514"
    assert mask_name(mask_name("欧阳娜娜")) == "欧阳**"
