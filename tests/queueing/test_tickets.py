"""The ticket state machine."""

from __future__ import annotations

from datetime import date

import pytest

from queueing.errors import IllegalTransition, InvalidConfiguration
from queueing.model import HallPolicy, Ticket, TicketStatus
from queueing.tickets import (
    SYSTEM_OPS,
    TRANSITIONS,
    TicketOp,
    allowed_ops,
    apply,
    check_recall,
    next_status,
)

S = TicketStatus
Op = TicketOp


def ticket(**kw: object) -> Ticket:
    base: dict[str, object] = dict(
        id=1, hall_id="h", prefix="A", seq=1, number="A001", service_code="BDC-001",
        business_day=date(2026, 11, 27), issued_order=1,
    )  # fmt: skip
    base.update(kw)
    return Ticket(**base)  # type: ignore[arg-type]


def test_happy_path_waiting_called_serving_finished() -> None:
    assert next_status(S.WAITING, Op.CALL) is S.CALLED
    assert next_status(S.CALLED, Op.START) is S.SERVING
    assert next_status(S.SERVING, Op.FINISH) is S.FINISHED


def test_strings_are_accepted_for_status_and_op() -> None:
    assert next_status("called", "recall") is S.CALLED


def test_illegal_transition_names_status_and_op_in_chinese() -> None:
    with pytest.raises(IllegalTransition) as err:
        next_status(S.FINISHED, Op.RECALL)
    e = err.value
    assert e.code == "ticket.illegal_transition"
    assert e.message_zh == "票号当前状态为“已办结”，不能执行“重呼”"
    assert "finished" in e.message_en and "recall" in e.message_en
    assert e.detail == {"status": "finished", "op": "recall", "allowed": []}
    assert e.to_dict()["message"] == e.message_zh


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("op", list(Op))
def test_every_pair_is_either_in_the_table_or_refused(status: TicketStatus, op: TicketOp) -> None:
    if (status, op) in TRANSITIONS:
        assert next_status(status, op) is TRANSITIONS[(status, op)]
        # The system's own operations (day end) are never offered as a clerk's button.
        assert (op in allowed_ops(status)) is (op not in SYSTEM_OPS)
    else:
        with pytest.raises(IllegalTransition) as err:
            next_status(status, op)
        assert status.label_zh in err.value.message_zh and op.label_zh in err.value.message_zh
        assert op not in allowed_ops(status)


def test_terminal_statuses_accept_nothing_and_cancel_only_while_waiting_or_suspended() -> None:
    for status in (S.FINISHED, S.NO_SHOW, S.CANCELLED, S.EXPIRED):
        assert allowed_ops(status) == ()
        assert status.is_terminal
    cancellable = {s for s in S if Op.CANCEL in allowed_ops(s)}
    assert cancellable == {S.WAITING, S.SUSPENDED}


def test_recall_cap_default_five_and_configurable() -> None:
    policy = HallPolicy()
    for n in range(5):
        check_recall(n, policy)
    with pytest.raises(IllegalTransition) as err:
        check_recall(5, policy)
    assert err.value.code == "ticket.recall_cap"
    assert "5" in err.value.message_zh
    with pytest.raises(IllegalTransition):
        check_recall(0, HallPolicy(recall_cap=0))


def test_apply_walks_a_ticket_through_recall_and_finish() -> None:
    policy = HallPolicy(recall_cap=2)
    t = apply(ticket(), Op.CALL, policy, window_id=3)
    assert (t.status, t.window_id, t.recall_count) == (S.CALLED, 3, 0)
    t = apply(t, Op.RECALL, policy, window_id=3)
    t = apply(t, Op.RECALL, policy, window_id=3)
    assert t.recall_count == 2
    with pytest.raises(IllegalTransition) as err:
        apply(t, Op.RECALL, policy, window_id=3)
    assert err.value.code == "ticket.recall_cap"
    t = apply(apply(t, Op.START, policy, window_id=3), Op.FINISH, policy, window_id=3)
    assert t.status is S.FINISHED and t.window_id == 3


