"""Call announcements: the displayed text, and words or clips a Mandarin synthesizer can read."""

from __future__ import annotations

import logging

from . import const
from .errors import InvalidConfiguration
from .numbering import parse_number

logger = logging.getLogger(__name__)


def _window(window_number: int) -> int:
    if isinstance(window_number, bool) or not isinstance(window_number, int):
        raise InvalidConfiguration(
            "announce.invalid_window",
            f"窗口号“{window_number}”无效",
            f"window number {window_number!r} is invalid",
        )
    if not 1 <= window_number <= const.MAX_WINDOW_NUMBER:
        raise InvalidConfiguration(
            "announce.invalid_window",
            f"窗口号应在1到{const.MAX_WINDOW_NUMBER}之间，实际为{window_number}",
            f"a window number is 1 to {const.MAX_WINDOW_NUMBER}, got {window_number}",
        )
    return window_number


def cardinal_zh(n: int) -> str:
    """Read 0..9999 as a Chinese cardinal: 3 三, 10 十, 12 十二, 20 二十, 105 一百零五, 1010 一千零一十."""
    if not 0 <= n <= const.MAX_WINDOW_NUMBER:
        raise InvalidConfiguration(
            "announce.out_of_range",
            f"数字{n}超出朗读范围",
            f"{n} is outside the readable range 0..{const.MAX_WINDOW_NUMBER}",
        )
    if n == 0:
        return const.ZH_DIGITS[0]
    digits = [int(d) for d in str(n)]
    out: list[str] = []
    zero_pending = False
    for i, d in enumerate(digits):
        unit = const.ZH_UNITS[len(digits) - 1 - i]
        if d == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append(const.ZH_DIGITS[0])
            zero_pending = False
        # 10..19 are read 十, 十一 ... not 一十 when they stand alone.
        if not (d == 1 and unit == "十" and not out):
            out.append(const.ZH_DIGITS[d])
        out.append(unit)
    return "".join(out)


def digits_zh(digits: str) -> str:
    """Read digits one by one: 001 -> 零零一."""
    return "".join(const.ZH_DIGITS[int(d)] for d in digits)


def number_words(number: str) -> str:
    """A ticket number as words: A001 -> "A 零零一"; letters stay letters, digits one by one."""
    prefix, _ = parse_number(number)
    digits = number.strip().upper()[len(prefix) :]
    return " ".join([*prefix, digits_zh(digits)])


def call_text(number: str, window_number: int) -> str:
    """The spoken-style text: 请A001号到3号窗口办理."""
    parse_number(number)
    return f"请{number.strip().upper()}号到{_window(window_number)}号窗口办理"


def display_text(number: str, window_number: int) -> str:
    """The hall display's variant: 请A001号到第3窗口办理业务."""
    parse_number(number)
    return f"请{number.strip().upper()}号到第{_window(window_number)}窗口办理业务"


def call_words(number: str, window_number: int) -> str:
    """Words for a synthesizer: 请 A 零零一 号 到 三号窗口 办理."""
    return f"请 {number_words(number)} 号 到 {cardinal_zh(_window(window_number))}号窗口 办理"


def call_text_en(number: str, window_number: int) -> str:
    """English line for screens: Ticket A001, please go to window 3."""
    parse_number(number)
    return f"Ticket {number.strip().upper()}, please go to window {_window(window_number)}"


def recall_text(number: str, window_number: int) -> str:
    """A recall (重呼) for screens and logs: 请A001号再次到3号窗口办理."""
    parse_number(number)
    return f"请{number.strip().upper()}号再次到{_window(window_number)}号窗口办理"


def recall_words(number: str, window_number: int) -> str:
    """Words for a synthesizer: 请 A 零零一 号 再次 到 三号窗口 办理."""
    return f"请 {number_words(number)} 号 再次 到 {cardinal_zh(_window(window_number))}号窗口 办理"


def call_phrases(number: str, window_number: int, *, recall: bool = False) -> list[list[str]]:
    """Clip names grouped in phrases (a voice pack pauses longer between phrases than between words)."""
    prefix, _ = parse_number(number)
    digits = number.strip().upper()[len(prefix) :]
    phrases = [
        ["chime"],
        ["请"],
        [*prefix, *(const.ZH_DIGITS[int(d)] for d in digits), "号"],
        ["到", *cardinal_zh(_window(window_number)), "号", "窗口"],
        ["办理"],
    ]
    if recall:
        phrases.insert(3, ["再次"])
    return phrases


def call_clips(number: str, window_number: int, *, recall: bool = False) -> list[str]:
    """Names of pre-recorded clips to play in order (chime, 请, A, 零, 零, 一, 号, 到, 三, 号, 窗口, 办理)."""
    return [clip for phrase in call_phrases(number, window_number, recall=recall) for clip in phrase]


def clip_vocabulary() -> list[str]:
    """Every clip a call or recall can need: the chime, A-Z, 零-九, 十 百 千, and the fixed words."""
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return [
        "chime",
        *letters,
        *const.ZH_DIGITS,
        *const.ZH_UNITS[1:],
        "请",
        "号",
        "到",
        "窗口",
        "办理",
        "再次",
    ]
