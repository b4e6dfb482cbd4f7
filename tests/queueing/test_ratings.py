"""Rating levels, reasons and validation."""

from __future__ import annotations

import pytest

from queueing.errors import DomainError
from queueing.ratings import LEVELS, RatingLevel, is_bad, level_label, reason_label, validate_rating


def test_five_levels_encoded_five_to_one_with_labels() -> None:
    assert [int(lv) for lv in LEVELS] == [5, 4, 3, 2, 1]
    assert [level_label(lv) for lv in LEVELS] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert level_label(1, "en") == "very dissatisfied"


def test_only_one_and_two_are_bad() -> None:
    assert [is_bad(n) for n in (5, 4, 3, 2, 1)] == [False, False, False, True, True]


def test_good_rating_needs_no_reason() -> None:
    r = validate_rating(5)
    assert r.level is RatingLevel.VERY_SATISFIED and r.reasons == () and not r.is_bad


def test_bad_rating_without_reason_is_refused() -> None:
    for level in (1, 2):
        with pytest.raises(DomainError) as err:
            validate_rating(level, [])
        assert err.value.code == "rating.reason_required"
        assert "原因" in err.value.message_zh


def test_reasons_accept_keys_or_labels_and_are_deduplicated() -> None:
    r = validate_rating(2, ["服务态度", "attitude", "efficiency"], text="  等太久  ", channel="qr")
    assert r.reasons == ("efficiency", "attitude")
    assert r.text == "等太久" and r.channel == "qr" and r.is_bad
    assert [reason_label(k) for k in r.reasons] == ["服务效率", "服务态度"]
    assert reason_label("outcome") == "办事结果" and reason_label("competence") == "服务水平"


@pytest.mark.parametrize("level", [0, 6, -1, True, "5", 4.0, None])
def test_invalid_levels(level: object) -> None:
    with pytest.raises(DomainError) as err:
        validate_rating(level)  # type: ignore[arg-type]
    assert err.value.code == "rating.invalid_level"


def test_unknown_reason_text_and_channel() -> None:
    with pytest.raises(DomainError) as err:
        validate_rating(1, ["太冷"])
    assert err.value.code == "rating.unknown_reason"
    with pytest.raises(DomainError) as err:
        validate_rating(5, text="好" * 501)
    assert err.value.code == "rating.text_too_long"
    with pytest.raises(DomainError) as err:
        validate_rating(5, channel="fax")
    assert err.value.code == "rating.invalid_channel"