def test_call_needs_a_window_and_other_windows_cannot_act() -> None:
    policy = HallPolicy()
    with pytest.raises(InvalidConfiguration):
        apply(ticket(), Op.CALL, policy)
    called = apply(ticket(), Op.CALL, policy, window_id=1)
    with pytest.raises(IllegalTransition) as err:
        apply(called, Op.START, policy, window_id=2)
    assert err.value.code == "ticket.other_window"


def test_transfer_to_service_returns_to_waiting_in_target_group() -> None:
    policy = HallPolicy()
    t = apply(apply(ticket(), Op.CALL, policy, window_id=1), Op.START, policy, window_id=1)
    moved = apply(t, Op.TRANSFER, policy, window_id=1, target_prefix="B")
    assert moved.status is S.WAITING
    assert moved.prefix == "B" and moved.number == "A001"  # the visitor keeps the number
    assert moved.window_id is None and moved.bound_window_id is None
    assert moved.transfer_count == 1


def test_transfer_to_window_binds_the_ticket_and_only_that_window_may_call() -> None:
    policy = HallPolicy()
    t = apply(ticket(), Op.CALL, policy, window_id=1)
    moved = apply(t, Op.TRANSFER, policy, window_id=1, target_window_id=7)
    assert moved.status is S.WAITING and moved.bound_window_id == 7 and moved.prefix == "A"
    with pytest.raises(IllegalTransition) as err:
        apply(moved, Op.CALL, policy, window_id=1)
    assert err.value.code == "ticket.bound_elsewhere"
    assert apply(moved, Op.CALL, policy, window_id=7).window_id == 7


def test_transfer_needs_a_target_and_not_the_same_place() -> None:
    policy = HallPolicy()
    t = apply(ticket(), Op.CALL, policy, window_id=1)
    with pytest.raises(InvalidConfiguration):
        apply(t, Op.TRANSFER, policy, window_id=1)
    with pytest.raises(IllegalTransition):
        apply(t, Op.TRANSFER, policy, window_id=1, target_window_id=1)
    with pytest.raises(InvalidConfiguration):
        apply(t, Op.TRANSFER, policy, window_id=1, target_prefix="a1")


def test_suspend_then_call_back_then_cancel_refused() -> None:
    policy = HallPolicy()
    t = apply(apply(ticket(), Op.CALL, policy, window_id=1), Op.START, policy, window_id=1)
    s = apply(t, Op.SUSPEND, policy, window_id=1)
    assert s.status is S.SUSPENDED and s.window_id is None
    back = apply(s, Op.CALL_BACK, policy, window_id=2)
    assert back.status is S.CALLED and back.window_id == 2
    with pytest.raises(IllegalTransition) as err:
        apply(back, Op.CANCEL, policy)
    assert err.value.message_zh == "票号当前状态为“已叫号”，不能执行“取消”"
    assert apply(s, Op.CANCEL, policy).status is S.CANCELLED


def test_unknown_status_or_operation_is_a_typed_error() -> None:
    with pytest.raises(InvalidConfiguration) as err:
        next_status("lost", "call")
    assert err.value.code == "ticket.unknown_status"
    with pytest.raises(InvalidConfiguration) as err:
        next_status("waiting", "teleport")
    assert err.value.code == "ticket.unknown_op"


def test_day_end_expires_every_open_status_and_keeps_the_window_record() -> None:
    expirable = {s for s in S if (s, Op.EXPIRE) in TRANSITIONS}
    assert expirable == {S.WAITING, S.CALLED, S.SERVING, S.SUSPENDED}
    assert all(TRANSITIONS[(s, Op.EXPIRE)] is S.EXPIRED for s in expirable)
    serving = ticket(status=S.SERVING, window_id=3)
    out = apply(serving, Op.EXPIRE, HallPolicy())
    assert out.status is S.EXPIRED and out.window_id == 3 and out.status.label_zh == "日终未办结"
    bound = apply(ticket(status=S.WAITING, bound_window_id=4), Op.EXPIRE, HallPolicy())
    assert bound.bound_window_id is None
    with pytest.raises(IllegalTransition):
        apply(ticket(status=S.FINISHED), Op.EXPIRE, HallPolicy())
