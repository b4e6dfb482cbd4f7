"""Clerk terminal: log in at a window, operate tickets with shortcut keys, see the waiting list live."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk import const
from kiosk.api import HallClient
from kiosk.document_outbox import DocumentOutbox, FlushReport
from kiosk.errors import KioskError, Unauthorized
from kiosk.hardware import id_error_zh
from kiosk.ui.base import RoleScreen
from kiosk.ui.context import AppContext
from kiosk.ui.theme import base_scale, px, sc
from kiosk.ui.widgets import button, card, label
from queueing.errors import DomainError
from queueing.tickets import allowed_ops

logger = logging.getLogger(__name__)

# Buttons that act on the ticket in hand, and those that need a free window (the server refuses
# window.busy otherwise).
TICKET_STEPS = ("recall", "no_show", "start", "finish", "transfer", "suspend")
CALLING_OPS = ("call_next", "call_chosen", "call_back")


class ClerkTerminal(RoleScreen):
    """One window's terminal. Every operation disables the buttons until the server answers."""

    op_finished = Signal(str, object)  # op name, Ticket/Window JSON or the exception
    logged_in = Signal(dict)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx, "窗口叫号终端", "Clerk terminal")
        self.window: dict[str, Any] = {}
        self.clerk: dict[str, Any] = {}
        self.current: dict[str, Any] | None = None
        self.busy = False
        self.waiting: list[dict[str, Any]] = []
        self.suspended: list[dict[str, Any]] = []
        self.last_card: Any = None
        self.photo: bytes | None = None
        # Photos taken with a ticket in hand wait here until the server has them (材料留存).
        self.doc_outbox = DocumentOutbox(Path(ctx.config.data_dir) / const.DOCUMENT_OUTBOX_DIR)
        self._doc_flushing = False
        self._doc_flush_again = False
        self._doc_fresh: set[str] = set()  # taken just now: their fate is told on the message line
        # Material names of each service's guide (办事指南), to label the photos taken for it.
        self._materials: dict[str, list[str]] = {}
        self._materials_asked: set[str] = set()
        # The clerk's own client: its token comes from log-in, never the device's.
        self.client = HallClient(ctx.client.base_url)
        self.pages = QStackedWidget()
        self.body.addWidget(self.pages, 1)
        self.login_page = self._build_login()
        self.work_page = self._build_work()
        self.pages.addWidget(self.login_page)
        self.pages.addWidget(self.work_page)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(200)
        self._reload_timer.timeout.connect(self.reload_queue)
        self._doc_timer = QTimer(self)
        self._doc_timer.setInterval(const.DOCUMENT_RETRY_S * 1000)
        self._doc_timer.timeout.connect(self.flush_documents)
        self._doc_timer.start()
        ctx.events.event.connect(self._on_event)
        ctx.events.online_changed.connect(self._on_online)
        if ctx.reader:
            ctx.reader.card_read.connect(self._on_card)
            ctx.reader.read_error.connect(self._on_card_error)
        self._load_windows()

    # -- login ----------------------------------------------------------------------------------
    def _build_login(self) -> QWidget:
        page = QWidget()
        outer = QHBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addStretch(1)
        box = card()
        box.setFixedWidth(sc(820))
        lay = QVBoxLayout(box)
        lay.setContentsMargins(sc(50), sc(30), sc(50), sc(30))
        lay.setSpacing(sc(12))
        lay.addWidget(label("工作人员登录", "title", align=Qt.AlignmentFlag.AlignCenter))
        lay.addWidget(label("Clerk log-in", "en", align=Qt.AlignmentFlag.AlignCenter))
        self.user_edit = QLineEdit(self.ctx.config.username or "")
        self.user_edit.setPlaceholderText("工号 / 用户名")
        self.user_edit.setObjectName("username")
        self.pass_edit = QLineEdit(self.ctx.config.password or "")
        self.pass_edit.setPlaceholderText("密码")
        self.pass_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pass_edit.setObjectName("password")
        self.pass_edit.returnPressed.connect(self.login)
        self.window_combo = QComboBox()
        self.window_combo.setObjectName("window")
        lay.addWidget(label("用户名", None))
        lay.addWidget(self.user_edit)
        lay.addWidget(label("密码", None))
        lay.addWidget(self.pass_edit)
        lay.addWidget(label("窗口", None))
        lay.addWidget(self.window_combo)
        self.login_btn = button("登录 Log in", self.login, "primary", name="login")
        lay.addWidget(self.login_btn)
        self.login_error = label("", "subtitle", wrap=True)
        lay.addWidget(self.login_error)
        outer.addWidget(box)
        outer.addStretch(1)
        return page

    def _load_windows(self) -> None:
        def done(hall: dict[str, Any]) -> None:
            self.ctx.hall.update(hall)
            self.window_combo.clear()
            for w in hall.get("windows", []):
                self.window_combo.addItem(f"{w['number']}号窗口 {w.get('name', '')}", w["id"])
            if self.ctx.config.window_id is not None:
                idx = self.window_combo.findData(self.ctx.config.window_id)
                if idx >= 0:
                    self.window_combo.setCurrentIndex(idx)
            if self.ctx.config.username and self.ctx.config.password:
                self.login()  # unattended demo machines log in by themselves
            elif not self.is_ready and self.pages.currentWidget() is self.login_page:
                self.mark_ready()

        def failed(exc: BaseException) -> None:
            if self.ctx.config.window_id is not None:
                self.window_combo.addItem(f"窗口 {self.ctx.config.window_id}", self.ctx.config.window_id)
            self.login_error.setText(getattr(exc, "message_zh", "无法加载窗口列表"))
            self.mark_ready()

        self.run(lambda: self.ctx.client.hall(self.ctx.hall_id), done, failed)

    def login(self) -> None:
        """Log in at the chosen window."""
        if self.busy:
            return
        user, pw = self.user_edit.text().strip(), self.pass_edit.text()
        window_id = self.window_combo.currentData()
        if not user or not pw:
            self.login_error.setText("请输入用户名和密码")
            return
        self.busy = True
        self.login_btn.setEnabled(False)
        client = self.client
        hall = self.ctx.hall_id

        def call() -> tuple[dict, dict]:
            ans = client.login(user, pw, window_id)
            snap = client.snapshot(hall)
            return ans, snap

        def done(res: tuple[dict, dict]) -> None:
            ans, snap = res
            self.busy = False
            self.login_btn.setEnabled(True)
            self.clerk = ans.get("clerk") or {"name": user}
            self.window = ans.get("window") or {"id": window_id}
            self.pass_edit.clear()
            self._apply_snapshot(snap)
            if self.ctx.events.channel is None or not self.ctx.config.token:
                self.ctx.start_events(int(snap.get("last_seq", 0)), client.token)
            self.pages.setCurrentWidget(self.work_page)
            self._update_header()
            self.reload_queue()
            self.logged_in.emit(ans)
            self.mark_ready()
            self.flush_documents()  # photos a previous session could not send

        def failed(exc: BaseException) -> None:
            self.busy = False
            self.login_btn.setEnabled(True)
            self.login_error.setText(getattr(exc, "message_zh", "登录失败"))

        self.run(call, done, failed)

    def logout(self) -> None:
        """Log out and go back to the log-in page."""
        client = self.client
        if not self.ctx.config.token:
            self.ctx.events.detach()
        self.run(client.logout, lambda _r: None, lambda _e: None)
        self._show_current(None)
        self.pages.setCurrentWidget(self.login_page)

    # -- work page --------------------------------------------------------------------------------
    def _build_work(self) -> QWidget:
        page = QWidget()
        # Denser than the visitor screens: a clerk sits close to a desk monitor.
        k = base_scale()
        page.setStyleSheet(
            f"QPushButton {{ min-height: {px(48, k)}px; font-size: {px(26, k)}px; }}"
            f' QLabel[role="number"] {{ font-size: {px(96, k)}px; }}'
        )
        lay = QHBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(sc(24))
        left = QVBoxLayout()
        left.setSpacing(sc(10))
        self.who = label("", "big")
        left.addWidget(self.who)
        cur = card()
        cl = QVBoxLayout(cur)
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
        left.addWidget(cur)
        grid = QGridLayout()
        grid.setSpacing(sc(12))
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
            "read_id": self.read_id_hint,
            "photo": self.take_photo,
        }
        for i, (op, (key, zh, _en)) in enumerate(const.CLERK_OPS.items()):
            role = "primary" if op in ("call_next", "start", "finish") else None
            # One line per button: three rows of two-line buttons pushed the screen past 720p.
            b = button(f"{zh}  {key}", handlers[op], role, name=f"op-{op}")
            self.op_buttons[op] = b
            grid.addWidget(b, i // 4, i % 4)
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            # A key does what its button does, and nothing while the button is off.
            shortcut.activated.connect(lambda op=op: self.op_buttons[op].isEnabled() and handlers[op]())
        left.addLayout(grid)
        self._refresh_ops()
        side = QHBoxLayout()
        self.id_panel = label("身份证：未读取", "subtitle", wrap=True)
        self.id_panel.setObjectName("id-panel")
        side.addWidget(self.id_panel, 1)
        # Which material the next photo shows (the ticket's service guide lists them).
        self.material_box = QComboBox()
        self.material_box.setObjectName("material")
        self.material_box.setToolTip("拍摄的材料 / the document photographed")
        self.material_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.material_box.setMaximumWidth(sc(330))  # a long name is cut here, not the row
        self.material_box.setVisible(False)
        side.addWidget(self.material_box)
        self.photo_label = label("", None)
        self.photo_label.setFixedSize(sc(134), sc(100))
        side.addWidget(self.photo_label)
        self.doc_pending_label = label("", "subtitle")
        self.doc_pending_label.setObjectName("documents-pending")
        side.addWidget(self.doc_pending_label)
        side.addWidget(button("退出登录 Log out", self.logout, name="logout"))
        left.addLayout(side)
        lay.addLayout(left, 3)

        right = QVBoxLayout()
        self.wait_title = label("等候队列", "big")
        right.addWidget(self.wait_title)
        self.wait_table = self._table(["号码", "事项", "取号时间", "优先"])
        self.wait_table.setObjectName("waiting")
        right.addWidget(self.wait_table, 3)
        right.addWidget(label("挂起 Suspended", "big"))
        self.susp_table = self._table(["号码", "事项", "窗口"])
        self.susp_table.setObjectName("suspended")
        right.addWidget(self.susp_table, 1)
        lay.addLayout(right, 2)
        return page

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        t = QTableWidget(0, len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.verticalHeader().setVisible(False)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        t.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        t.verticalHeader().setDefaultSectionSize(px(54, base_scale()))
        t.setMinimumHeight(px(120, base_scale()))  # the lists shrink before the screen overflows
        return t

    def _update_header(self) -> None:
        w = self.window
        status = const.WINDOW_STATUS_ZH.get(w.get("status", ""), w.get("status", ""))
        self.who.setText(
            f"{w.get('number', '?')}号窗口 {w.get('name', '')} · {self.clerk.get('name', '')} · {status}"
        )
        if self.header_title is not None:
            self.header_title.setText(f"{self.ctx.hall_name} · {w.get('number', '?')}号窗口")

    # -- operations -------------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._refresh_ops()

    def _refresh_ops(self) -> None:
        """Offer only what the window can do now: steps the ticket in hand accepts, or calling when free."""
        steps: set[str] = set()
        if self.current:
            try:
                steps = {op.value for op in allowed_ops(self.current.get("status", ""))}
            except DomainError:  # a status this client does not know: let the server decide
                steps = set(TICKET_STEPS)
        for op, b in self.op_buttons.items():
            if self.busy:
                enabled = False
            elif op in TICKET_STEPS:
                enabled = op in steps
            elif op == "call_next":
                # With a ticket being served F1 is 下一位: finish it and call the next in one step.
                enabled = self.current is None or self._serving()
            elif op in CALLING_OPS:
                enabled = self.current is None
            else:
                enabled = True
            b.setEnabled(enabled)
        key, zh, _en = const.CLERK_OPS["call_next"]
        label_zh = const.CLERK_NEXT_ZH if self._serving() else zh
        self.op_buttons["call_next"].setText(f"{label_zh}  {key}")

    def _serving(self) -> bool:
        return bool(self.current) and self.current.get("status") == "serving"  # type: ignore[union-attr]

    def do_op(self, op: str, body: dict[str, Any] | None = None) -> None:
        """Run one window operation; ignored while another is in flight (no double call)."""
        if self.busy or not self.window.get("id"):
            return
        self._set_busy(True)
        wid = self.window["id"]
        client = self.client
        path = {"call_next": "call-next", "call_chosen": "call"}.get(op, op.replace("_", "-"))
        if op == "call_next" and self._serving():
            # 下一位: the server finishes the ticket in hand (named, so a second press cannot
            # close the one this press calls) and calls the next, atomically.
            assert self.current is not None
            path, body = "next", {"close": "finish", "ticket_id": self.current["id"]}

        def done(res: dict[str, Any]) -> None:
            self._set_busy(False)
            if op in ("pause", "resume"):
                self.window.update(res or {})
                self._update_header()
            elif path == "next":
                called = res.get("called")
                self._show_current(called or res.get("closed"))
                closed_no = (res.get("closed") or {}).get("number")
                if called:
                    self.message.show_ok(f"{closed_no} 已办结，已呼叫 {called.get('number')}")
                else:
                    self.message.show_ok(f"{closed_no} 已办结；当前没有等候的号码")
                res = called or res.get("closed")
            else:
                self._show_current(res)
                if op == "call_next" and res:
                    self.message.show_ok(f"已呼叫 {res.get('number')}")
            self.op_finished.emit(op, res)
            self._reload_timer.start()

        def failed(exc: BaseException) -> None:
            self._set_busy(False)
            self.message.show_error(exc)
            self.op_finished.emit(op, exc)

        self.run(lambda: client.window_op(wid, path, body), done, failed)

    def _show_current(self, t: dict[str, Any] | None) -> None:
        if t and t.get("status") in ("finished", "no_show", "cancelled", "waiting", "suspended"):
            # The ticket left this window (finished, transferred, suspended).
            self.current = None
            self.cur_number.setText("—")
            status = const.STATUS_ZH.get(t["status"], t["status"])
            self.cur_info.setText(f"{t.get('number')} {status}；按 F1 叫下一位")
            self.cur_holder.setText("")
            self._refresh_ops()
            self._fill_materials()
            return
        self.current = t
        self._refresh_ops()
        self._fill_materials()
        if not t:
            self.cur_number.setText("—")
            self.cur_info.setText("暂无办理中的号码，按 F1 叫号")
            self.cur_holder.setText("")
            return
        self.cur_number.setText(t.get("number", ""))
        status = const.STATUS_ZH.get(t.get("status", ""), t.get("status", ""))
        info = f"{t.get('service_name', '')} · {status}"
        if t.get("recall_count"):
            info += f" · 已重呼 {t['recall_count']} 次"
        if t.get("priority"):
            info += " · 绿色通道"
        self.cur_info.setText(info)
        holder = t.get("holder") or {}
        # Masked on screen even when the server sends the full value to this clerk.
        from kiosk.masking import mask_id, mask_name

        parts = []
        if holder.get("name_masked") or holder.get("name"):
            parts.append(mask_name(holder.get("name") or holder.get("name_masked")))
        if holder.get("id_masked") or holder.get("id_number"):
            parts.append(mask_id(holder.get("id_number") or holder.get("id_masked")))
        self.cur_holder.setText("办事人：" + "  ".join(parts) if parts else "办事人：未登记身份证")

    def _fill_materials(self) -> None:
        """Offer the materials of the ticket in hand's service (fetched once per service)."""
        code = (self.current or {}).get("service_code")
        if not code:
            self.material_box.setVisible(False)
            return
        names = self._materials.get(code)
        if names is None:
            if code not in self._materials_asked:
                self._materials_asked.add(code)
                client = self.client

                def done(full: dict[str, Any]) -> None:
                    guide = full.get("guide") or {}
                    items = guide.get("materials") or full.get("materials") or []
                    names = [m if isinstance(m, str) else str(m.get("name", "")) for m in items]
                    self._materials[code] = [n for n in names if n]
                    self._fill_materials()

                def failed(exc: BaseException) -> None:
                    self._materials_asked.discard(code)  # ask again with the next ticket
                    logger.info("service guide of %s not loaded: %s", code, exc)

                self.run(lambda: client.service(code), done, failed)
            names = []
        items = [*names, const.DOCUMENT_OTHER_MATERIAL_ZH]
        if [self.material_box.itemText(i) for i in range(self.material_box.count())] != items:
            self.material_box.clear()
            self.material_box.addItems(items)
        self.material_box.setVisible(True)

    def _selected(self, table: QTableWidget, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        r = table.currentRow()
        if 0 <= r < len(rows):
            return rows[r]
        return None

    def call_selected(self) -> None:
        """Call the ticket selected in the waiting list."""
        t = self._selected(self.wait_table, self.waiting)
        if not t:
            self.message.show_error("请先在右侧等候队列中选中一个号码")
            return
        self.do_op("call_chosen", {"ticket_id": t["id"]})

    def call_back_selected(self) -> None:
        """Call back the suspended ticket selected (or the only one)."""
        t = self._selected(self.susp_table, self.suspended)
        if not t and len(self.suspended) == 1:
            t = self.suspended[0]
        if not t:
            self.message.show_error("请先在挂起列表中选中一个号码")
            return
        self.do_op("call_back", {"ticket_id": t["id"]})

    def toggle_pause(self) -> None:
        """Pause or resume the window."""
        self.do_op("resume" if self.window.get("status") == "paused" else "pause")

    def open_transfer(self) -> None:
        """Choose a service to transfer the current ticket to."""
        if self.busy or not self.current:
            self.message.show_error("当前没有可转移的号码")
            return

        def done(services: list[dict[str, Any]]) -> None:
            dlg = TransferDialog(services, self)
            if dlg.exec() and dlg.chosen:
                self.do_op("transfer", {"service_code": dlg.chosen})

        self.run(lambda: self.client.services(self.ctx.hall_id), done)

    # -- queue ------------------------------------------------------------------------------------
    def _groups(self) -> set[str]:
        g = self.window.get("groups") or {}
        return set(g) if isinstance(g, dict) else {x if isinstance(x, str) else x.get("prefix") for x in g}

    def _apply_snapshot(self, snap: dict[str, Any]) -> None:
        wid = self.window.get("id")
        for w in snap.get("windows", []):
            if w.get("id") == wid:
                self.window.update({k: v for k, v in w.items() if k != "current"})
                if w.get("current"):
                    self._show_current(w["current"])
        self._update_header()

    def reload_queue(self) -> None:
        """Reload the window's waiting and suspended lists."""
        if not self.window.get("id"):
            return
        client, hall = self.client, self.ctx.hall_id

        def fetch() -> tuple[list, list]:
            return client.tickets(hall, status="waiting"), client.tickets(hall, status="suspended")

        def done(res: tuple[list, list]) -> None:
            waiting, suspended = res
            groups = self._groups()
            wid = self.window.get("id")
            self.waiting = [
                t
                for t in waiting
                if (not groups or t.get("prefix") in groups) and t.get("window_id") in (None, wid)
            ]
            self.waiting.sort(key=lambda t: (not t.get("priority"), t.get("issued_at") or "", t["id"]))
            self.suspended = [t for t in suspended if t.get("window_id") in (None, wid)]
            self._fill(self.wait_table, [self._wait_row(t) for t in self.waiting])
            self._fill(
                self.susp_table, [[t["number"], t.get("service_name", ""), ""] for t in self.suspended]
            )
            self.wait_title.setText(f"等候队列（{len(self.waiting)} 人）")

        self.run(fetch, done, lambda e: logger.info("queue reload failed: %s", e))

    @staticmethod
    def _wait_row(t: dict[str, Any]) -> list[str]:
        issued = str(t.get("issued_at") or "")
        hhmm = issued[11:16] if len(issued) >= 16 else issued
        return [t["number"], t.get("service_name", ""), hhmm, "绿色通道" if t.get("priority") else ""]

    @staticmethod
    def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(str(v)))

    def _on_event(self, ev: dict[str, Any]) -> None:
        etype = str(ev.get("type", ""))
        if etype.startswith("ticket."):
            self._reload_timer.start()
        if etype == "window.updated":
            w = (ev.get("payload") or {}).get("window") or ev.get("payload") or {}
            if w.get("id") == self.window.get("id"):
                self.window.update({k: v for k, v in w.items() if k in ("status", "groups", "name")})
                self._update_header()

    def _on_online(self, online: bool) -> None:
        if online and self.window.get("id"):
            self._reload_timer.start()
            self.flush_documents()

    # -- ID card and camera -----------------------------------------------------------------------
    def read_id_hint(self) -> None:
        """Remind the clerk to place the card (reading itself is automatic)."""
        if not self.ctx.reader:
            self.message.show_error("本窗口未配置身份证阅读器")
            return
        self.id_panel.setText("请将身份证放在阅读器上…")

    def _on_card(self, card: Any) -> None:
        if not self.handles_devices() or self.pages.currentWidget() is not self.work_page:
            return
        self.last_card = card
        self.id_panel.setText(f"身份证：{card.masked_name}  {card.masked_id}")

    def _on_card_error(self, exc: BaseException) -> None:
        if not self.handles_devices() or self.pages.currentWidget() is not self.work_page:
            return
        self.id_panel.setText(id_error_zh(exc))

    def take_photo(self) -> None:
        """Photograph a document; with a ticket in hand it is kept with that ticket on the server."""
        cam = self.ctx.camera
        if not cam or not cam.configured:
            self.message.show_error("本窗口未配置高拍仪/摄像头")
            return
        # The photo belongs to the ticket in hand when the key is pressed, not when it is sent.
        ticket = dict(self.current) if self.current else None
        material = self.material_box.currentText() if ticket and self.material_box.isVisible() else ""
        outbox = self.doc_outbox
        self.op_buttons["photo"].setEnabled(False)

        def work() -> tuple[bytes, dict[str, Any] | None]:
            jpeg = cam.capture_jpeg()
            if ticket is None:
                return jpeg, None
            taken = datetime.now(UTC).isoformat(timespec="seconds")
            # Into the outbox first (sealed on disk): if the link is down the photo is still kept.
            return jpeg, outbox.add(
                ticket["id"], jpeg, number=str(ticket.get("number", "")), label=material, taken_at=taken
            )

        def done(res: tuple[bytes, dict[str, Any] | None]) -> None:
            jpeg, entry = res
            self.op_buttons["photo"].setEnabled(not self.busy)
            self.photo = jpeg
            pm = QPixmap()
            pm.loadFromData(jpeg, "JPG")
            self.photo_label.setPixmap(
                pm.scaled(
                    200, 150, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
            if entry is None:
                self.message.show_error(const.DOCUMENT_NEEDS_TICKET_ZH)
                return
            self.message.show_ok(f"材料已拍摄，正在上传… {entry['number']}")
            self._doc_fresh.add(entry["id"])
            self.flush_documents()

        def failed(exc: BaseException) -> None:
            self.op_buttons["photo"].setEnabled(not self.busy)
            self.message.show_error(exc)

        self.run(work, done, failed)

    def flush_documents(self) -> None:
        """Send the photos waiting in the outbox, in the background and one flush at a time."""
        if self._doc_flushing:
            self._doc_flush_again = True
            return
        if not self.client.token or not self.doc_outbox.pending():
            self._update_doc_pending()
            return
        self._doc_flushing = True
        client = self.client

        def send(entry: dict[str, Any], jpeg: bytes) -> dict[str, Any]:
            doc = client.upload_document(
                entry["ticket_id"], jpeg, entry.get("label") or None, entry.get("taken_at")
            )
            try:
                ids = [d["id"] for d in client.documents(entry["ticket_id"])]
                nth = ids.index(doc["id"]) + 1 if doc["id"] in ids else len(ids)
            except KioskError:
                nth = None  # kept on the server all the same; only the count is unknown
            return {**doc, "nth": nth}

        def done(report: FlushReport) -> None:
            self._doc_flushing = False
            self._tell_documents(report)
            if self._doc_flush_again and report.stopped_by is None:
                self._doc_flush_again = False
                self.flush_documents()

        def failed(exc: BaseException) -> None:
            self._doc_flushing = False
            logger.warning("document outbox flush failed: %r", exc)
            self._update_doc_pending()

        self.run(lambda: self.doc_outbox.flush(send), done, failed)

    def _tell_documents(self, report: FlushReport) -> None:
        """Say what became of the photos just taken; older ones delivered late are only counted."""
        waiting = {e["id"] for e in self.doc_outbox.pending()}
        fresh_waiting = self._doc_fresh & waiting
        delivered_fresh = [(e, d) for e, d in report.delivered if e["id"] in self._doc_fresh]
        late = len(report.delivered) - len(delivered_fresh)
        if report.rejected:
            entry, exc = report.rejected[-1]
            self.message.show_error(
                f"{entry.get('number', '')} 材料未能上传：{exc.message_zh}（照片已保留在本机）"
            )
        elif fresh_waiting and report.stopped_by is not None:
            why = (
                const.DOCUMENT_QUEUED_LOGIN_ZH
                if isinstance(report.stopped_by, Unauthorized)
                else const.DOCUMENT_QUEUED_ZH
            )
            self.message.show_error(why)
            self._doc_fresh -= fresh_waiting  # said once; the timer retries quietly
        elif delivered_fresh:
            entry, doc = delivered_fresh[-1]
            nth = doc.get("nth")
            text = f"材料已上传（第{nth}份）" if nth else "材料已上传"
            text += f" · {entry.get('number', '')}"
            if late:
                text += f"；另补传暂存材料 {late} 份"
            self.message.show_ok(text)
        elif late:
            self.message.show_ok(f"网络已恢复，暂存材料已补传 {late} 份")
        self._doc_fresh -= {e["id"] for e, _d in report.delivered} | {e["id"] for e, _x in report.rejected}
        self._update_doc_pending()

    def _update_doc_pending(self) -> None:
        n = len(self.doc_outbox.pending())
        self.doc_pending_label.setText(f"待上传材料 {n} 份" if n else "")


class TransferDialog(QDialog):
    """Pick the service a ticket is transferred to."""

    def __init__(self, services: list[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("转移到其他事项")
        self.chosen: str | None = None
        lay = QVBoxLayout(self)
        lay.addWidget(label("请选择要转移到的事项", "big"))
        self.list = QListWidget()
        for s in services:
            item = QListWidgetItem(f"{s['name']}（{s.get('prefix', '')}）")
            item.setData(Qt.ItemDataRole.UserRole, s["code"])
            self.list.addItem(item)
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(button("取消", self.reject))
        row.addWidget(button("确定转移", self._ok, "primary"))
        lay.addLayout(row)
        self.resize(900, 700)

    def _ok(self) -> None:
        item = self.list.currentItem()
        if item:
            self.chosen = item.data(Qt.ItemDataRole.UserRole)
            self.accept()
