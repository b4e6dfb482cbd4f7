"""Whether the hall issues tickets now, in words for the visitor screen's banner (from its opening hours)."""

from __future__ import annotations

import logging
from datetime import time

logger = logging.getLogger(__name__)


def _spans(opening_hours: list[list[str]]) -> list[tuple[time, time]]:
    out = []
    for span in opening_hours:
        try:
            start, end = time.fromisoformat(span[0]), time.fromisoformat(span[1])
        except (ValueError, IndexError, TypeError):
            logger.warning("opening hours span not understood: %r", span)
            continue
        out.append((start, end))
    return sorted(out)


def closed_notice(opening_hours: list[list[str]], now: time) -> str | None:
    """None while tickets are issued (or no hours are set), else the banner: 午休中 between two spans,
    今日已停止取号 after the last one, 尚未开始取号 before the first (zh_CN, English on a second line)."""
    spans = _spans(opening_hours)
    if not spans:
        return None
    now = now.replace(tzinfo=None, second=0, microsecond=0)
    if any(start <= now < end for start, end in spans):
        return None
    hours = "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in spans)
    if now < spans[0][0]:
        first = f"{spans[0][0]:%H:%M}"
        return f"尚未开始取号，今日 {first} 开始取号（取号时间 {hours}）\nTickets from {first}"
    later = [start for start, _end in spans if start > now]
    if later:
        again = f"{later[0]:%H:%M}"
        return f"午休中，{again} 恢复取号（取号时间 {hours}）\nLunch break: tickets again from {again}"
    return f"今日已停止取号，欢迎明天再来（取号时间 {hours}）\nNo more tickets today"
