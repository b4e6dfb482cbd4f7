"""The window's waiting list and suspended list, reloaded live as tickets change."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

from kiosk import const
from kiosk.ui.theme import base_scale, px
from kiosk.ui.widgets import label
from wire import TicketOut

if TYPE_CHECKING:
    from kiosk.ui.clerk.terminal import ClerkTerminal

logger = logging.getLogger(__name__)


class QueueLists:
    """The right-hand column of one terminal: waiting and suspended tickets of its window."""

    def __init__(self, term: ClerkTerminal) -> None:
        self.term = term
        self.waiting: list[TicketOut] = []
        self.suspended: list[TicketOut] = []
        self.column = QVBoxLayout()
        self.wait_title = label("等候队列", "big")
        self.column.addWidget(self.wait_title)
        self.wait_table = self._table(["号码", "事项", "取号时间", "优先"])
        self.wait_table.setObjectName("waiting")
        self.wait_table.setAccessibleName("等候队列")
        self.column.addWidget(self.wait_table, 3)
        self.column.addWidget(label("挂起 Suspended", "big"))
        self.susp_table = self._table(["号码", "事项", "窗口"])
        self.susp_table.setObjectName("suspended")
        self.susp_table.setAccessibleName("挂起的号票")
        self.column.addWidget(self.susp_table, 1)
        # Events come in bursts: one reload shortly after the last of them.
        self._reload_timer = QTimer(term)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(200)
        self._reload_timer.timeout.connect(self.reload)

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        t = QTableWidget(0, len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.verticalHeader().setVisible(False)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setTabKeyNavigation(False)  # Tab leaves the table for the next control, not the next cell
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        t.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        t.verticalHeader().setDefaultSectionSize(px(54, base_scale()))
        t.setMinimumHeight(px(120, base_scale()))  # the lists shrink before the screen overflows
        return t

    def reload_soon(self) -> None:
        """Reload after a short pause (restarted by each new reason to reload)."""
        self._reload_timer.start()

    def selected_waiting(self) -> TicketOut | None:
        return self._selected(self.wait_table, self.waiting)

    def selected_suspended(self) -> TicketOut | None:
        """The suspended ticket selected, or the only one."""
        t = self._selected(self.susp_table, self.suspended)
        if not t and len(self.suspended) == 1:
            t = self.suspended[0]
        return t

    @staticmethod
    def _selected(table: QTableWidget, rows: list[TicketOut]) -> TicketOut | None:
        r = table.currentRow()
        if 0 <= r < len(rows):
            return rows[r]
        return None

    def _groups(self) -> set[str]:
        window = self.term.window
        return set(window.groups) if window is not None else set()

    def reload(self) -> None:
        """Reload the window's waiting and suspended lists."""
        term = self.term
        if term.window is None:
            return
        client, hall = term.client, term.ctx.hall_id

        def fetch() -> tuple[list[TicketOut], list[TicketOut]]:
            return client.tickets(hall, status="waiting"), client.tickets(hall, status="suspended")

        def done(res: tuple[list[TicketOut], list[TicketOut]]) -> None:
            waiting, suspended = res
            groups = self._groups()
            wid = term.window.id if term.window is not None else None
            self.waiting = [
                t for t in waiting if (not groups or t.prefix in groups) and t.window_id in (None, wid)
            ]
            self.waiting.sort(key=lambda t: (not t.priority, t.issued_at or "", t.id))
            self.suspended = [t for t in suspended if t.window_id in (None, wid)]
            self._fill(self.wait_table, [self._wait_row(t) for t in self.waiting])
            self._fill(self.susp_table, [[t.number, t.service_name, ""] for t in self.suspended])
            self.wait_title.setText(f"等候队列（{len(self.waiting)} 人）")

        term.run(fetch, done, lambda e: logger.info("queue reload failed: %s", e))

    @staticmethod
    def _wait_row(t: TicketOut) -> list[str]:
        issued = t.issued_at or ""
        hhmm = issued[11:16] if len(issued) >= 16 else issued
        return [t.number, t.service_name, hhmm, priority_mark(t)]

    @staticmethod
    def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            # A priority ticket (the waiting list's last column says why) stands out in bold on amber:
            # the clerk sees at a glance why it is called before the others.
            marked = len(row) == 4 and bool(row[3])
            for c, v in enumerate(row):
                item = QTableWidgetItem(str(v))
                if marked:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setBackground(QColor(const.COLOR_WARN_BG))
                    item.setForeground(QColor(const.COLOR_WARN_TEXT))
                table.setItem(r, c, item)


def priority_mark(t: TicketOut) -> str:
    """优先 and why (老年人, 预约, …) for a priority ticket; empty for the others."""
    if not t.priority:
        return ""
    if t.green_reason:
        why = const.GREEN_REASON_ZH.get(t.green_reason, "绿色通道")
    elif t.appointment_id:
        why = "预约"
    else:
        why = "绿色通道"
    return f"优先·{why}"
