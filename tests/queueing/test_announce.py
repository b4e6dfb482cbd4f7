"""Call announcements."""

from __future__ import annotations

import pytest

from queueing.announce import (
    call_clips,
    call_phrases,
    call_text,
    call_text_en,
    call_words,
    cardinal_zh,
    clip_vocabulary,
    display_text,
    number_words,
    recall_text,
    recall_words,
)
from queueing.errors import InvalidConfiguration


def test_call_text_and_display_variant() -> None:
    assert call_text("A001", 3) == "请A001号到3号窗口办理"
    assert display_text("A001", 3) == "请A001号到第3窗口办理业务"
    assert call_text_en("B012", 12) == "Ticket B012, please go to window 12"


def test_call_words_for_a_synthesizer() -> None:
    assert call_words("A001", 3) == "请 A 零零一 号 到 三号窗口 办理"
    assert call_words("B120", 12) == "请 B 一二零 号 到 十二号窗口 办理"
    assert call_words("A1000", 20) == "请 A 一零零零 号 到 二十号窗口 办理"
    assert number_words("VP007") == "V P 零零七"


@pytest.mark.parametrize(
    ("n", "zh"),
    [
        (0, "零"), (1, "一"), (3, "三"), (10, "十"), (11, "十一"), (12, "十二"), (20, "二十"),
        (21, "二十一"), (99, "九十九"), (100, "一百"), (101, "一百零一"), (105, "一百零五"),
        (110, "一百一十"), (115, "一百一十五"), (200, "二百"), (1000, "一千"), (1005, "一千零五"),
        (1010, "一千零一十"), (1100, "一千一百"), (2019, "二千零一十九"), (9999, "九千九百九十九"),
    ],
)  # fmt: skip
def test_cardinals(n: int, zh: str) -> None:
    assert cardinal_zh(n) == zh


def test_clips_for_prerecorded_voice_packs() -> None:
    assert call_clips("A001", 12) == [
        "chime", "请", "A", "零", "零", "一", "号", "到", "十", "二", "号", "窗口", "办理",
    ]  # fmt: skip


@pytest.mark.parametrize("window", [0, -1, 10_000, True, "3"])
def test_bad_window_numbers_are_refused(window: object) -> None:
    with pytest.raises(InvalidConfiguration):
        call_text("A001", window)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", ["", "001", "A-1", "请A001"])
def test_bad_ticket_numbers_are_refused(number: str) -> None:
    with pytest.raises(InvalidConfiguration):
        call_words(number, 1)


def _parse_zh(text: str) -> int:
    """An independent reader of Chinese cardinals below 10000, to check cardinal_zh both ways."""
    digits = {ch: i for i, ch in enumerate("零一二三四五六七八九")}
    units = {"十": 10, "百": 100, "千": 1000}
    total, pending = 0, None
    for ch in text:
        if ch in digits:
            pending = digits[ch]
        else:
            total += (1 if pending is None else pending) * units[ch]
            pending = None
    return total + (pending or 0)


def test_every_window_number_reads_back_and_follows_the_rules() -> None:
    for n in range(1, 10_000):
        zh = cardinal_zh(n)
        assert _parse_zh(zh) == n, (n, zh)
        assert "零零" not in zh and not zh.endswith("零") and not zh.startswith("一十"), (n, zh)
        assert "两" not in zh


def test_a_recall_says_again() -> None:
    assert recall_text("A001", 3) == "请A001号再次到3号窗口办理"
    assert recall_words("A001", 3) == "请 A 零零一 号 再次 到 三号窗口 办理"
    assert call_clips("A001", 3, recall=True) == [
        "chime", "请", "A", "零", "零", "一", "号", "再次", "到", "三", "号", "窗口", "办理",
    ]  # fmt: skip


def test_phrases_group_the_clips_where_a_speaker_pauses() -> None:
    assert call_phrases("VP007", 20) == [
        ["chime"], ["请"], ["V", "P", "零", "零", "七", "号"], ["到", "二", "十", "号", "窗口"], ["办理"],
    ]  # fmt: skip


def test_a_voice_pack_needs_no_more_words_than_its_vocabulary() -> None:
    vocabulary = set(clip_vocabulary())
    for window in range(1, 10_000):
        for recall in (False, True):
            assert set(call_clips("Z0123456789", window, recall=recall)) <= vocabulary, window
    assert len(vocabulary) == len(clip_vocabulary())  # each clip once
