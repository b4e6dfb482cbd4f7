"""Village station: kiosk, clerk terminal and rating on one machine, one screen, one shared ID reader."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QStackedWidget, QVBoxLayout, QWidget

from kiosk.outbox import RatingOutbox
from kiosk.ui.clerk import ClerkTerminal
from kiosk.ui.context import AppContext
from kiosk.ui.focus import FOCUS_ROOT, move_focus
from kiosk.ui.link import LinkBanner
from kiosk.ui.rating import RatingTerminal
from kiosk.ui.theme import sc
from kiosk.ui.visitor import VisitorKiosk
from kiosk.ui.widgets import button, card, label
from kiosk.voice.announcer import Announcer

logger = logging.getLogger(__name__)


NAV = (("visitor", "自助取号"), ("rating", "服务评价"), ("clerk", "工作人员"))


class VillageStation(QWidget):
    """The three roles on one screen behind big buttons (no desktop tabs); the ID reader goes to the
    part showing. The clerk's part is locked behind the clerk's password whenever the screen has been
    the villagers' (取号 or 评价): a villager cannot tap into the logged-in clerk's work."""

    def __init__(self, ctx: AppContext, outbox: RatingOutbox, voice: Announcer | None = None) -> None:
        super().__init__()
        self.setObjectName("root")
        self.setProperty(FOCUS_ROOT, True)  # Tab goes from the part shown to the buttons that choose it
        self.ctx = ctx
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        ctx.extras["compact"] = True  # three roles share one 1080p screen under a tab bar
        self.tabs = QStackedWidget()  # the big buttons below choose the part (no desktop tabs)
        self.tabs.setObjectName("village-tabs")
        self.visitor = VisitorKiosk(ctx, voice)
        self.clerk = ClerkTerminal(ctx)
        self.rating = RatingTerminal(ctx, outbox)
        self.lock_page = self._build_lock()
        for part in (self.visitor, self.clerk, self.rating, self.lock_page):
            self.tabs.addWidget(part)
        self.clerk_unlocked = False
        self.clerk.logged_in.connect(lambda _ans: self._logged_in())
        nav = QHBoxLayout()
        nav.setContentsMargins(sc(12), sc(4), sc(12), sc(4))
        nav.setSpacing(sc(12))
        self.nav_buttons = {}
        for name, text in NAV:
            b = button(text, lambda n=name: self.show_tab(n), "nav", name=f"nav-{name}")
            b.setCheckable(True)
            b.setAccessibleName(text)
            self.nav_buttons[name] = b
            nav.addWidget(b, 1)
        self.tabs.currentChanged.connect(lambda _i: self._mark_nav())
        # The station's link to the city: a notice above the tabs while it has a problem (every
        # tab keeps working; the station's own server serves them).
        self.link_banner = LinkBanner(ctx)
        lay.addWidget(self.link_banner)
        lay.addLayout(nav)
        lay.addWidget(self.tabs)
        self._mark_nav()
        # One screen: when the clerk finishes, the rating tab comes forward for the visitor.
        self.rating.pages.currentChanged.connect(self._rating_page_changed)
        self.ready = self.visitor.ready
        self.is_ready_fn = lambda: self.visitor.is_ready

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab in reading order: the part-choosing buttons, then the part shown."""
        return move_focus(self, next)

    @property
    def is_ready(self) -> bool:
        """Ready when the kiosk tab has loaded."""
        return self.visitor.is_ready

    def _build_lock(self) -> QWidget:
        page = QWidget()
        outer = QHBoxLayout(page)
        outer.addStretch(1)
        box = card()
        box.setFixedWidth(sc(820))
        lay = QVBoxLayout(box)
        lay.setContentsMargins(sc(50), sc(30), sc(50), sc(30))
        lay.setSpacing(sc(14))
        lay.addWidget(label("工作人员办理区已锁定", "title", align=Qt.AlignmentFlag.AlignCenter))
        self.lock_who = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.lock_who)
        self.lock_edit = QLineEdit()
        self.lock_edit.setObjectName("unlock-password")
        self.lock_edit.setAccessibleName("工作人员登录密码")
        self.lock_edit.setPlaceholderText("请输入登录密码")
        self.lock_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.lock_edit.returnPressed.connect(lambda: self.unlock(self.lock_edit.text()))
        lay.addWidget(self.lock_edit)
        self.unlock_btn = button("解锁", lambda: self.unlock(self.lock_edit.text()), "primary", name="unlock")
        lay.addWidget(self.unlock_btn)
        lay.addWidget(button("返回自助取号", lambda: self.show_tab("visitor"), name="lock-back"))
        self.lock_error = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.lock_error.setObjectName("unlock-error")
        lay.addWidget(self.lock_error)
        outer.addWidget(box)
        outer.addStretch(1)
        return page

    def _clerk_logged_in(self) -> bool:
        return self.clerk.pages.currentWidget() is self.clerk.work_page

    def _logged_in(self) -> None:
        # Logged in at this screen just now: the clerk is the one in front of it.
        self.clerk_unlocked = self.tabs.currentWidget() is self.clerk

    def _mark_nav(self) -> None:
        page = self.tabs.currentWidget()
        current = {self.visitor: "visitor", self.rating: "rating"}.get(page, "clerk")
        for name, b in self.nav_buttons.items():
            b.setChecked(name == current)

    def _rating_page_changed(self, _index: int) -> None:
        if self.rating.pages.currentWidget() is self.rating.rate_page:
            self.show_tab("rating")

    def show_tab(self, name: str) -> None:
        """visitor | clerk | rating; the clerk's part asks for the password once the villagers' part showed."""
        if name != "clerk":
            self.clerk_unlocked = False
            self.tabs.setCurrentWidget(self.visitor if name == "visitor" else self.rating)
            return
        if self.clerk_unlocked or not self._clerk_logged_in():
            self.tabs.setCurrentWidget(self.clerk)  # unlocked, or its log-in page
            return
        who = self.clerk.clerk
        self.lock_who.setText(f"请 {who.name if who else '工作人员'} 输入登录密码解锁")
        self.lock_edit.clear()
        self.lock_error.setText("")
        self.tabs.setCurrentWidget(self.lock_page)

    def unlock(self, password: str) -> bool:
        """Open the clerk's part with the logged-in clerk's password."""
        self.lock_edit.clear()
        if not self.clerk.session.check_password(password):
            self.lock_error.setText("密码不正确，请重新输入")
            return False
        self.clerk_unlocked = True
        self.tabs.setCurrentWidget(self.clerk)
        return True

    def closeEvent(self, event: Any) -> None:
        self.visitor.close()
        super().closeEvent(event)
