"""Visitor kiosk: services by category with search, ID card identification, ticket, guide, lookup, check-in."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk import const
from kiosk.errors import FeatureUnavailable
from kiosk.hardware import id_error_zh, identity_of
from kiosk.hours import closed_notice
from kiosk.search import matches, search_terms
from kiosk.ui.base import RoleScreen
from kiosk.ui.context import AppContext
from kiosk.ui.guide import GuidePage
from kiosk.ui.icons import id_card_pixmap
from kiosk.ui.lang import texts_of
from kiosk.ui.lookup import LookupPage
from kiosk.ui.scan_checkin import ScanCheckinPage
from kiosk.ui.staff_call import IDLE, QUEUED, SENDING, StaffCaller
from kiosk.ui.theme import sc
from kiosk.ui.widgets import (
    OnScreenKeyboard,
    PageButtons,
    button,
    card,
    label,
    qr_pixmap,
    restyle,
    touch_scroll,
)
from kiosk.voice.announcer import Announcement, Announcer
from kiosk.voice.prompts import identify_prompt, idle_prompt, ticket_prompt
from kiosk.wayfinding import where_to_go, where_to_go_en, windows_of
from kiosk.wrapping import wrap_name
from wire import CheckinTicketOut, HallDetailOut, PolicyOut, ServiceOut, SnapshotOut, TicketOut

logger = logging.getLogger(__name__)

ALL = "全部事项"


class IdleWatcher(QObject):
    """Calls `on_activity` on every touch, click or key anywhere in the application."""

    def __init__(self, on_activity: Callable[[], None]) -> None:
        super().__init__()
        self.on_activity = on_activity

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.KeyPress,
            QEvent.Type.TouchBegin,
        ):
            self.on_activity()
        return False


class VisitorKiosk(RoleScreen):
    """The self-service kiosk: pick a service, identify, get a ticket (printed or on screen)."""

    ticket_issued = Signal(object)  # the TicketOut issued (or given at check-in)
    print_finished = Signal(bool)  # True printed, False failed (ticket stays on screen)

    def __init__(self, ctx: AppContext, voice: Announcer | None = None) -> None:
        super().__init__(ctx, f"{ctx.hall_name or '政务服务大厅'} · 自助取号")  # Chinese only by default
        self.texts = texts_of(ctx.extras)
        self.message.pick = self.texts.pick  # errors in the visitor's language only
        # Spoken prompts (kiosk.app.make_prompter); they play in the announcer's own thread.
        self.voice = voice
        self.services: list[ServiceOut] = []
        self.service_buttons: dict[str, Any] = {}
        self.waiting: dict[str, int] = {}
        self.waiting_by_service: dict[str, int] = {}
        self.by_service = False
        self.policy: PolicyOut | None = None
        self.category = ALL
        self.current_service: ServiceOut | None = None
        self.ticket: TicketOut | None = None
        self.idem_key: str | None = None
        self.issuing = False
        self.elderly = ctx.config.elderly_mode
        self.last_error: str = ""

        self.elderly_btn = button("长者模式 大字", self.toggle_elderly, "header", name="elderly")
        self.elderly_btn.setCheckable(True)
        self.elderly_btn.setChecked(self.elderly)
        self.header_right.insertWidget(self.header_right.indexOf(self.badge) + 1, self.elderly_btn)
        self.texts.bind(self.elderly_btn, "长者模式 大字", "Large type")
        self.lang_btn = button("中/EN", self.toggle_english, "header", name="language")
        self.lang_btn.setCheckable(True)
        self.lang_btn.setAccessibleName("切换中文或英文 Chinese or English")
        self.header_right.insertWidget(self.header_right.indexOf(self.elderly_btn) + 1, self.lang_btn)
        self._build_staff_call()

        self.pages = QStackedWidget()
        self.body.addWidget(self.staff_banner)
        self.body.addWidget(self.pages, 1)
        self.home = self._build_home()
        self.identify = self._build_identify()
        self.ticket_page = self._build_ticket()
        self.guide_page = GuidePage(
            ctx, self.run, self.message, lambda: self.pages.setCurrentWidget(self.identify)
        )
        self.lookup_page = LookupPage(ctx, self.run, self.go_home)
        self.checkin_page = self._build_checkin()
        self.scan_page = ScanCheckinPage(ctx, self.run, self.go_home)
        self.scan_page.checked_in.connect(self._checked_in)
        for page in (
            self.home,
            self.identify,
            self.ticket_page,
            self.guide_page,
            self.lookup_page,
            self.checkin_page,
            self.scan_page,
        ):
            self.pages.addWidget(page)

        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.setInterval(ctx.config.idle_timeout_s * 1000)
        self.idle_timer.timeout.connect(self._idle_warn)
        # After the idle time the screen says it is going home and waits a little: a visitor
        # reading the guide or looking for the ID card is not dropped without a word.
        self.idle_grace = QTimer(self)
        self.idle_grace.setInterval(1000)
        self.idle_grace.timeout.connect(self._idle_count_down)
        self._idle_left = 0
        self._idle_watcher = IdleWatcher(self._activity)
        QApplication.instance().installEventFilter(self._idle_watcher)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(300)
        self._refresh_timer.timeout.connect(self.refresh_waiting)
        # The hall's rules and services changed (hall.updated): re-read them, once for a burst.
        self._hall_timer = QTimer(self)
        self._hall_timer.setSingleShot(True)
        self._hall_timer.setInterval(const.HALL_RELOAD_DELAY_MS)
        self._hall_timer.timeout.connect(self.load)
        # The banner follows the clock too (lunch starts with nobody touching the screen).
        self._hours_timer = QTimer(self)
        self._hours_timer.setInterval(const.HOURS_CHECK_MS)
        self._hours_timer.timeout.connect(self.update_hours)
        self._hours_timer.start()
        ctx.events.event.connect(self._on_event)
        ctx.events.online_changed.connect(lambda online: online and self.load())
        if ctx.reader:
            ctx.reader.card_read.connect(self._on_card)
            ctx.reader.read_error.connect(self._on_card_error)
        self.apply_scale()
        self.load()

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        """Load hall, services and waiting counts in the background."""
        hall_id = self.ctx.hall_id
        client = self.ctx.client

        def fetch() -> tuple[HallDetailOut, list[ServiceOut], SnapshotOut]:
            hall = client.hall(hall_id)
            services = client.services(hall_id)
            snap = client.snapshot(hall_id)
            return hall, services, snap

        def done(res: tuple[HallDetailOut, list[ServiceOut], SnapshotOut]) -> None:
            hall, services, snap = res
            self.ctx.hall = hall
            self._title()
            self.policy = hall.policy
            self.update_hours()
            if services != self.services:  # a reload after reconnecting leaves the tiles be
                self.services = services
                self._render_categories()
                self._render_services()
            self._apply_snapshot(snap)
            if self.current_service is not None:
                # The visit in progress continues with the service's new rules.
                codes = {svc.code: svc for svc in services}
                self.current_service = codes.get(self.current_service.code, self.current_service)
            self._offer_anonymous()
            if self.ctx.events.channel is None:
                self.ctx.start_events(snap.last_seq)
            self.mark_ready()

        def failed(exc: BaseException) -> None:
            self.message.show_error(exc)
            self.mark_ready()
            if not self.services:
                QTimer.singleShot(3000, self.load)  # nobody at a kiosk presses "retry": keep trying

        self.run(fetch, done, failed)

    def update_hours(self) -> None:
        """Show 午休中 / 今日已停止取号 while the hall's opening hours say tickets are not issued."""
        if self.policy is None:
            return
        zone = ZoneInfo(self.ctx.hall.timezone if self.ctx.hall else self.ctx.config.timezone)
        notice = closed_notice(self.policy.opening_hours, datetime.now(zone).time())
        self.closed_banner.setText(notice or "")
        self.closed_banner.setVisible(bool(notice))

    def refresh_waiting(self) -> None:
        """Re-read the waiting counts per group."""
        self.run(lambda: self.ctx.client.snapshot(self.ctx.hall_id), self._apply_snapshot, lambda e: None)

    def _apply_snapshot(self, snap: SnapshotOut) -> None:
        self.waiting = {g.prefix: g.waiting for g in snap.groups}
        self.waiting_by_service = dict(snap.waiting_by_service)
        self.by_service = "waiting_by_service" in snap.model_fields_set
        shown = [s.code for s in self.visible_services()] if hasattr(self, "search") else []
        if shown and shown == list(self.service_buttons):
            # Same tiles: new counts in place, so a list being scrolled does not jump or lose a tile
            # under the finger.
            for s in self.visible_services():
                self.service_buttons[s.code].setText(self._tile_text(s))
        else:
            self._render_services()

    def _tile_text(self, s: ServiceOut) -> str:
        # The service's own count (a village station's one queue holds every service); the queue's
        # from a server that does not count per service.
        waiting = (
            self.waiting_by_service.get(s.code, 0) if self.by_service else self.waiting.get(s.prefix or "", 0)
        )
        count = self.texts.pick(f"等候 {waiting} 人", f"{waiting} waiting")
        return f"{wrap_name(s.name, 12 if self.elderly else 11)}\n{count}"

    def _title(self) -> None:
        if self.header_title is not None:
            name = self.ctx.hall_name or "政务服务大厅"
            # In elderly mode the header's buttons (呼叫工作人员, 长者模式, 中/EN) and the bigger type
            # leave no room for " · 自助取号" or a long official name: the hall's short name, the one
            # people use (市民之家), stays whole rather than clipped.
            short = self.ctx.hall.short_name if self.ctx.hall is not None else None
            if self.elderly and short:
                name = short
            what = "" if self.elderly else f" · {self.texts.pick('自助取号', 'Self-service')}"
            self.header_title.setText(f"{name}{what}")

    def _on_event(self, ev: dict[str, Any]) -> None:
        etype = str(ev.get("type", ""))
        if etype.startswith("ticket."):
            self._refresh_timer.start()
        elif etype == const.EV_HALL_UPDATED and ev.get("hall_id") in (None, self.ctx.hall_id):
            # A manager changed the rules (anonymous tickets, hours, elderly age) or a service's
            # guide: the kiosk follows without a restart.
            self._hall_timer.start()

    # -- home ---------------------------------------------------------------------------------
    def _build_home(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)  # the screen's body has the margins
        lay.setSpacing(sc(18))
        # 午休中 / 今日已停止取号: said before a visitor picks a service the server would refuse.
        self.closed_banner = label("", "error", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.closed_banner.setObjectName("hall-closed")
        self.closed_banner.hide()
        lay.addWidget(self.closed_banner)
        search_row = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setAccessibleName("搜索事项")
        self.texts.bind(
            self.search,
            "点“拼音键盘”搜索，如 bdc（不动产）、社保、营业执照",
            "Tap Keyboard to search by pinyin initials, e.g. bdc",
            "placeholder",
        )
        self.search.textChanged.connect(lambda _t: self._render_services())
        search_row.addWidget(self.search, 1)
        self.keyboard_btn = button("⌨ 拼音键盘", self.toggle_keyboard, "primary", name="keyboard-toggle")
        self.texts.bind(self.keyboard_btn, "⌨ 拼音键盘", "⌨ Keyboard")
        self.keyboard_btn.setCheckable(True)
        search_row.addWidget(self.keyboard_btn)
        search_row.addWidget(
            self.texts.bind(button("清空", lambda: self.search.clear(), name="search-clear"), "清空", "Clear")
        )
        lay.addLayout(search_row)
        quick = list(search_terms()["synonyms"])[: const.KEYBOARD_QUICK_WORDS]
        self.keyboard = OnScreenKeyboard(self.search, quick)
        self.keyboard.hide()
        lay.addWidget(self.keyboard)

        mid = QHBoxLayout()
        mid.setSpacing(sc(20))
        self.cat_box = QVBoxLayout()
        self.cat_box.setSpacing(sc(10))
        cat_panel = QWidget()
        cat_panel.setLayout(self.cat_box)
        cat_scroll = QScrollArea()
        cat_scroll.setObjectName("categories")
        cat_scroll.setWidgetResizable(True)
        cat_scroll.setWidget(cat_panel)
        cat_scroll.setFixedWidth(sc(360))
        self.cat_scroll = touch_scroll(cat_scroll)
        mid.addWidget(cat_scroll)
        self.svc_grid = QGridLayout()
        self.svc_grid.setSpacing(sc(16))
        svc_panel = QWidget()
        svc_panel.setLayout(self.svc_grid)
        svc_scroll = QScrollArea()
        svc_scroll.setObjectName("services")
        svc_scroll.setWidgetResizable(True)
        svc_scroll.setWidget(svc_panel)
        self.svc_scroll = touch_scroll(svc_scroll)
        mid.addWidget(svc_scroll, 1)
        self.svc_pages = PageButtons(svc_scroll, "services", self.texts)
        search_row.addWidget(self.svc_pages)
        lay.addLayout(mid, 1)

        self.actions_bar = QWidget()
        actions = QHBoxLayout(self.actions_bar)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.setSpacing(sc(20))
        checkin = button("预约签到", self.open_checkin, "primary", name="checkin")
        actions.addWidget(self.texts.bind(checkin, "预约签到", "Appointment\ncheck-in"))
        scan = button("扫码签到", self.open_scan_checkin, "primary", name="checkin-scan")
        actions.addWidget(self.texts.bind(scan, "扫码签到", "Scan\nbooking QR"))
        lookup = button("查询排队进度", self.open_lookup, "primary", name="lookup")
        actions.addWidget(self.texts.bind(lookup, "查询排队进度", "Where is\nmy ticket"))
        self.hint = label("", "subtitle", wrap=True)
        self._hint_home()
        actions.addWidget(self.hint, 1)
        lay.addWidget(self.actions_bar)
        return page

    def _render_categories(self) -> None:
        while self.cat_box.count():
            item = self.cat_box.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        cats = [ALL]
        for s in self.services:
            c = s.category or "其他"
            if c not in cats:
                cats.append(c)
        self.cat_buttons = {}
        for c in cats:
            b = button(c, lambda c=c: self.choose_category(c), "category")
            b.setCheckable(True)
            b.setChecked(c == self.category)
            self.cat_buttons[c] = b
            self.cat_box.addWidget(b)
        self.cat_box.addStretch(1)

    def choose_category(self, category: str) -> None:
        """Show one category's services."""
        self.category = category
        for c, b in getattr(self, "cat_buttons", {}).items():
            b.setChecked(c == category)
        self._render_services()

    def visible_services(self) -> list[ServiceOut]:
        """Services of the chosen category matching the search text."""
        q = self.search.text()
        out = []
        for s in self.services:
            if self.category != ALL and (s.category or "其他") != self.category:
                continue
            if not matches(q, (s.name, s.sub_name), (s.code, s.category, s.department)):
                continue
            out.append(s)
        return out

    def toggle_keyboard(self) -> None:
        """Show or hide the on-screen keyboard (pinyin initials and common words)."""
        show = not self.keyboard.isVisible()
        self.keyboard.setVisible(show)
        self.actions_bar.setVisible(
            not show
        )  # the keyboard takes their place (a 720p screen has no room for both)
        self.keyboard_btn.setChecked(show)
        if show:
            self.choose_category(ALL)  # a search looks through every service

    def _render_services(self) -> None:
        if not hasattr(self, "svc_grid"):
            return
        while self.svc_grid.count():
            item = self.svc_grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        services = self.visible_services()
        cols = 2 if self.elderly else 3
        self.service_buttons: dict[str, Any] = {}
        for i, s in enumerate(services):
            b = button(
                self._tile_text(s), lambda s=s: self.choose_service(s), "service", name=f"svc-{s.code}"
            )
            b.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
            self.service_buttons[s.code] = b
            self.svc_grid.addWidget(b, i // cols, i % cols)
            # The style's min-height becomes the button's explicit minimum, which the grid takes over
            # the text's height: a tile of three elderly-size lines was cut to that minimum.
            b.ensurePolished()
            b.setMinimumHeight(max(b.minimumHeight(), b.sizeHint().height()))
        if not services:
            msg = "没有找到相关事项，请换个关键词或咨询服务台" if self.services else "正在加载事项…"
            self.svc_grid.addWidget(label(msg, "subtitle"), 0, 0)
        self.svc_grid.setRowStretch(max(1, (len(services) + cols - 1) // cols), 1)
        self.svc_scroll.verticalScrollBar().setValue(0)
        self.svc_pages.update_state()

    def toggle_elderly(self) -> None:
        """Larger text and fewer, bigger buttons."""
        self.elderly = not self.elderly
        self.elderly_btn.setChecked(self.elderly)
        self.apply_scale()
        self._title()
        self._render_services()

    def apply_scale(self) -> None:
        """Scale fonts of this screen for elderly mode."""
        from kiosk.ui.theme import base_scale, cjk_family, px, stylesheet

        if hasattr(self, "id_icon"):
            # The card picture gives way to the larger words and buttons (the page must fit 1080p).
            size = const.ELDERLY_ID_ICON if self.elderly else const.ID_ICON
            self.id_icon.setPixmap(id_card_pixmap(sc(size)))
        if not self.elderly:
            self.setStyleSheet("")
            return
        scale = base_scale() * const.ELDERLY_SCALE
        # The header grows with the rest (clock, the 长者模式 button), its title a little less (a long
        # hall name must still fit one line); its English line and the ticket number keep their size:
        # the number is large already, and the room they would take lets a 720p screen hold the header.
        k = base_scale()
        keep = (
            f'QLabel[role="huge"] {{ font-size: {px(150, k)}px; }}'
            f'QFrame#header QLabel[role="title"] {{ font-size: {px(const.ELDERLY_HEADER_TITLE, k)}px; }}'
            f'QFrame#header QLabel[role="en"] {{ font-size: {px(20, k)}px; }}'
            # Room for two whole lines of elderly type in a button (返回首页 / Back): 84 cut 3 px off.
            f"QPushButton {{ min-height: {px(const.ELDERLY_BUTTON_HEIGHT, scale)}px; }}"
            # Fewer, bigger tiles: two columns of tall tiles, a handful to a page (上一页 / 下一页).
            f'QPushButton[role="service"] {{ min-height: {px(const.ELDERLY_TILE_HEIGHT, scale)}px; }}'
        )
        self.setStyleSheet(stylesheet(scale, cjk_family()) + keep)

    # -- identify and issue -------------------------------------------------------------------
    def _build_identify(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)  # the screen's body has the margins
        lay.setSpacing(sc(16))
        self.id_service = label("", "title", align=Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.id_service)
        box = card()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(sc(30), sc(20), sc(30), sc(20))
        self.id_icon = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        self.id_icon.setPixmap(id_card_pixmap(sc(const.ID_ICON)))
        bl.addWidget(self.id_icon)
        self.id_prompt = label("", "big", align=Qt.AlignmentFlag.AlignCenter)
        self.texts.bind(self.id_prompt, "请将身份证放在下方感应区", "Please place your ID card on the reader")
        bl.addWidget(self.id_prompt)
        self.id_status = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        bl.addWidget(self.id_status)
        mid = QHBoxLayout()
        mid.setSpacing(sc(20))
        mid.addWidget(box, 3)
        green_box = card()
        gl = QVBoxLayout(green_box)
        gl.setContentsMargins(sc(24), sc(20), sc(24), sc(20))
        gl.addWidget(self.texts.bind(label("", "big"), "绿色通道", "Priority"))
        gl.addWidget(
            self.texts.bind(
                label("", "subtitle", wrap=True),
                "请向工作人员出示相关证件",
                "Please show your certificate to staff",
            )
        )
        self.green_buttons: dict[str, Any] = {}
        for reason in ("disabled", "serviceman", "pregnant"):
            b = button(
                const.GREEN_REASON_ZH[reason], lambda r=reason: self._toggle_green(r), name=f"green-{reason}"
            )
            b.setCheckable(True)
            b.setProperty("role", "category")
            self.texts.bind(b, const.GREEN_REASON_ZH[reason], const.GREEN_REASON_EN[reason])
            self.green_buttons[reason] = b
            gl.addWidget(b)
        gl.addStretch(1)
        mid.addWidget(green_box, 1)
        lay.addLayout(mid, 1)
        row = QHBoxLayout()
        row.addWidget(self.texts.bind(button("", self.go_home, name="back"), "返回首页", "Back"))
        row.addWidget(self.texts.bind(button("", self.open_guide, name="guide"), "办事指南", "Service guide"))
        self.retry_btn = button("", self.retry_issue, "primary", name="retry")
        self.texts.bind(self.retry_btn, "重新取号", "Try again")
        self.retry_btn.hide()
        row.addWidget(self.retry_btn)
        # Reading the ID card is the main action (the big card above); no card is the secondary one.
        self.anon_btn = button("", self.issue_anonymous, name="anonymous")
        self.texts.bind(self.anon_btn, "未带身份证，直接取号", "Continue without ID card")
        row.addWidget(self.anon_btn)
        lay.addLayout(row)
        return page

    def choose_service(self, service: ServiceOut) -> None:
        """Go to identification for this service; a new visit gets a new idempotency key."""
        self.current_service = service
        self.idem_key = uuid.uuid4().hex
        self.id_service.setText(service.name)
        self.id_status.setText("")
        self.retry_btn.hide()
        self.declared_green = None
        for b in self.green_buttons.values():
            b.setChecked(False)
        self._set_issuing(False)
        self._offer_anonymous()
        self.pages.setCurrentWidget(self.identify)
        self.say(identify_prompt())

    def _offer_anonymous(self) -> None:
        """没带身份证 is offered where the hall allows it and the chosen service does not require the card
        (the server refuses it otherwise; the kiosk does not offer what would be refused)."""
        service = self.current_service
        id_required = service is not None and service.guide.get("id_required") is True
        allowed = self.policy is None or self.policy.allow_anonymous  # not loaded yet: the server decides
        self.anon_btn.setVisible(allowed and not id_required)

    def _toggle_green(self, reason: str) -> None:
        """One declared green-channel reason at a time (the clerk checks the certificate)."""
        on = self.green_buttons[reason].isChecked()
        for r, b in self.green_buttons.items():
            b.setChecked(on and r == reason)
        self.declared_green = reason if on else None

    def _set_issuing(self, busy: bool) -> None:
        self.issuing = busy
        self.anon_btn.setEnabled(not busy)
        self.retry_btn.setEnabled(not busy)
        if busy:
            self.id_status.setText(self.texts.pick("正在取号，请稍候…", "Issuing your ticket…"))

    def issue_anonymous(self) -> None:
        """Ticket without an ID card (where the hall allows it)."""
        self._issue(None, getattr(self, "declared_green", None))

    def retry_issue(self) -> None:
        """Repeat the last attempt with the same idempotency key (never two tickets)."""
        self._issue(getattr(self, "_last_identity", None), getattr(self, "_last_green", None))

    def _issue(self, identity: dict[str, Any] | None, green_reason: str | None = None) -> None:
        if self.issuing or not self.current_service:
            return  # a double tap while the first request runs must not draw a second number
        if self.pages.currentWidget() is not self.identify:
            return  # nor one that lands after the ticket is shown (the first visit is over)
        self._set_issuing(True)
        self._last_identity = identity
        self._last_green = green_reason
        svc = self.current_service
        key = self.idem_key or uuid.uuid4().hex
        self.idem_key = key
        client, hall = self.ctx.client, self.ctx.hall_id

        def call() -> TicketOut:
            return client.issue_ticket(
                hall, svc.code, identity=identity, green_reason=green_reason, idempotency_key=key
            )

        def failed(exc: BaseException) -> None:
            self._set_issuing(False)
            msg = self.texts.pick(
                getattr(exc, "message_zh", None) or "取号失败，请重试",
                getattr(exc, "message_en", None) or "No ticket was issued; please try again",
            )
            self.id_status.setText(msg)
            self.last_error = msg
            self.retry_btn.show()  # the retry reuses the idempotency key: never two tickets
            self.message.show_error(exc)

        self.run(call, self._issued, failed)

    def _issued(self, ticket: TicketOut) -> None:
        self._set_issuing(False)
        self.idem_key = None
        self.ticket = ticket
        self.show_ticket(ticket)
        self.ticket_issued.emit(ticket)
        self._print(ticket)

    def _on_card(self, card: Any) -> None:
        if not self.handles_devices():
            return
        page = self.pages.currentWidget()
        if page is self.checkin_page:
            self._checkin(card)
            return
        if page is not self.identify:
            self.hint.setText(
                self.texts.pick("已识别身份证，请先选择要办理的事项", "Please choose a service first")
            )
            return
        if getattr(card, "id_valid", True) is False:
            # A number failing its check digit is refused here; nothing is sent to the server.
            self.id_status.setText(
                self.texts.pick(
                    "身份证号码校验未通过，请到服务台人工办理", "The ID number on this card is not valid"
                )
            )
            return
        green = getattr(self, "declared_green", None)
        try:
            age = card.age_on(date.today())
        except Exception:
            age = 0
        elderly_age = self.policy.elderly_age if self.policy else const.ELDERLY_AGE_DEFAULT
        if age >= elderly_age:
            green = "elderly"  # the server applies it too; saying so keeps older servers right
            if not self.elderly:
                self.toggle_elderly()  # large type for the ticket page and what follows
        self.id_status.setText(f"已读取：{card.masked_name}  {card.masked_id}")
        self._issue(identity_of(card), green)

    def _on_card_error(self, exc: BaseException) -> None:
        if not self.handles_devices():
            return
        msg = id_error_zh(exc)
        self.last_error = msg
        page = self.pages.currentWidget()
        if page is self.identify:
            self.id_status.setText(msg)
        elif page is self.checkin_page:
            self.checkin_status.setText(msg)
        else:
            return
        self.message.show_error(msg)

    # -- ticket -------------------------------------------------------------------------------
    def _build_ticket(self) -> QWidget:
        page = QWidget()
        lay = QHBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)  # the screen's body has the margins
        lay.setSpacing(sc(30))
        left = card()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(sc(40), sc(20), sc(40), sc(20))
        ll.addWidget(
            self.texts.bind(
                label("", "subtitle", align=Qt.AlignmentFlag.AlignCenter), "您的号码", "Your number"
            )
        )
        self.t_number = label("", "huge", align=Qt.AlignmentFlag.AlignCenter)
        self.t_number.setObjectName("ticket-number")
        ll.addWidget(self.t_number)
        self.t_service = label("", "big", align=Qt.AlignmentFlag.AlignCenter, wrap=True)
        ll.addWidget(self.t_service)
        self.t_green = label("", "ok", align=Qt.AlignmentFlag.AlignCenter)
        ll.addWidget(self.t_green)
        self.t_where = label("", "where", align=Qt.AlignmentFlag.AlignCenter, wrap=True)
        self.t_where.setObjectName("ticket-where")
        ll.addWidget(self.t_where)
        self.t_ahead = label("", "big", align=Qt.AlignmentFlag.AlignCenter)
        ll.addWidget(self.t_ahead)
        self.t_holder = label("", "subtitle", align=Qt.AlignmentFlag.AlignCenter)
        ll.addWidget(self.t_holder)
        ll.addWidget(
            self.texts.bind(
                label("", "subtitle", align=Qt.AlignmentFlag.AlignCenter),
                const.TICKET_NOTE,
                const.TICKET_NOTE_EN,
            )
        )
        lay.addWidget(left, 3)
        right = QVBoxLayout()
        right.setSpacing(sc(20))
        qr_card = card()
        ql = QVBoxLayout(qr_card)
        self.t_qr = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        ql.addWidget(self.t_qr)
        ql.addWidget(
            self.texts.bind(
                label("", "subtitle", align=Qt.AlignmentFlag.AlignCenter),
                "手机扫码查看排队进度",
                "Scan to follow the queue",
            )
        )
        right.addWidget(qr_card)
        self.print_status = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.print_status.setObjectName("print-status")
        right.addWidget(self.print_status)
        right.addStretch(1)
        self.t_countdown = label("", "countdown", align=Qt.AlignmentFlag.AlignCenter)
        self.t_countdown.setObjectName("ticket-countdown")
        right.addWidget(self.t_countdown)
        right.addWidget(self.texts.bind(button("", self.end_session, "primary", name="done"), "返回首页", "Home"))
        lay.addLayout(right, 2)
        self._countdown_left = 0
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._count_down)
        return page

    def _start_countdown(self) -> None:
        self._countdown_left = self.ctx.config.ticket_return_s
        self._show_countdown()
        self._countdown.start()

    def _show_countdown(self) -> None:
        left = self._countdown_left
        self.t_countdown.setText(self.texts.pick(f"{left}秒后返回首页", f"Home in {left} s"))

    def _count_down(self) -> None:
        """One second less on the ticket page; home at zero (the next visitor is waiting)."""
        if self.pages.currentWidget() is not self.ticket_page:
            self._countdown.stop()
            return
        self._countdown_left -= 1
        if self._countdown_left <= 0:
            self.end_session()
            return
        self._show_countdown()

    def show_ticket(self, t: TicketOut) -> None:
        """Fill the ticket page and show it (it returns home after a countdown, or on 返回首页)."""
        self.t_number.setText(t.number)
        self.t_service.setText(
            wrap_name(
                t.service_name or "", const.ELDERLY_NAME_WRAP if self.elderly else const.TICKET_NAME_WRAP
            )
        )
        green = t.green_reason
        self.t_green.setVisible(bool(t.priority or green))
        pick = self.texts.pick
        self.t_green.setText(
            pick(
                f"绿色通道 · {const.GREEN_REASON_ZH.get(green or '', '优先办理')}",
                f"Priority · {const.GREEN_REASON_EN.get(green or '', 'priority')}",
            )
        )
        wait = t.estimated_wait_minutes
        n = t.people_ahead
        ahead = pick(f"前面还有 {n} 人等候", f"{n} people ahead of you") if n is not None else ""
        if wait is not None and ahead:
            ahead += pick(f"，预计等待约 {wait} 分钟", f", about {wait} min")
        self.t_ahead.setText(ahead)
        where = (where_to_go_en if self.texts.english else where_to_go)(
            self.ctx.hall, t.group, t.window_number
        )
        self.t_where.setText(where)
        holder = t.holder
        masked = (holder.name_masked, holder.id_masked) if holder else ()
        self.t_holder.setText(" ".join(x for x in masked if x))
        if t.track_url:
            self.t_qr.setPixmap(qr_pixmap(t.track_url, sc(300)))
        printing = self.ctx.printer and self.ctx.printer.configured
        self.print_status.setText(pick("正在打印号票…", "Printing your ticket…") if printing else "")
        restyle(self.print_status, "subtitle")
        self.pages.setCurrentWidget(self.ticket_page)
        self._start_countdown()
        windows = [t.window_number] if t.window_number else windows_of(self.ctx.hall, t.group)
        self.say(ticket_prompt(t.number, windows, t.people_ahead))

    def _print(self, ticket: TicketOut) -> None:
        printer = self.ctx.printer
        if not printer or not printer.configured:
            self.print_status.setText(
                self.texts.pick(
                    "本机不出纸，请记下号码或扫码查看", "No printer here: note your number or scan the code"
                )
            )
            self.print_finished.emit(False)
            return

        def ok(_res: Any) -> None:
            self.print_status.setText(self.texts.pick("请取走您的号票", "Please take your ticket"))
            restyle(self.print_status, "ok")
            self.print_finished.emit(True)
            for code in list(self.ctx.extras.get("faults") or {}):
                # A ticket came out, so the printer works; paper low stays until the roll is changed.
                if code.startswith("printer.") and code not in const.FAULT_WARNINGS:
                    self.set_fault(code, None)

        def failed(exc: BaseException) -> None:
            zh = getattr(exc, "message_zh", "打印失败")
            self.print_status.setText(f"{zh}\n请拍照或记下您的号码 {ticket.number}，或扫描二维码")
            restyle(self.print_status, "error")
            code = getattr(exc, "code", const.FAULT_PRINTER)
            self.set_fault(code if code.startswith("printer.") else const.FAULT_PRINTER, zh)
            self.print_finished.emit(False)

        hall_name = self.ctx.hall_name
        # The paper says where to go by the same rule as the screen and the phone page; in the
        # language the visitor chose (Chinese only unless switched to English).
        hall, english = self.ctx.hall, self.texts.english
        where = where_to_go(hall, ticket.group, ticket.window_number)
        where_en = where_to_go_en(hall, ticket.group, ticket.window_number) if english else ""
        self.run(lambda: printer.print_ticket(ticket, hall_name, where, where_en, english), ok, failed)

    # -- guide and lookup (their own pages) -------------------------------------------------------
    def open_guide(self) -> None:
        """Show the current service's guide."""
        if self.current_service:
            self.guide_page.show_service(self.current_service)
            self.pages.setCurrentWidget(self.guide_page)

    def open_lookup(self) -> None:
        """Show the lookup page."""
        self.lookup_page.reset()
        self.pages.setCurrentWidget(self.lookup_page)

    # -- appointment check-in -------------------------------------------------------------------
    def _build_checkin(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)  # the screen's body has the margins
        lay.addWidget(self.texts.bind(label("", "title"), "预约签到", "Appointment check-in"))
        box = card()
        bl = QVBoxLayout(box)
        icon = label("", None, align=Qt.AlignmentFlag.AlignCenter)
        icon.setPixmap(id_card_pixmap(sc(300)))  # as on the identify page; 380 overflowed 720p
        bl.addWidget(icon)
        bl.addWidget(
            self.texts.bind(
                label("", "big", align=Qt.AlignmentFlag.AlignCenter),
                "请将预约人的身份证放在感应区",
                "Place the ID card used for the booking",
            )
        )
        self.checkin_status = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.checkin_status.setObjectName("checkin-status")
        bl.addWidget(self.checkin_status)
        lay.addWidget(box, 1)
        row = QHBoxLayout()
        row.addWidget(self.texts.bind(button("", self.go_home), "返回首页", "Back"))
        self.normal_btn = button("", self._checkin_normal, "primary", name="normal")
        self.texts.bind(self.normal_btn, "改取普通号", "Take a normal ticket")
        self.normal_btn.hide()
        row.addWidget(self.normal_btn)
        lay.addLayout(row)
        return page

    def open_checkin(self) -> None:
        """Show the check-in page."""
        self.checkin_status.setText("")
        self.normal_btn.hide()
        self.pages.setCurrentWidget(self.checkin_page)

    def open_scan_checkin(self) -> None:
        """Show 扫码签到 with the camera looking for the booking's QR."""
        self.pages.setCurrentWidget(self.scan_page)
        self.scan_page.enter()

    def _checked_in(self, ticket: CheckinTicketOut) -> None:
        """A check-in by either way: the ticket page, the printout, the signal."""
        self.ticket = ticket
        self.show_ticket(ticket)
        self.ticket_issued.emit(ticket)
        self._print(ticket)

    def _checkin_normal(self) -> None:
        card = getattr(self, "_checkin_card", None)
        if card is not None:
            self._checkin(card, fallback_normal=True)

    def _checkin(self, card: Any, fallback_normal: bool = False) -> None:
        if self.issuing:
            return
        self.issuing = True
        self._checkin_card = card
        self.normal_btn.hide()
        self.checkin_status.setText(self.texts.pick("正在签到，请稍候…", "Checking in…"))
        client, hall = self.ctx.client, self.ctx.hall_id
        id_number = card.id_number

        def done(ticket: CheckinTicketOut) -> None:
            self.issuing = False
            self._checked_in(ticket)

        def failed(exc: BaseException) -> None:
            self.issuing = False
            if isinstance(exc, FeatureUnavailable):
                self.checkin_status.setText(
                    self.texts.pick(
                        "本大厅暂未开通自助预约签到，请直接选择事项取号或到服务台签到",
                        "Check-in is not available here yet",
                    )
                )
            else:
                self.checkin_status.setText(getattr(exc, "message_zh", "签到失败，请重试"))
                if (getattr(exc, "detail", None) or {}).get("normal_ticket_allowed"):
                    self.normal_btn.show()

        self.run(lambda: client.checkin(hall, id_number, fallback_normal=fallback_normal), done, failed)

    # -- idle ---------------------------------------------------------------------------------
    def _activity(self) -> None:
        """A touch or key: the visitor is still there."""
        self.idle_timer.start()
        if self.idle_grace.isActive():
            self.idle_grace.stop()
            self.message.clear_message()

    def _idle_warn(self) -> None:
        """Idle: home at once if nothing would be lost, otherwise say so and count down first."""
        at_rest = (
            self.pages.currentWidget() is self.home
            and not self.search.text()
            and self.elderly == self.ctx.config.elderly_mode
        )
        if at_rest:
            self.go_home()
            return
        self._idle_left = const.IDLE_WARNING_S
        self._show_idle_warning()
        self.say(self._idle_prompt())  # said once; the screen counts down
        self.idle_grace.start()

    def _idle_prompt(self) -> Announcement:
        return idle_prompt(self._idle_left, elderly_off=self.elderly and not self.ctx.config.elderly_mode)

    def _show_idle_warning(self) -> None:
        self.message.show_error(self._idle_prompt().text, seconds=0)

    def _idle_count_down(self) -> None:
        self._idle_left -= 1
        if self._idle_left > 0:
            self._show_idle_warning()
            return
        self.idle_grace.stop()
        self.message.clear_message()
        self.end_session()

    # -- voice ----------------------------------------------------------------------------------
    def speaks(self) -> bool:
        """Whether prompts are said now: voice on, and prompts on for everyone or elderly mode on."""
        return self.voice is not None and (self.ctx.config.voice.prompts or self.elderly)

    def say(self, prompt: Announcement) -> None:
        """Say a prompt instead of any not yet started (the visitor has moved on); never blocks."""
        if not self.speaks():
            return
        self.voice.drop_pending()
        self.voice.say(prompt)
        logger.info("said: %s", prompt.text)

    # -- language and 呼叫工作人员 ------------------------------------------------------------------
    def toggle_english(self) -> None:
        """中/EN: the visitor screens (and the ticket printed meanwhile) in English, or back in Chinese."""
        self.texts.set_english(not self.texts.english)

    def _language_changed(self, english: bool) -> None:
        self.lang_btn.setChecked(english)
        self._title()
        self._hint_home()
        self._render_services()
        self._staff_state(self.staff.state)
        if self.pages.currentWidget() is self.ticket_page and self.ticket is not None:
            self.show_ticket(self.ticket)

    def _hint_home(self) -> None:
        # Broken after the comma by hand: Qt breaks Chinese between any two characters, and in
        # elderly mode it left a lone 号 on the second line.
        self.hint.setText(
            self.texts.pick(
                "请选择您要办理的事项，\n点击后按提示刷身份证取号", "Choose a service, then place your ID card"
            )
        )

    def _build_staff_call(self) -> None:
        """The 呼叫工作人员 button in the header (on every visitor page) and the line saying help comes."""
        self.staff = StaffCaller(self.ctx, self.run, self)
        self.staff_btn = button("呼叫工作人员", self.staff.call, "header", name="call-staff")
        self.staff_btn.setAccessibleName("呼叫工作人员 Call staff")
        self.header_right.insertWidget(self.header_right.indexOf(self.elderly_btn), self.staff_btn)
        self.staff_banner = label("", "where", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.staff_banner.setObjectName("staff-call-status")
        self.staff_banner.hide()
        self.staff.state_changed.connect(self._staff_state)
        self.staff.refused.connect(self._staff_refused)
        self.texts.changed.connect(self._language_changed)
        self._staff_state(IDLE)

    def _staff_state(self, state: str) -> None:
        pick = self.texts.pick
        self.staff_btn.setText(pick("呼叫工作人员", "Call staff"))
        self.staff_btn.setEnabled(state == IDLE)
        if state == IDLE:
            self.staff_banner.hide()
            return
        if state == QUEUED:
            text = pick(
                "网络中断，求助已记下，恢复后立即通知工作人员；情况紧急请到服务台",
                "The network is down: your call is kept and sent as soon as it is back",
            )
            restyle(self.staff_banner, "error")
        elif state == SENDING:
            text = pick("正在呼叫工作人员…", "Calling staff…")
            restyle(self.staff_banner, "ok")
        else:
            text = pick("工作人员马上就到，请稍候", "Staff are on their way, please wait")
            restyle(self.staff_banner, "ok")
        self.staff_banner.setText(text)
        self.staff_banner.show()

    def _staff_refused(self, exc: BaseException) -> None:
        self.message.show_error(exc)

    # -- navigation ---------------------------------------------------------------------------
    def end_session(self) -> None:
        """The visit is over (ticket taken, or nobody there): home, and the machine's own type size."""
        self.go_home()
        if self.elderly != self.ctx.config.elderly_mode:
            self.toggle_elderly()

    def go_home(self) -> None:
        """Back to the start screen; elderly mode stays on for the rest of the visit (end_session)."""
        self.current_service = None
        self._countdown.stop()
        self.scan_page.leave()
        self.search.clear()
        self.keyboard.hide()
        self.actions_bar.show()
        self.keyboard_btn.setChecked(False)
        self.texts.set_english(False)  # the next visitor starts in Chinese
        self._hint_home()
        self.pages.setCurrentWidget(self.home)

    def closeEvent(self, event: Any) -> None:
        QApplication.instance().removeEventFilter(self._idle_watcher)
        self.scan_page.leave()
        self._countdown.stop()
        self.idle_grace.stop()
        super().closeEvent(event)
