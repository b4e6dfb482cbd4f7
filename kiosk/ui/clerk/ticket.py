"""The ticket in hand (number, service, status, masked holder) and the visitor's ID card read at the
window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QVBoxLayout

from kiosk import const
from kiosk.hardware import id_error_zh
from kiosk.ui.theme import sc
from kiosk.ui.widgets import card, label
from queueing.idnumber import mask_id_number as mask_id
from queueing.idnumber import mask_name
from wire import TicketOut

if TYPE_CHECKING:
    from kiosk.ui.clerk.terminal import ClerkTerminal

# A ticket in one of these states has left the window (finished, transferred, suspended).
LEFT_WINDOW = ("finished", "no_show", "cancelled", "waiting", "suspended")


class CurrentTicket:
    """The current-ticket card and the ID card line of one terminal."""

    def __init__(self, term: ClerkTerminal) -> None:
        self.term = term
        self.last_card: Any = None
        self.card = card()
        cl = QVBoxLayout(self.card)
        cl.setContentsMargins(sc(30), sc(12), sc(30), sc(12))
        cl.setSpacing(sc(4))
        cl.addWidget(label("当前号码 Current", "subtitle"))
        self.cur_number = label("—", "number")
        self.cur_number.setObjectName("current-number")
        cl.addWidget(self.cur_number)
        self.cur_info = label("暂无办理中的号码，按 F1 叫号", "big", wrap=True)
        self.cur_info.setObjectName("current-info")
        cl.addWidget(self.cur_info)
        self.cur_holder = label("", "subtitle", wrap=True)
        self.cur_holder.setObjectName("current-holder")
        cl.addWidget(self.cur_holder)
        self.id_panel = label("身份证：未读取", "subtitle", wrap=True)
        self.id_panel.setObjectName("id-panel")
        reader = term.ctx.reader
        if reader:
            reader.card_read.connect(self._on_card)
            reader.read_error.connect(self._on_card_error)

    def show(self, t: TicketOut | None) -> TicketOut | None:
        """Show a ticket of this window; the ticket still in hand afterwards (None if it left)."""
        if t and t.status in LEFT_WINDOW:
            self.cur_number.setText("—")
            status = const.STATUS_ZH.get(t.status, t.status)
            self.cur_info.setText(f"{t.number} {status}；按 F1 叫下一位")
            self.cur_holder.setText("")
            return None
        if not t:
            self.cur_number.setText("—")
            self.cur_info.setText("暂无办理中的号码，按 F1 叫号")
            self.cur_holder.setText("")
            return None
        self.cur_number.setText(t.number)
        status = const.STATUS_ZH.get(t.status, t.status)
        info = f"{t.service_name} · {status}"
        if t.recall_count:
            info += f" · 已重呼 {t.recall_count} 次"
        if t.priority:
            info += " · 绿色通道"
        self.cur_info.setText(info)
        holder = t.holder
        # Masked on screen even when the server sends the full value to this clerk.
        parts = []
        if holder and (name := holder.name or holder.name_masked):
            parts.append(mask_name(name))
        if holder and (id_number := holder.id_number or holder.id_masked):
            parts.append(mask_id(id_number))
        self.cur_holder.setText("办事人：" + "  ".join(parts) if parts else "办事人：未登记身份证")
        return t

    # -- ID card ----------------------------------------------------------------------------------
    def read_id_hint(self) -> None:
        """Remind the clerk to place the card (reading itself is automatic)."""
        if not self.term.ctx.reader:
            self.term.message.show_error("本窗口未配置身份证阅读器")
            return
        self.id_panel.setText("请将身份证放在阅读器上…")

    def _for_this_screen(self) -> bool:
        term = self.term
        return term.handles_devices() and term.pages.currentWidget() is term.work_page

    def _on_card(self, card: Any) -> None:
        if not self._for_this_screen():
            return
        self.last_card = card
        self.id_panel.setText(f"身份证：{card.masked_name}  {card.masked_id}")

    def _on_card_error(self, exc: BaseException) -> None:
        if not self._for_this_screen():
            return
        self.id_panel.setText(id_error_zh(exc))
