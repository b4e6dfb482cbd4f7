"""Where is my ticket: find today's ticket by number (on-screen keypad) and show its place in the queue."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from kiosk import const
from kiosk.errors import KioskError
from kiosk.ui.context import AppContext
from kiosk.ui.lang import texts_of
from kiosk.ui.widgets import button, label
from kiosk.wayfinding import where_to_go, where_to_go_en
from wire import HallDetailOut, TicketOut

logger = logging.getLogger(__name__)

DIGITS = "1234567890"
KEYS_PER_ROW = 10


class LookupPage(QWidget):
    """Number entry with a touch keypad; the answer says the status, people ahead or the window."""

    def __init__(self, ctx: AppContext, run: Callable[..., None], on_back: Callable[[], None]) -> None:
        super().__init__()
        self.ctx = ctx
        self.run = run
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)  # the screen's body has the margins
        self.texts = texts = texts_of(ctx.extras)
        self.ticket: TicketOut | None = None  # the one answered, redone on 中/EN
        texts.changed.connect(self._language_changed)
        lay.addWidget(
            texts.bind(
                label("", "title"), "查询排队进度 · 请输入号码", "Where is my ticket · enter its number"
            )
        )
        self.edit = QLineEdit()
        self.edit.setObjectName("lookup-number")
        self.edit.setAccessibleName("要查询的号码")
        texts.bind(self.edit, "例如 A001", "e.g. A001", "placeholder")
        self.edit.returnPressed.connect(self.do_lookup)
        lay.addWidget(self.edit)
        self.keypad = QWidget()
        self.keys_grid = QGridLayout(self.keypad)
        self.keys_grid.setContentsMargins(0, 0, 0, 0)
        self.keys: dict[str, QWidget] = {}
        self.letters = ""
        lay.addWidget(self.keypad)
        self._build_keys(letters_of(ctx.hall))
        self.result = label("", "big", wrap=True)
        self.result.setObjectName("lookup-result")
        lay.addWidget(self.result, 1)
        row = QHBoxLayout()
        row.addWidget(texts.bind(button("", on_back), "返回首页", "Back"))
        row.addWidget(texts.bind(button("", self._backspace, name="lookup-back"), "删除 ⌫", "Delete ⌫"))
        row.addWidget(texts.bind(button("", self.do_lookup, "primary", name="do-lookup"), "查询", "Search"))
        lay.addLayout(row)

    def _build_keys(self, letters: str) -> None:
        """The keypad: the hall's own queue letters, then the digits."""
        if letters == self.letters and self.keys:
            return
        self.letters = letters
        for key in self.keys.values():
            self.keys_grid.removeWidget(key)
            key.deleteLater()
        self.keys = {}
        for i, k in enumerate(letters + DIGITS):
            b = button(k, lambda k=k: self.edit.insert(k), "key", name=f"lookup-key-{k}")
            b.setAccessibleName(f"数字 {k}" if k.isdigit() else f"字母 {k}")
            self.keys[k] = b
            self.keys_grid.addWidget(b, i // KEYS_PER_ROW, i % KEYS_PER_ROW)

    def _backspace(self) -> None:
        """One character less; after an answer, the keypad back for another number."""
        self.edit.backspace()
        if not self.keypad.isVisible():
            self.result.setText("")
            self.ticket = None
            self.keypad.show()

    def _answer(self, text: str) -> None:
        # The answer takes the keypad's place: in elderly type both do not fit a screen.
        self.keypad.hide()
        self.result.setText(text)

    def reset(self) -> None:
        """Empty entry and answer; the keypad follows the hall's queues (they may have changed)."""
        self.edit.clear()
        self.ticket = None
        self.result.setText("")
        self.keypad.show()
        self._build_keys(letters_of(self.ctx.hall))

    def do_lookup(self) -> None:
        """Find today's ticket by number and show its place in the queue."""
        number = self.edit.text().strip().upper()
        if not number:
            return
        client, hall = self.ctx.client, self.ctx.hall_id

        def find() -> TicketOut:
            t = client.find_ticket_by_number(hall, number)
            try:
                return client.ticket(t.id)  # fresh people_ahead
            except KioskError:
                return t

        def failed(exc: BaseException) -> None:
            self.result.setText(
                self.texts.pick(
                    getattr(exc, "message_zh", None) or "查询失败",
                    getattr(exc, "message_en", None) or "The ticket could not be found",
                )
            )

        def found(t: TicketOut) -> None:
            self.ticket = t
            self._answer(describe(t, self.ctx.hall, self.texts.english))

        self.run(find, found, failed)

    def _language_changed(self, english: bool) -> None:
        # An answer on screen is said again in the new language.
        if self.ticket is not None and not self.keypad.isVisible():
            self.result.setText(describe(self.ticket, self.ctx.hall, english))


def letters_of(hall: HallDetailOut | None) -> str:
    """The first letters of the hall's queues, in order ('AJ' for the demo city, up to 'L' in a big hall)."""
    if hall is None:
        return ""
    return "".join(sorted({ch.upper() for g in hall.groups for ch in g.prefix or "" if ch.isalpha()}))


def describe(t: TicketOut, hall: HallDetailOut | None = None, english: bool = False) -> str:
    """'A001 社会保障卡申领 / 状态：等候中 / 前面还有 2 人，预计约 6 分钟 / 请到1–3号窗口'."""
    if english:
        return describe_en(t, hall)
    status = const.STATUS_ZH.get(t.status, t.status)
    text = f"{t.number}  {t.service_name}\n状态：{status}"
    if t.status == "waiting":
        # A ticket whose place is not known yet (people_ahead null) says nothing rather than "None".
        if t.people_ahead is not None:
            text += f"\n前面还有 {t.people_ahead} 人"
            if t.estimated_wait_minutes is not None:
                text += f"，预计约 {t.estimated_wait_minutes} 分钟"
        where = where_to_go(hall, t.group)
        if where:
            text += f"\n{where}"
    elif t.window_number:
        text += f"\n请到 {t.window_number} 号窗口"
    return text


def describe_en(t: TicketOut, hall: HallDetailOut | None = None) -> str:
    """'A001 … / Status: waiting / 2 people ahead, about 6 min / Please go to windows 1–3'."""
    text = f"{t.number}  {t.service_name}\nStatus: {const.STATUS_EN.get(t.status, t.status)}"
    if t.status == "waiting":
        if t.people_ahead is not None:
            text += f"\n{t.people_ahead} people ahead"
            if t.estimated_wait_minutes is not None:
                text += f", about {t.estimated_wait_minutes} min"
        where = where_to_go_en(hall, t.group)
        if where:
            text += f"\n{where}"
    elif t.window_number:
        text += f"\nPlease go to window {t.window_number}"
    return text
