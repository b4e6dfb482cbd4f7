"""Clerk terminal: log in at a window, operate tickets with shortcut keys, see the waiting list live.

The terminal holds what its parts share (the clerk's own client, the window, the ticket in hand, the
busy flag), lays out their widgets and routes the hall's events to them. Each part owns one concern:
session.py (log-in page, log-in/out, the window line), ticket.py (the ticket in hand, the ID card),
calls.py (operation buttons and F-keys), priority.py (取消优先), documents.py (document photo, material, outbox), queue.py
(waiting and suspended lists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QStackedWidget, QVBoxLayout, QWidget

from kiosk.errors import Unauthorized
from kiosk.ui.base import RoleScreen
from kiosk.ui.clerk.calls import CallControls
from kiosk.ui.clerk.documents import DocumentPhotos
from kiosk.ui.clerk.priority import PriorityRemoval
from kiosk.ui.clerk.queue import QueueLists
from kiosk.ui.clerk.session import ClerkSession
from kiosk.ui.clerk.ticket import CurrentTicket
from kiosk.ui.context import AppContext
from kiosk.ui.link import LinkBanner, LinkWatcher, SyncedLabel
from kiosk.ui.theme import base_scale, px, sc
from wire import TicketOut, UserOut, WindowOut


class _PartName:
    """A name of the terminal kept by one of its parts (the village station, the demo and tests use
    these on the terminal): reads and writes go to `terminal.<part>.<name>`."""

    def __init__(self, part: str, name: str | None = None) -> None:
        self.part, self.name = part, name or ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(getattr(obj, self.part), self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(getattr(obj, self.part), self.name, value)


class ClerkTerminal(RoleScreen):
    """One window's terminal. Every operation disables the buttons until the server answers."""

    op_finished = Signal(str, object)  # op name, the TicketOut/WindowOut answered (or None), or the exception
    logged_in = Signal(object)  # the LoginOut

    # session: log-in page and log-out
    user_edit = _PartName("session")
    pass_edit = _PartName("session")
    window_combo = _PartName("session")
    login_btn = _PartName("session")
    login_error = _PartName("session")
    login = _PartName("session")
    logout = _PartName("session")
    who = _PartName("session")
    # ticket in hand and ID card
    cur_number = _PartName("ticket")
    cur_info = _PartName("ticket")
    cur_holder = _PartName("ticket")
    id_panel = _PartName("ticket")
    last_card = _PartName("ticket")
    read_id_hint = _PartName("ticket")
    # operations
    op_buttons = _PartName("calls")
    do_op = _PartName("calls")
    call_selected = _PartName("calls")
    call_back_selected = _PartName("calls")
    toggle_pause = _PartName("calls")
    open_transfer = _PartName("calls")
    # document photo
    photo = _PartName("documents")
    doc_outbox = _PartName("documents")
    material_box = _PartName("documents")
    photo_label = _PartName("documents")
    doc_pending_label = _PartName("documents", "pending_label")
    take_photo = _PartName("documents")
    flush_documents = _PartName("documents", "flush")
    # queue lists
    waiting = _PartName("queue")
    suspended = _PartName("queue")
    wait_title = _PartName("queue")
    wait_table = _PartName("queue")
    susp_table = _PartName("queue")
    reload_queue = _PartName("queue", "reload")

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx, "窗口叫号终端", "Clerk terminal")
        self.window: WindowOut | None = None  # the window logged in at
        self.clerk: UserOut | None = None
        self.current: TicketOut | None = None  # the ticket in hand
        self.busy = False
        # The clerk's own client: its token comes from log-in, never the device's.
        self.client = ctx.client.spawn()
        self.session = ClerkSession(self)
        self.ticket = CurrentTicket(self)
        self.documents = DocumentPhotos(self)
        self.queue = QueueLists(self)
        self.priority = PriorityRemoval(self)
        self.calls = CallControls(self)
        self.pages = QStackedWidget()
        self.body.addWidget(self.pages, 1)
        self.login_page = self.session.page
        self.work_page = self._build_work()
        self.pages.addWidget(self.login_page)
        self.pages.addWidget(self.work_page)
        # At a station: 已同步 HH:MM in the header, and (a clerk terminal on its own; the village
        # station shows it above its tabs) the notice while the link to the city has a problem.
        LinkWatcher.of(ctx).use(lambda: self.client)
        self.synced = SyncedLabel(ctx)
        if self.header_title is not None:
            self.header_right.insertWidget(0, self.synced)
        self.link_banner: LinkBanner | None = None
        if ctx.config.role == "clerk":
            self.link_banner = LinkBanner(ctx)
            self.root.insertWidget(1 if self.header_title is not None else 0, self.link_banner)
        ctx.events.event.connect(self._on_event)
        ctx.events.online_changed.connect(self._on_online)
        self.session.load_windows()

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
        left.addWidget(self.session.who)
        left.addWidget(self.ticket.card)
        left.addLayout(self.calls.grid)
        side = QHBoxLayout()
        side.addWidget(self.ticket.id_panel, 1)
        side.addWidget(self.priority.button)
        side.addWidget(self.documents.material_box)
        side.addWidget(self.documents.photo_label)
        side.addWidget(self.documents.pending_label)
        side.addWidget(self.session.logout_btn)
        left.addLayout(side)
        lay.addLayout(left, 3)
        lay.addLayout(self.queue.column, 2)
        return page

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run blocking work; a 401 on the clerk's session (expired, revoked) ends it at the log-in page."""

        def failed(exc: BaseException) -> None:
            if isinstance(exc, Unauthorized) and self.client.token:
                self.session.ended(exc)
            # The caller still learns of the failure (it clears its busy state, signals the end).
            (on_error or self.message.show_error)(exc)

        super().run(fn, on_done, failed)

    def show_current(self, t: TicketOut | None) -> None:
        """Show a ticket of this window (or none); the buttons and the material list follow it."""
        self.current = self.ticket.show(t)
        self.calls.refresh()
        self.documents.fill_materials()

    def _on_event(self, ev: dict[str, Any]) -> None:
        etype = str(ev.get("type", ""))
        if etype.startswith("ticket."):
            self.queue.reload_soon()
        if etype == "window.updated":
            self.session.on_window_updated((ev.get("payload") or {}).get("window") or ev.get("payload") or {})

    def _on_online(self, online: bool) -> None:
        if online and self.window is not None:
            self.queue.reload_soon()
            self.documents.flush()
