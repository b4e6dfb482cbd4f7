"""Issuing rules and green-channel eligibility."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from queueing.errors import IssueRefused
from queueing.idnumber import parse_id_number
from queueing.model import GreenReason, HallPolicy
from queueing.rules import check_can_issue, green_reason_for

NOON = datetime(2026, 11, 27, 12, 0)


def test_no_limits_by_default() -> None:
    check_can_issue(HallPolicy(), NOON, 10_000, None)
    check_can_issue(HallPolicy(), NOON, 0, 50)


def test_opening_hours() -> None:
    policy = HallPolicy(opening_hours=((time(9), time(12)), (time(13, 30), time(17))))
    check_can_issue(policy, datetime(2026, 11, 27, 9, 0), 0, None)
    check_can_issue(policy, datetime(2026, 11, 27, 16, 59), 0, None)
    for closed in (time(8, 59), time(12, 0), time(13, 0), time(17, 0)):
        with pytest.raises(IssueRefused) as err:
            check_can_issue(policy, datetime.combine(date(2026, 11, 27), closed), 0, None)
        assert err.value.code == "issue.closed_hours"
        assert "09:00-12:00" in err.value.message_zh


def test_daily_cap_from_policy_or_group() -> None:
    policy = HallPolicy(daily_cap_per_group=100)
    check_can_issue(policy, NOON, 99, None)
    with pytest.raises(IssueRefused) as err:
        check_can_issue(policy, NOON, 100, None)
    assert err.value.code == "issue.daily_cap" and "100" in err.value.message_zh
    # A group's own cap wins over the hall default.
    check_can_issue(policy, NOON, 150, None, group_cap=200)
    with pytest.raises(IssueRefused):
        check_can_issue(HallPolicy(), NOON, 20, None, group_cap=20)


def test_per_person_limit_and_anonymous() -> None:
    policy = HallPolicy(per_person_daily_limit=3, allow_anonymous=False)
    check_can_issue(policy, NOON, 0, 2)
    with pytest.raises(IssueRefused) as err:
        check_can_issue(policy, NOON, 0, 3)
    assert err.value.code == "issue.person_limit"
    assert err.value.detail == {"limit": 3, "issued": 3}
    with pytest.raises(IssueRefused) as err:
        check_can_issue(policy, NOON, 0, None)
    assert err.value.code == "issue.identity_required"


def test_elderly_green_channel_comes_from_the_id_card() -> None:
    policy = HallPolicy(elderly_age=70)
    old = parse_id_number("11010519491231002X")  # 76 on the day below
    young = parse_id_number("110101197608056897")
    day = date(2026, 11, 27)
    assert green_reason_for(policy, old, None, day) is GreenReason.ELDERLY
    assert green_reason_for(policy, young, None, day) is None
    assert green_reason_for(HallPolicy(elderly_age=80), old, None, day) is None
    assert green_reason_for(policy, young, "pregnant", day) is GreenReason.PREGNANT
    assert green_reason_for(policy, None, GreenReason.DISABLED, day) is GreenReason.DISABLED
    with pytest.raises(IssueRefused) as err:
        green_reason_for(policy, young, "elderly", day)
    assert err.value.code == "issue.green_not_eligible"
    with pytest.raises(IssueRefused):
        green_reason_for(policy, None, "elderly", day)
    # Turns 70 exactly on the day.
    born70 = parse_id_number("51010219561127001X")
    assert born70.age_on(day) == 70
    assert green_reason_for(policy, born70, None, day) is GreenReason.ELDERLY


def test_unknown_green_reason_is_refused() -> None:
    with pytest.raises(IssueRefused) as err:
        green_reason_for(HallPolicy(), None, "vip", date(2026, 11, 27))
    assert err.value.code == "issue.invalid_green_reason"
