"""The ticket state machine: which operation is allowed in which status, and what it leads to."""

from __future__ import annotations

import logging
from dataclasses import replace
from enum import StrEnum

from . import const
from .errors import IllegalTransition, InvalidConfiguration
from .model import HallPolicy, Ticket, TicketStatus, check_prefix

logger = logging.getLogger(__name__)


class TicketOp(StrEnum):
    """What a clerk, a kiosk or a visitor does to a ticket."""

    CALL = "call"
    RECALL = "recall"
    NO_SHOW = "no_show"
    START = "start"
    FINISH = "finish"
    TRANSFER = "transfer"
    SUSPEND = "suspend"
    CALL_BACK = "call_back"
    CANCEL = "cancel"
    # Only the server's day-end pass does this; no clerk button offers it.
    EXPIRE = "expire"

    @property
    def label_zh(self) -> str:
        return const.OP_LABELS[self.value][0]

    @property
    def label_en(self) -> str:
        return const.OP_LABELS[self.value][1]


_S = TicketStatus
_O = TicketOp

# The whole state machine. Anything not listed is refused with IllegalTransition.
TRANSITIONS: dict[tuple[TicketStatus, TicketOp], TicketStatus] = {
    (_S.WAITING, _O.CALL): _S.CALLED,
    (_S.WAITING, _O.CANCEL): _S.CANCELLED,
    (_S.CALLED, _O.RECALL): _S.CALLED,
    (_S.CALLED, _O.NO_SHOW): _S.NO_SHOW,
    (_S.CALLED, _O.START): _S.SERVING,
    (_S.CALLED, _O.TRANSFER): _S.WAITING,
    (_S.CALLED, _O.SUSPEND): _S.SUSPENDED,
    (_S.SERVING, _O.FINISH): _S.FINISHED,
    (_S.SERVING, _O.TRANSFER): _S.WAITING,
    (_S.SERVING, _O.SUSPEND): _S.SUSPENDED,
    (_S.SUSPENDED, _O.CALL_BACK): _S.CALLED,
    (_S.SUSPENDED, _O.CANCEL): _S.CANCELLED,
    # The business day ended: whatever is still open is closed unserved (see queueing.dayend).
    (_S.WAITING, _O.EXPIRE): _S.EXPIRED,
    (_S.CALLED, _O.EXPIRE): _S.EXPIRED,
    (_S.SERVING, _O.EXPIRE): _S.EXPIRED,
    (_S.SUSPENDED, _O.EXPIRE): _S.EXPIRED,
}
# Operations the system performs, never offered to a clerk.
SYSTEM_OPS = frozenset({_O.EXPIRE})


def _status(value: TicketStatus | str) -> TicketStatus:
    try:
        return TicketStatus(value)
    except ValueError:
        raise InvalidConfiguration(
            "ticket.unknown_status", f"未知的票号状态“{value}”", f"unknown ticket status {value!r}"
        ) from None


def _op(value: TicketOp | str) -> TicketOp:
    try:
        return TicketOp(value)
    except ValueError:
        raise InvalidConfiguration(
            "ticket.unknown_op", f"未知的票号操作“{value}”", f"unknown ticket operation {value!r}"
        ) from None


def allowed_ops(status: TicketStatus | str) -> tuple[TicketOp, ...]:
    """The operations a ticket in `status` accepts, in a stable order (for clerk buttons)."""
    status = _status(status)
    return tuple(op for op in TicketOp if (status, op) in TRANSITIONS and op not in SYSTEM_OPS)


def next_status(status: TicketStatus | str, op: TicketOp | str) -> TicketStatus:
    """The status after `op`, or IllegalTransition naming the current status and the operation."""
    status = _status(status)
    op = _op(op)
    try:
        return TRANSITIONS[(status, op)]
    except KeyError:
        raise IllegalTransition(
            "ticket.illegal_transition",
            f"票号当前状态为“{status.label_zh}”，不能执行“{op.label_zh}”",
            f"the ticket is {status.label_en}; it cannot be given the operation '{op.label_en}'",
            status=status.value,
            op=op.value,
            allowed=[o.value for o in allowed_ops(status)],
        ) from None


