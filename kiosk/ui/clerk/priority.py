"""取消优先: the clerk removes a self-declared green-channel priority that is not justified, with a reason.

The button is offered for any priority ticket in hand; which priorities can be removed (not the
elderly's, read from the ID card) is the server's rule, and its refusal is shown as it says it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QPushButton, QVBoxLayout, QWidget

from kiosk import const
from kiosk.ui.widgets import button, label
from wire import TicketOut

if TYPE_CHECKING:
    from kiosk.ui.clerk.terminal import ClerkTerminal

logger = logging.getLogger(__name__)

OP = "priority_remove"  # the op name on the terminal's op_finished signal


class RemoveReasonDialog(QDialog):
    """Big buttons, one per reason; choosing one emits `chosen` with its zh_CN words."""

    chosen = Signal(str)

    def __init__(self, number: str, green_zh: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("取消优先 Remove priority")
        lay = QVBoxLayout(self)
        lay.addWidget(label(f"取消 {number} 的优先（{green_zh}），原因：", "big", wrap=True))
        lay.addWidget(label("Remove the priority, reason:", "subtitle"))
        self.buttons: dict[str, QPushButton] = {}
        for zh, en in const.PRIORITY_REMOVE_REASONS:
            b = button(f"{zh}  {en}", lambda zh=zh: self._choose(zh), "primary", name=f"reason-{zh}")
            self.buttons[zh] = b
            lay.addWidget(b)
        lay.addWidget(button("返回 Back", self.reject, name="reason-back"))

    def _choose(self, reason: str) -> None:
        self.accept()
        self.chosen.emit(reason)


class PriorityRemoval:
    """The 取消优先 button of one terminal and its reason dialog."""

    def __init__(self, term: ClerkTerminal) -> None:
        self.term = term
        self.dialog: RemoveReasonDialog | None = None
        self.button = button("取消优先", self.open_reasons, name="op-priority-remove")
        self.refresh()

    def refresh(self) -> None:
        """Offered while a priority ticket is in hand and no operation is in flight."""
        current = self.term.current
        self.button.setEnabled(bool(current and current.priority) and not self.term.busy)

    def open_reasons(self) -> None:
        """Ask why (the dialog does not block the terminal's event loop)."""
        t = self.term.current
        if t is None or not t.priority or self.term.busy:
            return
        green_zh = const.GREEN_REASON_ZH.get(t.green_reason or "", t.green_reason or "绿色通道")
        self.dialog = RemoveReasonDialog(t.number, green_zh, self.term)
        self.dialog.chosen.connect(lambda reason, tid=t.id: self.remove(tid, reason))
        self.dialog.open()

    def remove(self, ticket_id: int, reason: str) -> None:
        """Ask the server to remove the ticket's priority; its answer (or refusal) comes back to the UI."""
        term = self.term
        if term.busy:
            return
        term.calls.set_busy(True)
        client = term.client

        def done(t: TicketOut) -> None:
            term.calls.set_busy(False)
            term.show_current(t)
            term.message.show_ok(f"{t.number} 已取消优先，按普通号码排队")
            term.op_finished.emit(OP, t)
            term.queue.reload_soon()

        def failed(exc: BaseException) -> None:
            term.calls.set_busy(False)
            logger.info("priority removal of ticket %s refused: %s", ticket_id, exc)
            term.message.show_error(exc)
            term.op_finished.emit(OP, exc)

        term.run(lambda: client.remove_priority(ticket_id, reason), done, failed)
