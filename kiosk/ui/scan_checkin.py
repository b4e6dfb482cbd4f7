"""扫码签到: the visitor holds the booking confirmation's QR (the booking code) up to the camera.

The code goes to POST /halls/{hall}/checkin/by-code, which issues the same ticket as the ID-card
check-in; the visitor screen shows and prints it like any other ticket.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk import const
from kiosk.errors import FeatureUnavailable, KioskError, ServerUnreachable
from kiosk.ui.context import AppContext
from kiosk.ui.lang import texts_of
from kiosk.ui.scanner import QrScanner
from kiosk.ui.theme import sc
from kiosk.ui.widgets import button, card, label, restyle
from wire import CheckinTicketOut

logger = logging.getLogger(__name__)


class NotBookingQr(KioskError):
    """A QR code was read, but it is no booking confirmation (a ticket's link, an enrolment code …)."""

    code = "checkin.not_booking_qr"
    default_zh = "这不是预约确认二维码，请出示预约成功页面或短信中的二维码"
    default_en = "This is not a booking QR code; show the one on your booking confirmation"


def booking_code_of(text: str) -> str:
    """The booking code a confirmation's QR carries (letters and digits only); NotBookingQr otherwise."""
    code = text.strip().upper()
    if (
        not (const.BOOKING_CODE_MIN <= len(code) <= const.BOOKING_CODE_MAX)
        or not code.isascii()
        or not code.isalnum()
    ):
        raise NotBookingQr()
    return code


def checkin_error(exc: BaseException) -> tuple[str, str]:
    """A refused check-in in words: (Chinese, English); the screen shows the visitor's language."""
    if isinstance(exc, FeatureUnavailable):
        return "本大厅暂未开通扫码签到，请刷身份证签到或直接取号", "Scan check-in is not available here yet"
    if isinstance(exc, ServerUnreachable):
        return "暂时无法连接服务器，请稍后再扫一次", "The hall server cannot be reached, please scan again"
    zh = getattr(exc, "message_zh", None) or "签到失败，请重试"
    en = getattr(exc, "message_en", None) or "Check-in failed"
    return zh, en


class ScanCheckinPage(QWidget):
    """The scanner, what happened, and 改取普通号 where the hall allows it after a missed time."""

    checked_in = Signal(object)  # the CheckinTicketOut

    def __init__(self, ctx: AppContext, run: Callable[..., None], on_back: Callable[[], None]) -> None:
        super().__init__()
        self.ctx = ctx
        self.run = run
        self.busy = False
        self.code: str | None = None
        self._key = uuid.uuid4().hex
        # Chinese only unless the visitor switched to English (中/EN), like the other visitor pages.
        self.texts = texts = texts_of(ctx.extras)
        self.said: tuple[str, str] = ("", "")
        texts.changed.connect(lambda _english: self._show_said())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)  # the screen's body has the margins
        lay.setSpacing(sc(12))
        lay.addWidget(texts.bind(label("", "title"), "扫码签到", "Scan your booking QR"))
        box = card()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(sc(24), sc(16), sc(24), sc(16))
        self.scanner = QrScanner(
            ctx,
            "请将预约成功页面或短信中的二维码对准摄像头",
            "Hold the QR code of your booking up to the camera",
            "checkin-scanner",
            "刷身份证签到",
        )
        self.scanner.scanned.connect(self._scanned)
        bl.addWidget(self.scanner, 1)
        self.status = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.status.setObjectName("scan-status")
        self.status.hide()
        bl.addWidget(self.status)
        lay.addWidget(box, 1)
        row = QHBoxLayout()
        row.addWidget(texts.bind(button("", on_back, name="scan-back"), "返回首页", "Back"))
        self.normal_btn = texts.bind(
            button("", self._normal, "primary", name="scan-normal"), "改取普通号", "Take a normal ticket"
        )
        self.normal_btn.hide()
        row.addWidget(self.normal_btn)
        lay.addLayout(row)

    def enter(self) -> None:
        """Shown: a fresh visit, the camera on."""
        self.busy = False
        self.code = None
        self._key = uuid.uuid4().hex
        self.normal_btn.hide()
        self._say("", "", "subtitle")
        self.scanner.start()

    def leave(self) -> None:
        """Hidden: the camera off."""
        if self.scanner.active:
            self.scanner.stop()

    def _scanned(self, text: str) -> None:
        try:
            code = booking_code_of(text)
        except NotBookingQr as exc:
            self._say(exc.message_zh, exc.message_en, "error")
            return
        if code != self.code:
            self._key = uuid.uuid4().hex  # another booking: another request
        self._check_in(code, fallback_normal=False)

    def _normal(self) -> None:
        if self.code:
            self._check_in(self.code, fallback_normal=True)

    def _check_in(self, code: str, fallback_normal: bool) -> None:
        if self.busy:
            return
        self.busy = True
        self.code = code
        self.normal_btn.hide()
        self.scanner.hold(True)
        self._say("正在签到，请稍候…", "Checking in…", "subtitle")
        client, hall = self.ctx.client, self.ctx.hall_id
        key = f"{self._key}-normal" if fallback_normal else self._key

        def call() -> CheckinTicketOut:
            return client.checkin_by_code(hall, code, fallback_normal=fallback_normal, idempotency_key=key)

        self.run(call, self._done, self._failed)

    def _done(self, ticket: CheckinTicketOut) -> None:
        self.busy = False
        self.leave()
        self.checked_in.emit(ticket)

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.scanner.hold(False)
        logger.info("scan check-in refused: %s", exc)
        self._say(*checkin_error(exc), "error")
        if (getattr(exc, "detail", None) or {}).get("normal_ticket_allowed"):
            self.normal_btn.show()

    def _say(self, zh: str, en: str, role: str) -> None:
        """The page's status line, in the visitor's language (and again after a 中/EN switch)."""
        self.said = (zh, en)
        restyle(self.status, role)
        self._show_said()

    def _show_said(self) -> None:
        text = self.texts.pick(*self.said)
        self.status.setText(text)
        self.status.setVisible(bool(text))