def check_recall(recall_count: int, policy: HallPolicy) -> None:
    """Refuse a recall once the ticket has been recalled `policy.recall_cap` times."""
    if recall_count >= policy.recall_cap:
        raise IllegalTransition(
            "ticket.recall_cap",
            f"已重呼{recall_count}次，达到上限{policy.recall_cap}次，请标记过号或开始办理",
            f"recalled {recall_count} times, the limit is {policy.recall_cap}; mark no-show or start",
            recall_count=recall_count,
            recall_cap=policy.recall_cap,
        )


def _require_window(op: TicketOp, window_id: int | None) -> int:
    if window_id is None:
        raise InvalidConfiguration(
            "ticket.window_required",
            f"执行“{op.label_zh}”需要指定窗口",
            f"the operation '{op.label_en}' needs a window",
            op=op.value,
        )
    return window_id


def _check_same_window(ticket: Ticket, op: TicketOp, window_id: int | None) -> None:
    # Only the window holding a ticket may act on it: two clerks must not share one visitor.
    if window_id is not None and ticket.window_id is not None and ticket.window_id != window_id:
        raise IllegalTransition(
            "ticket.other_window",
            f"票号{ticket.number}正由其他窗口办理，不能执行“{op.label_zh}”",
            f"ticket {ticket.number} is held by another window; it cannot be given '{op.label_en}'",
            ticket_id=ticket.id,
            window_id=ticket.window_id,
        )


def apply(
    ticket: Ticket,
    op: TicketOp | str,
    policy: HallPolicy,
    *,
    window_id: int | None = None,
    target_prefix: str | None = None,
    target_window_id: int | None = None,
) -> Ticket:
    """Return the ticket after `op` (pure); every rule of the state machine is checked here."""
    op = _op(op)
    status = next_status(ticket.status, op)
    if op in (TicketOp.CALL, TicketOp.CALL_BACK):
        window_id = _require_window(op, window_id)
        if op is TicketOp.CALL and ticket.bound_window_id is not None and ticket.bound_window_id != window_id:
            raise IllegalTransition(
                "ticket.bound_elsewhere",
                f"票号{ticket.number}已转至指定窗口，只能由该窗口叫号",
                f"ticket {ticket.number} was transferred to another window; only that window may call it",
                ticket_id=ticket.id,
                bound_window_id=ticket.bound_window_id,
            )
        # Once called, a transfer-to-window binding is fulfilled.
        return replace(ticket, status=status, window_id=window_id, bound_window_id=None, recall_count=0)
    if op is TicketOp.CANCEL:
        return replace(ticket, status=status, window_id=None, bound_window_id=None)
    if op is TicketOp.EXPIRE:
        # The window that held it keeps its record (stats by window); a transfer binding lapses.
        return replace(ticket, status=status, bound_window_id=None)
    _check_same_window(ticket, op, window_id)
    if op is TicketOp.RECALL:
        check_recall(ticket.recall_count, policy)
        return replace(ticket, recall_count=ticket.recall_count + 1)
    if op is TicketOp.TRANSFER:
        if target_prefix is None and target_window_id is None:
            raise InvalidConfiguration(
                "ticket.transfer_target",
                "转移需要指定目标事项或目标窗口",
                "a transfer needs a target service or window",
                ticket_id=ticket.id,
            )
        prefix = check_prefix(target_prefix) if target_prefix is not None else ticket.prefix
        if target_window_id is not None and target_window_id == ticket.window_id and prefix == ticket.prefix:
            raise IllegalTransition(
                "ticket.transfer_same",
                "不能转移到当前窗口和当前事项",
                "a ticket cannot be transferred to its own window and service",
                ticket_id=ticket.id,
            )
        return replace(
            ticket,
            status=status,
            prefix=prefix,
            window_id=None,
            bound_window_id=target_window_id,
            recall_count=0,
            transfer_count=ticket.transfer_count + 1,
        )
    if op is TicketOp.SUSPEND:
        # A suspended ticket may be called back by any window serving its group.
        return replace(ticket, status=status, window_id=None, recall_count=0)
    # START, FINISH, NO_SHOW keep the window; FINISH and NO_SHOW are terminal.
    return replace(ticket, status=status)
