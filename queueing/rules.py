"""Issuing rules: opening hours, daily caps, per-person limits, green-channel eligibility."""

from __future__ import annotations

import logging
from datetime import date, datetime

from .errors import IssueRefused
from .idnumber import IdNumber
from .model import GreenReason, HallPolicy

logger = logging.getLogger(__name__)


def check_can_issue(
    policy: HallPolicy,
    now: datetime,
    issued_in_group_today: int,
    issued_for_person_today: int | None,
    *,
    group_cap: int | None = None,
) -> None:
    """Raise IssueRefused unless a ticket may be issued now (None for the person = anonymous)."""
    if not policy.is_open_at(now):
        spans = "、".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in policy.opening_hours)
        raise IssueRefused(
            "issue.closed_hours",
            f"当前不在取号时间内，取号时间为{spans}",
            f"tickets are issued only during opening hours: {spans.replace('、', ', ')}",
            opening_hours=[[f"{a:%H:%M}", f"{b:%H:%M}"] for a, b in policy.opening_hours],
        )
    cap = group_cap if group_cap is not None else policy.daily_cap_per_group
    if cap is not None and issued_in_group_today >= cap:
        raise IssueRefused(
            "issue.daily_cap",
            f"该事项今日号源已满（{cap}个），请明日再来或预约办理",
            f"today's tickets for this service are used up ({cap}); come back tomorrow or book ahead",
            cap=cap,
            issued=issued_in_group_today,
        )
    if issued_for_person_today is None:
        if not policy.allow_anonymous:
            raise IssueRefused(
                "issue.identity_required",
                "本大厅取号需刷身份证",
                "this hall issues tickets only against an ID card",
            )
        return
    limit = policy.per_person_daily_limit
    if limit is not None and issued_for_person_today >= limit:
        raise IssueRefused(
            "issue.person_limit",
            f"同一证件每日最多取号{limit}次，您今日已取号{issued_for_person_today}次",
            f"one ID card may take {limit} tickets a day; this card has taken {issued_for_person_today}",
            limit=limit,
            issued=issued_for_person_today,
        )


def green_reason_for(
    policy: HallPolicy,
    holder: IdNumber | None,
    declared: GreenReason | str | None,
    day: date,
) -> GreenReason | None:
    """The green-channel reason a ticket gets: elderly from the ID's birth date, others as declared."""
    try:
        declared = GreenReason(declared) if declared is not None else None
    except ValueError:
        raise IssueRefused(
            "issue.invalid_green_reason",
            f"未知的绿色通道类别“{declared}”，可选：老年人、残疾人、军人、孕妇",
            f"unknown green-channel reason {declared!r}; use elderly, disabled, serviceman or pregnant",
        ) from None
    is_elderly = holder is not None and holder.age_on(day) >= policy.elderly_age
    if declared is GreenReason.ELDERLY and not is_elderly:
        raise IssueRefused(
            "issue.green_not_eligible",
            f"老年人绿色通道需刷身份证核验，年满{policy.elderly_age}周岁方可使用",
            f"the elderly green channel needs an ID card showing age {policy.elderly_age} or over",
            elderly_age=policy.elderly_age,
        )
    if declared is not None:
        return declared
    return GreenReason.ELDERLY if is_elderly else None
