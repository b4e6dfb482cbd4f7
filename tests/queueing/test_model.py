"""Hall policy, windows, queue groups, service items."""

from __future__ import annotations

from datetime import time

import pytest

from queueing.errors import CallRefused, InvalidConfiguration
from queueing.model import (
    HallLevel,
    HallPolicy,
    QueueGroup,
    ServiceGuide,
    ServiceItem,
    TicketStatus,
    Window,
    WindowStatus,
    check_window_can_call,
)


def test_policy_defaults_follow_the_conventions() -> None:
    p = HallPolicy()
    assert (p.green_mode, p.green_ratio, p.recall_cap, p.elderly_age) == ("absolute", (1, 2), 5, 70)
    assert p.appointment_first and p.allow_anonymous and p.wrap_at is None and p.number_width == 3


@pytest.mark.parametrize(
    "kw",
    [
        {"green_mode": "sometimes"},
        {"green_ratio": (0, 2)},
        {"green_ratio": (1,)},
        {"recall_cap": -1},
        {"elderly_age": 0},
        {"daily_cap_per_group": 0},
        {"per_person_daily_limit": -3},
        {"number_width": 0},
        {"wrap_at": 0},
        {"opening_hours": ((time(12), time(9)),)},
    ],
)
def test_bad_policies_are_refused_with_a_named_field(kw: dict) -> None:
    with pytest.raises(InvalidConfiguration) as err:
        HallPolicy(**kw)
    assert err.value.code == "policy.invalid"
    assert next(iter(kw)) in err.value.message_zh


def test_policy_round_trips_through_plain_data() -> None:
    p = HallPolicy(
        green_mode="ratio",
        green_ratio=(1, 3),
        opening_hours=((time(9), time(12)), (time(13, 30), time(17))),
        per_person_daily_limit=2,
    )
    data = p.to_dict()
    assert data["opening_hours"] == [["09:00", "12:00"], ["13:30", "17:00"]]
    assert HallPolicy.from_dict(data) == p
    with pytest.raises(InvalidConfiguration):
        HallPolicy.from_dict({"recal_cap": 3})


def test_only_an_open_window_with_a_clerk_may_call() -> None:
    w = Window(id=1, hall_id="h", number=3, groups={"A": 2, "B": 1})
    assert w.is_comprehensive and not w.can_call
    with pytest.raises(CallRefused) as err:
        check_window_can_call(w)
    assert err.value.code == "window.not_open" and "关闭" in err.value.message_zh
    paused = Window(id=1, hall_id="h", number=3, groups={"A": 1}, status=WindowStatus.PAUSED, clerk_id="c")
    with pytest.raises(CallRefused) as err:
        check_window_can_call(paused)
    assert "暂停" in err.value.message_zh
    no_clerk = Window(id=1, hall_id="h", number=3, groups={"A": 1}, status=WindowStatus.OPEN)
    with pytest.raises(CallRefused) as err:
        check_window_can_call(no_clerk)
    assert err.value.code == "window.no_clerk"
    ok = Window(id=1, hall_id="h", number=3, groups={"A": 1}, status=WindowStatus.OPEN, clerk_id="c")
    check_window_can_call(ok)
    assert ok.can_call


@pytest.mark.parametrize("groups", [{"A": 0}, {"A": -1}, {"a": 1}, {"A": 1.5}, {"A": True}])
def test_bad_window_weights(groups: dict) -> None:
    with pytest.raises(InvalidConfiguration):
        Window(id=1, hall_id="h", number=1, groups=groups)


def test_service_item_guide_and_group() -> None:
    guide = ServiceGuide(
        main_item="不动产登记",
        sub_item="国有建设用地使用权及房屋所有权首次登记",
        legal_basis=("《不动产登记暂行条例》",),
        time_limit="5个工作日",
        materials=("不动产登记申请书", "身份证明"),
        forms=("不动产登记申请书",),
        steps=("申请", "受理", "审核", "登簿", "发证"),
    )
    item = ServiceItem("BDC-001", "国有建设用地使用权首次登记", "不动产", "自然资源和规划局", guide)
    group = QueueGroup("bz-city", "A", "不动产登记", {"BDC-001"})
    assert group.serves(item.code) and not group.serves("SB-001")
    assert isinstance(group.service_codes, frozenset)
    with pytest.raises(InvalidConfiguration):
        QueueGroup("bz-city", "a", "x")


def test_enum_labels() -> None:
    assert TicketStatus.FINISHED.label_zh == "已办结"
    assert HallLevel.VILLAGE.depth == 3 and HallLevel.CITY.label_zh == "市级"


def test_policy_accepts_hh_mm_strings_and_objects_stay_hashable() -> None:
    p = HallPolicy(opening_hours=[("09:00", "12:00")], green_ratio=[1, 3])
    assert p.opening_hours == ((time(9), time(12)),) and p.green_ratio == (1, 3)
    assert p.is_open_at(time(11, 59)) and not p.is_open_at(time(12))
    with pytest.raises(InvalidConfiguration):
        HallPolicy(opening_hours=[("nine", "ten")])
    w = Window(id=1, hall_id="h", number=1, groups={"A": 1})
    guide = ServiceGuide(main_item="x", materials=["身份证"], steps="申请")
    assert guide.materials == ("身份证",) and guide.steps == ("申请",)
    assert len({w, w, p, guide}) == 3
