"""The window's operation buttons and their keys (F1…F12): call, 下一位, recall, no-show, start, finish,
transfer, suspend, call back, call chosen, pause; which of them the ticket in hand allows; one
operation in flight at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QPushButton

from kiosk import const
from kiosk.api import WindowStepAnswer
from kiosk.ui.clerk.transfer import TransferDialog
from kiosk.ui.theme import sc
from kiosk.ui.widgets import button
from queueing.errors import DomainError
from queueing.tickets import allowed_ops
from wire import NextOut, ServiceOut, TicketOut, WindowOut

if TYPE_CHECKING:
    from kiosk.ui.clerk.terminal import ClerkTerminal

# Buttons that act on the ticket in hand, and those that need a free window (the server refuses
# window.busy otherwise).
TICKET_STEPS = ("recall", "no_show", "start", "finish", "transfer", "suspend")
CALLING_OPS = ("call_next", "call_chosen", "call_back")


class CallControls:
    """The button grid of one terminal; every operation disables the buttons until the server answers."""

    def __init__(self, term: ClerkTerminal) -> None:
        self.term = term
        self.grid = QGridLayout()
        self.grid.setSpacing(sc(12))
        self.op_buttons: dict[str, QPushButton] = {}
        handlers: dict[str, Callable[[], None]] = {
            "call_next": lambda: self.do_op("call_next"),
            "recall": lambda: self.do_op("recall"),
            "no_show": lambda: self.do_op("no_show"),
            "start": lambda: self.do_op("start"),
            "finish": lambda: self.do_op("finish"),
            "transfer": self.open_transfer,
            "suspend": lambda: self.do_op("suspend"),
            "call_back": self.call_back_selected,
            "call_chosen": self.call_selected,
            "pause": self.toggle_pause,
            "read_id": term.ticket.read_id_hint,
            "photo": term.documents.take_photo,
        }
        for i, (op, (key, zh, _en)) in enumerate(const.CLERK_OPS.items()):
            role = "primary" if op in ("call_next", "start", "finish") else None
            # One line per button: three rows of two-line buttons pushed the screen past 720p.
            b = button(f"{zh}  {key}", handlers[op], role, name=f"op-{op}")
            self.op_buttons[op] = b
            self.grid.addWidget(b, i // 4, i % 4)
            shortcut = QShortcut(QKeySequence(key), term)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            # A key does what its button does, and nothing while the button is off.
            shortcut.activated.connect(lambda op=op: self.op_buttons[op].isEnabled() and handlers[op]())
        self.refresh()

    def set_busy(self, busy: bool) -> None:
        self.term.busy = busy
        self.refresh()

    def refresh(self) -> None:
        """Offer only what the window can do now: steps the ticket in hand accepts, or calling when free."""
        term = self.term
        steps: set[str] = set()
        if term.current:
            try:
                steps = {op.value for op in allowed_ops(term.current.status)}
            except DomainError:  # a status this client does not know: let the server decide
                steps = set(TICKET_STEPS)
        for op, b in self.op_buttons.items():
            if term.busy:
                enabled = False
            elif op in TICKET_STEPS:
                enabled = op in steps
            elif op == "call_next":
                # With a ticket being served F1 is 下一位: finish it and call the next in one step.
                enabled = term.current is None or self._serving()
            elif op in CALLING_OPS:
                enabled = term.current is None
            else:
                enabled = True
            b.setEnabled(enabled)
        key, zh, _en = const.CLERK_OPS["call_next"]
        label_zh = const.CLERK_NEXT_ZH if self._serving() else zh
        self.op_buttons["call_next"].setText(f"{label_zh}  {key}")
        term.priority.refresh()

    def _serving(self) -> bool:
        current = self.term.current
        return current is not None and current.status == "serving"

    def do_op(self, op: str, body: dict[str, Any] | None = None) -> None:
        """Run one window operation; ignored while another is in flight (no double call)."""
        term = self.term
        if term.busy or term.window is None:
            return
        self.set_busy(True)
        wid = term.window.id
        client = term.client
        path = {"call_next": "call-next", "call_chosen": "call"}.get(op, op.replace("_", "-"))
        if op == "call_next" and self._serving():
            # 下一位: the server finishes the ticket in hand (named, so a second press cannot
            # close the one this press calls) and calls the next, atomically.
            assert term.current is not None
            path, body = "next", {"close": "finish", "ticket_id": term.current.id}

        def done(answer: WindowStepAnswer) -> None:
            self.set_busy(False)
            res: TicketOut | WindowOut | None
            if isinstance(answer, WindowOut):  # pause, resume (open, close): the window's new state
                res = term.window = answer
                term.session.update_header()
            elif isinstance(answer, NextOut):
                called, closed = answer.called, answer.closed
                res = called or closed
                term.show_current(res)
                if called:
                    term.message.show_ok(f"{closed.number} 已办结，已呼叫 {called.number}")
                else:
                    term.message.show_ok(f"{closed.number} 已办结；当前没有等候的号码")
            else:
                res = answer
                term.show_current(res)
                if op == "call_next" and answer is not None:
                    term.message.show_ok(f"已呼叫 {answer.number}")
            term.op_finished.emit(op, res)
            term.queue.reload_soon()

        def failed(exc: BaseException) -> None:
            self.set_busy(False)
            term.message.show_error(exc)
            term.op_finished.emit(op, exc)

        term.run(lambda: client.window_op(wid, path, body), done, failed)

    def call_selected(self) -> None:
        """Call the ticket selected in the waiting list."""
        t = self.term.queue.selected_waiting()
        if not t:
            self.term.message.show_error("请先在右侧等候队列中选中一个号码")
            return
        self.do_op("call_chosen", {"ticket_id": t.id})

    def call_back_selected(self) -> None:
        """Call back the suspended ticket selected (or the only one)."""
        t = self.term.queue.selected_suspended()
        if not t:
            self.term.message.show_error("请先在挂起列表中选中一个号码")
            return
        self.do_op("call_back", {"ticket_id": t.id})

    def toggle_pause(self) -> None:
        """Pause or resume the window."""
        window = self.term.window
        self.do_op("resume" if window is not None and window.status == "paused" else "pause")

    def open_transfer(self) -> None:
        """Choose a service to transfer the current ticket to."""
        term = self.term
        if term.busy or not term.current:
            term.message.show_error("当前没有可转移的号码")
            return

        def done(services: list[ServiceOut]) -> None:
            dlg = TransferDialog(services, term)
            if dlg.exec() and dlg.chosen:
                self.do_op("transfer", {"service_code": dlg.chosen})

        term.run(lambda: term.client.services(term.ctx.hall_id), done)
