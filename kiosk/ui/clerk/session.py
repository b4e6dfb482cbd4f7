"""The clerk's session at a window: the log-in page and its window list, log-in and log-out, the line
saying who works at which window."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk import const
from kiosk.ui.theme import sc
from kiosk.ui.widgets import button, card, label
from wire import HallDetailOut, LoginOut, SnapshotOut

if TYPE_CHECKING:
    from kiosk.ui.clerk.terminal import ClerkTerminal


class ClerkSession:
    """Log-in page, log-in/out and the window header line of one terminal."""

    def __init__(self, term: ClerkTerminal) -> None:
        self.term = term
        self.page = self._build_login()
        self.who = label("", "big")  # window, clerk and window status, above the ticket in hand
        self.logout_btn: QPushButton = button("退出登录 Log out", self.logout, name="logout")
        # What unlocks the clerk's screen at a shared machine (the village station): a keyed hash of
        # the password of this log-in, in memory only, gone at log-out.
        self._key = secrets.token_bytes(32)
        self._secret: bytes | None = None

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    def check_password(self, password: str) -> bool:
        """Whether this is the password the logged-in clerk logged in with."""
        return self._secret is not None and hmac.compare_digest(self._secret, self._digest(password))

    def _build_login(self) -> QWidget:
        config = self.term.ctx.config
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
        self.user_edit = QLineEdit(config.username or "")
        self.user_edit.setPlaceholderText("工号 / 用户名")
        self.user_edit.setObjectName("username")
        self.user_edit.setAccessibleName("用户名")
        self.pass_edit = QLineEdit(config.password or "")
        self.pass_edit.setPlaceholderText("密码")
        self.pass_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pass_edit.setObjectName("password")
        self.pass_edit.setAccessibleName("密码")
        self.pass_edit.returnPressed.connect(self.login)
        self.window_combo = QComboBox()
        self.window_combo.setObjectName("window")
        self.window_combo.setAccessibleName("窗口")
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

    def load_windows(self) -> None:
        """Fill the window list from the hall; unattended machines then log in by themselves."""
        term, ctx = self.term, self.term.ctx

        def done(hall: HallDetailOut) -> None:
            ctx.hall = hall
            self.window_combo.clear()
            for w in hall.windows:
                self.window_combo.addItem(f"{w.number}号窗口 {w.name}", w.id)
            if ctx.config.window_id is not None:
                idx = self.window_combo.findData(ctx.config.window_id)
                if idx >= 0:
                    self.window_combo.setCurrentIndex(idx)
            if ctx.config.username and ctx.config.password:
                self.login()  # unattended demo machines log in by themselves
            elif not term.is_ready and term.pages.currentWidget() is self.page:
                term.mark_ready()

        def failed(exc: BaseException) -> None:
            if ctx.config.window_id is not None:
                self.window_combo.addItem(f"窗口 {ctx.config.window_id}", ctx.config.window_id)
            self.login_error.setText(getattr(exc, "message_zh", "无法加载窗口列表"))
            term.mark_ready()

        term.run(lambda: ctx.client.hall(ctx.hall_id), done, failed)

    def login(self) -> None:
        """Log in at the chosen window."""
        term = self.term
        if term.busy:
            return
        user, pw = self.user_edit.text().strip(), self.pass_edit.text()
        window_id = self.window_combo.currentData()
        if not user or not pw:
            self.login_error.setText("请输入用户名和密码")
            return
        term.busy = True
        self.login_btn.setEnabled(False)
        client = term.client
        hall = term.ctx.hall_id

        def call() -> tuple[LoginOut, SnapshotOut]:
            ans = client.login(user, pw, window_id)
            snap = client.snapshot(hall)
            return ans, snap

        def done(res: tuple[LoginOut, SnapshotOut]) -> None:
            ans, snap = res
            term.busy = False
            self.login_btn.setEnabled(True)
            term.clerk = ans.clerk
            self._secret = self._digest(pw)
            # Without a window in the answer, the one chosen is taken from the snapshot.
            term.window = ans.window or next((w for w in snap.windows if w.id == window_id), None)
            self.pass_edit.clear()
            self.apply_snapshot(snap)
            if term.ctx.events.channel is None or not term.ctx.config.token:
                term.ctx.start_events(snap.last_seq, client.token)
            term.pages.setCurrentWidget(term.work_page)
            self.update_header()
            term.queue.reload()
            term.logged_in.emit(ans)
            term.mark_ready()
            term.documents.flush()  # photos a previous session could not send

        def failed(exc: BaseException) -> None:
            term.busy = False
            self.login_btn.setEnabled(True)
            self.login_error.setText(getattr(exc, "message_zh", "登录失败"))

        term.run(call, done, failed)

    def logout(self) -> None:
        """Log out and go back to the log-in page."""
        term = self.term
        client = term.client
        if not term.ctx.config.token:
            term.ctx.events.detach()
        self._secret = None
        term.run(client.logout, lambda _r: None, lambda _e: None)
        term.show_current(None)
        term.pages.setCurrentWidget(self.page)

    def ended(self, exc: BaseException) -> None:
        """The server ended the session (expired, revoked, password changed): back to the log-in page."""
        term = self.term
        term.client.token = None
        self._secret = None
        if not term.ctx.config.token:
            term.ctx.events.detach()
        term.busy = False
        term.show_current(None)
        term.pages.setCurrentWidget(self.page)
        self.login_btn.setEnabled(True)
        self.login_error.setText(getattr(exc, "message_zh", "登录已失效，请重新登录"))

    def apply_snapshot(self, snap: SnapshotOut) -> None:
        """Take this window's state and ticket in hand from a hall snapshot."""
        term = self.term
        wid = term.window.id if term.window is not None else None
        for w in snap.windows:
            if w.id == wid:
                term.window = w
                if w.current:
                    term.show_current(w.current)
        self.update_header()

    def on_window_updated(self, w: dict[str, Any]) -> None:
        """A window.updated event (its payload, as the socket sent it): follow this window's status,
        groups and name."""
        term = self.term
        if term.window is not None and w.get("id") == term.window.id:
            change = {k: v for k, v in w.items() if k in ("status", "groups", "name")}
            term.window = term.window.model_copy(update=change)
            self.update_header()

    def update_header(self) -> None:
        term = self.term
        w = term.window
        number = w.number if w is not None else "?"
        status = const.WINDOW_STATUS_ZH.get(w.status, w.status) if w is not None else ""
        name = w.name if w is not None else ""
        clerk = term.clerk.name if term.clerk is not None else ""
        self.who.setText(f"{number}号窗口 {name} · {clerk} · {status}")
        if term.header_title is not None:
            term.header_title.setText(f"{term.ctx.hall_name} · {number}号窗口")
