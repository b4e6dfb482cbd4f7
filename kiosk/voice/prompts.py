"""What the visitor kiosk says aloud: the ID-card prompt, the ticket and where to go, the idle warning.

Each prompt is an Announcement: the text shown and logged, and words a Mandarin synthesizer reads
(digits as Chinese numerals, words apart), as the hall display's calls are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kiosk import const
from kiosk.voice.announcer import Announcement
from queueing.announce import cardinal_zh, number_words
from queueing.directions import RANGE_DASH, window_ranges

logger = logging.getLogger(__name__)

# cardinal_zh reads 0..9999; a count beyond that is not worth saying.
MAX_SPOKEN = 9999


def identify_prompt() -> Announcement:
    """请刷身份证: said when the visitor has chosen a service and the kiosk waits for the card."""
    return Announcement(words="请 刷 身份证", text=const.PROMPT_IDENTIFY)


def _windows_words(windows: Iterable[int]) -> str:
    """[3, 5, 20, 21, 22] -> '三 和 五 和 二十 到 二十二' (ranges read with 到)."""
    parts = []
    for run in window_ranges(n for n in windows if 1 <= n <= MAX_SPOKEN):
        ends = run.split(RANGE_DASH)
        parts.append(" 到 ".join(cardinal_zh(int(n)) for n in ends))
    return " 和 ".join(parts)


def ticket_prompt(number: str, windows: Iterable[int] = (), people_ahead: int | None = None) -> Announcement:
    """'您的号码是A001，请到7–9号窗口，前面还有3人等候', read 您的号码是 A 零零一 号 ..."""
    windows = sorted(set(windows))
    text = f"您的号码是{number}"
    words = f"您的 号码 是 {number_words(number)} 号"
    where = _windows_words(windows)
    if where:
        ranges = "、".join(window_ranges(windows))
        text += f"，请到{ranges}号窗口"
        words += f" 请 到 {where} 号 窗口"
    if people_ahead is not None and 0 <= people_ahead <= MAX_SPOKEN:
        text += f"，前面还有{people_ahead}人等候"
        words += f" 前面 还有 {cardinal_zh(people_ahead)} 人 等候"
    return Announcement(words=words, text=text)


def idle_prompt(seconds: int, *, elderly_off: bool = False) -> Announcement:
    """The idle warning: '长时间无操作，10秒后返回首页[，长者模式将关闭]。如需继续办理，请触摸屏幕'."""
    seconds = max(0, min(seconds, MAX_SPOKEN))
    text = f"长时间无操作，{seconds}秒后返回首页"
    words = f"长 时间 无 操作 {cardinal_zh(seconds)} 秒 后 返回 首页"
    if elderly_off:
        text += "，长者模式将关闭"
        words += " 长者 模式 将 关闭"
    text += "。如需继续办理，请触摸屏幕"
    words += " 如 需 继续 办理 请 触摸 屏幕"
    return Announcement(words=words, text=text)
