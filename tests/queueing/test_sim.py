"""The in-memory reference hall: scenarios a clerk or visitor would notice."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from queueing.errors import CallRefused, IllegalTransition, InvalidIdNumber, IssueRefused, NotFound
from queueing.model import HallPolicy, TicketStatus, WindowStatus
from queueing.sim import SimHall, demo_hall

OLD_ID = "11010519491231002X"  # 76 years old in 2026
YOUNG_ID = "110101197608056897"


@pytest.fixture
def hall() -> SimHall:
    h = demo_hall()  # window 1 serves A:2 B:1, window 2 serves B
    h.login(1, "clerk1")
    h.login(2, "clerk2")
    return h


def test_numbers_per_prefix_and_reset_next_day(hall: SimHall) -> None:
    assert [hall.issue(s).number for s in ("BDC-001", "SB-001", "BDC-002", "BDC-001")] == [
        "A001", "B001", "A002", "A003",
    ]  # fmt: skip
    hall.advance(24 * 3600)
    assert hall.issue("BDC-001").number == "A001"
    assert len({(t.business_day, t.number) for t in hall.tickets.values()}) == 5


def test_two_windows_never_get_the_same_ticket(hall: SimHall) -> None:
    b1 = hall.issue("SB-001")
    b2 = hall.issue("SB-001")
    first = hall.call(1, b1.id)
    second = hall.call_next(2)
    assert first.id == b1.id and second is not None and second.id == b2.id
    hall.no_show(2)
    with pytest.raises(IllegalTransition) as err:
        hall.call(2, b1.id)  # already called at window 1
    assert "已叫号" in err.value.message_zh
    assert hall.tickets[b1.id].window_id == 1


def test_double_click_on_call_next_is_refused_and_loses_nothing(hall: SimHall) -> None:
    hall.issue("BDC-001")
    hall.issue("BDC-001")
    t = hall.call_next(1)
    with pytest.raises(CallRefused) as err:
        hall.call_next(1)
    assert err.value.code == "window.busy" and t.number in err.value.message_zh
    assert [x.status for x in hall.tickets.values()] == [TicketStatus.CALLED, TicketStatus.WAITING]


def test_paused_and_logged_out_windows_cannot_call(hall: SimHall) -> None:
    hall.issue("BDC-001")
    hall.set_status(1, WindowStatus.PAUSED)
    with pytest.raises(CallRefused) as err:
        hall.call_next(1)
    assert err.value.code == "window.not_open"
    hall.set_status(1, WindowStatus.OPEN)
    hall.logout(1)
    with pytest.raises(CallRefused):
        hall.call_next(1)
    assert hall.waiting()[0].number == "A001"


def test_a_window_with_a_ticket_cannot_close(hall: SimHall) -> None:
    hall.issue("SB-001")
    hall.call_next(2)
    with pytest.raises(CallRefused) as err:
        hall.logout(2)
    assert err.value.code == "window.busy"
    hall.no_show(2)
    hall.logout(2)


def test_empty_queue_gives_none(hall: SimHall) -> None:
    assert hall.call_next(1) is None
    hall.issue("BDC-001")
    assert hall.call_next(2) is None  # window 2 serves only B


def test_elderly_from_the_id_card_are_called_first(hall: SimHall) -> None:
    normal = hall.issue("BDC-001", id_number=YOUNG_ID)
    elderly = hall.issue("BDC-001", id_number=OLD_ID)
    assert elderly.priority and elderly.green_reason == "elderly"
    assert hall.people_ahead(elderly.id) == 0 and hall.people_ahead(normal.id) == 1
    assert hall.call_next(1).id == elderly.id


def test_issue_rules(hall: SimHall) -> None:
    with pytest.raises(NotFound) as err:
        hall.issue("NOPE")
    assert err.value.code == "service.not_found"
    with pytest.raises(InvalidIdNumber):
        hall.issue("BDC-001", id_number="110101197608056896")
    limited = demo_hall()
    limited.policy = HallPolicy(per_person_daily_limit=2, opening_hours=((time(9), time(17)),))
    limited.issue("BDC-001", id_number=YOUNG_ID)
    limited.issue("SB-001", id_number=YOUNG_ID.lower())
    with pytest.raises(IssueRefused) as err:
        limited.issue("BDC-001", id_number=YOUNG_ID)
    assert err.value.code == "issue.person_limit"
    limited.now = datetime(2026, 11, 27, 18, 0)
    with pytest.raises(IssueRefused) as err:
        limited.issue("BDC-001")
    assert err.value.code == "issue.closed_hours"
    assert len(limited.tickets) == 2


def test_transfer_to_another_window_goes_there_first(hall: SimHall) -> None:
    a = hall.issue("BDC-001")
    b = hall.issue("SB-001")
    hall.call_next(1)
    hall.start(1)
    moved = hall.transfer(1, to_window=2)
    assert moved.status is TicketStatus.WAITING and moved.bound_window_id == 2
    c = hall.issue("SB-001")
    # Window 1 serves A and B but never takes the ticket sent to window 2.
    assert hall.call_next(1).id == b.id
    got = hall.call_next(2)
    assert got.id == a.id and got.number == "A001"  # before the B ticket waiting there
    assert [t.id for t in hall.waiting()] == [c.id]


def test_transfer_to_another_service_queues_in_that_group(hall: SimHall) -> None:
    a = hall.issue("BDC-001")
    hall.call_next(1)
    moved = hall.transfer(1, service_code="SB-001")
    assert moved.prefix == "B" and moved.number == "A001"
    assert hall.call_next(2).id == a.id


def test_suspend_and_call_back(hall: SimHall) -> None:
    t = hall.issue("SB-001")
    hall.call_next(2)
    hall.start(2)
    hall.suspend(2)
    assert hall.current_ticket(2) is None
    hall.issue("SB-001")
    back = hall.call_back(2, t.id)
    assert back.status is TicketStatus.CALLED and back.window_id == 2
    with pytest.raises(IllegalTransition):
        hall.cancel(t.id)


def test_recall_cap_then_no_show(hall: SimHall) -> None:
    hall.policy = HallPolicy(recall_cap=2)
    hall.issue("BDC-001")
    hall.call_next(1)
    hall.recall(1)
    hall.recall(1)
    with pytest.raises(IllegalTransition) as err:
        hall.recall(1)
    assert err.value.code == "ticket.recall_cap"
    assert hall.no_show(1).status is TicketStatus.NO_SHOW
    with pytest.raises(CallRefused):
        hall.recall(1)


def test_estimates_learn_from_finished_services(hall: SimHall) -> None:
    tickets = [hall.issue("SB-001") for _ in range(6)]
    # Window 2 serves only B, window 1 gives B a third of its calls (A:2, B:1): 4/3 windows.
    assert hall.estimated_wait_minutes(tickets[-1].id) == 19  # 5 ahead x 300 s default / (4/3)
    for _ in range(2):
        hall.call_next(2)
        hall.start(2)
        hall.advance(600)
        hall.finish(2)
    # 3 ahead x 600 s / (4/3) windows = 22.5 -> 23 minutes.
    assert hall.people_ahead(tickets[-1].id) == 3
    assert hall.estimated_wait_minutes(tickets[-1].id) == 23
    hall.set_status(1, WindowStatus.PAUSED)
    assert hall.estimated_wait_minutes(tickets[-1].id) == 30  # only window 2 left
    finished = [e for e in hall.events if e.type == "ticket.finished"]
    assert len(finished) == 2
