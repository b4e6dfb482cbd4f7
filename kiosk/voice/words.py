"""What the synthesizer is fed for a call: words, not raw strings (else "A001" is read as English)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_DIGITS = "零一二三四五六七八九"


def _cardinal(n: int) -> str:
    """Small cardinal numbers in Chinese (window numbers): 3 -> 三, 12 -> 十二, 20 -> 二十, 105 -> 一百零五."""
    if n < 0:
        raise ValueError("window number must not be negative")
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        head = _DIGITS[n // 100] + "百"
        if rest == 0:
            return head
        if rest < 10:
            return head + "零" + _DIGITS[rest]
        return head + (_DIGITS[rest // 10] + "十" + (_DIGITS[rest % 10] if rest % 10 else ""))
    return "".join(_DIGITS[int(d)] for d in str(n))


def _number_words(number: str) -> str:
    """A001 -> 'A 零零一': the letter(s), then every digit."""
    letters = "".join(c for c in number if not c.isdigit())
    digits = "".join(_DIGITS[int(c)] for c in number if c.isdigit())
    return f"{letters} {digits}".strip()


def call_words(number: str, window_number: int | str) -> str:
    """'请 A 零零一 号 到 三号窗口 办理'; the queueing core's version is used when it exists."""
    try:
        from queueing.announce import call_words as core_call_words
    except ImportError:
        core_call_words = None
    if core_call_words is not None:
        return core_call_words(number, window_number)
    return f"请 {_number_words(number)} 号 到 {_cardinal(int(window_number))}号窗口 办理"


def call_text(number: str, window_number: int | str) -> str:
    """'请A001号到3号窗口办理' for screens."""
    try:
        from queueing.announce import call_text as core_call_text
    except ImportError:
        return f"请{number}号到{window_number}号窗口办理"
    return core_call_text(number, window_number)
