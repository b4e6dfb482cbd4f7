"""Ratings (好差评): five levels encoded 5..1, bad-rating reasons, validation of a rating input."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from . import const
from .errors import DomainError

logger = logging.getLogger(__name__)


class RatingLevel(IntEnum):
    """The five national rating levels; 2 and 1 are bad ratings (差评)."""

    VERY_SATISFIED = 5
    SATISFIED = 4
    FAIRLY_SATISFIED = 3
    DISSATISFIED = 2
    VERY_DISSATISFIED = 1

    @property
    def label_zh(self) -> str:
        return const.RATING_LABELS[self.value][0]

    @property
    def label_en(self) -> str:
        return const.RATING_LABELS[self.value][1]

    @property
    def is_bad(self) -> bool:
        return self.value <= const.BAD_RATING_MAX


LEVELS: tuple[RatingLevel, ...] = tuple(RatingLevel)
REASONS: tuple[str, ...] = tuple(const.RATING_REASONS)


def level_label(level: int, lang: str = "zh") -> str:
    """The label of a level in zh (default) or en."""
    lv = _level(level)
    return lv.label_zh if lang.startswith("zh") else lv.label_en


def reason_label(reason: str, lang: str = "zh") -> str:
    """The label of a reason key in zh (default) or en."""
    zh, en = const.RATING_REASONS[_reason(reason)]
    return zh if lang.startswith("zh") else en


def is_bad(level: int) -> bool:
    """True for 不满意 (2) and 非常不满意 (1)."""
    return _level(level).is_bad


def _level(level: object) -> RatingLevel:
    if isinstance(level, bool) or not isinstance(level, int) or level not in const.RATING_LABELS:
        raise DomainError(
            "rating.invalid_level",
            f"评价等级“{level}”无效，应为5（非常满意）到1（非常不满意）",
            f"rating level {level!r} is invalid; use 5 (very satisfied) to 1 (very dissatisfied)",
            level=str(level),
        )
    return RatingLevel(level)


def _reason(reason: str) -> str:
    # Accept the key or either label so devices may send what they display.
    for key, (zh, en) in const.RATING_REASONS.items():
        if reason in (key, zh, en):
            return key
    raise DomainError(
        "rating.unknown_reason",
        f"未知的评价原因“{reason}”，可选：{'、'.join(z for z, _ in const.RATING_REASONS.values())}",
        f"unknown rating reason {reason!r}; choose from {', '.join(const.RATING_REASONS)}",
        reason=str(reason),
    )


@dataclass(frozen=True)
class RatingInput:
    """A validated rating: level, reason keys (deduplicated, stable order), trimmed text, channel."""

    level: RatingLevel
    reasons: tuple[str, ...] = ()
    text: str = ""
    channel: str = "device"

    @property
    def is_bad(self) -> bool:
        return self.level.is_bad


def validate_rating(
    level: int,
    reasons: Iterable[str] | None = None,
    text: str | None = None,
    channel: str = "device",
) -> RatingInput:
    """Check a rating; a bad rating needs at least one reason. Raise DomainError otherwise."""
    lv = _level(level)
    keys = {_reason(r) for r in reasons or ()}
    ordered = tuple(k for k in const.RATING_REASONS if k in keys)
    body = (text or "").strip()
    if len(body) > const.RATING_TEXT_MAX:
        raise DomainError(
            "rating.text_too_long",
            f"评价内容不能超过{const.RATING_TEXT_MAX}字",
            f"the rating text may not exceed {const.RATING_TEXT_MAX} characters",
            length=len(body),
        )
    if channel not in const.RATING_CHANNELS:
        raise DomainError(
            "rating.invalid_channel",
            f"评价渠道“{channel}”无效",
            f"rating channel {channel!r} is invalid; use one of {', '.join(const.RATING_CHANNELS)}",
        )
    if lv.is_bad and not ordered:
        raise DomainError(
            "rating.reason_required",
            "差评请至少选择一项原因（服务效率、服务水平、服务态度、办事结果）",
            "a bad rating needs at least one reason (efficiency, competence, attitude, outcome)",
            level=lv.value,
        )
    return RatingInput(level=lv, reasons=ordered, text=body, channel=channel)
