"""First start of a machine without a device token: scan the managers' enrolment QR, or type its code.

Both ways end in kiosk.enrolment.enrol_device (the path `hall-kiosk --enrol CODE` takes too); the
token is kept in the data folder and the machine goes on to its role screen (`FirstStart`).
Nothing is lost on a refusal: a typed code stays in its field, and the scanner keeps looking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLineEdit, QStackedLayout, QVBoxLayout, QWidget

from kiosk import const
from kiosk.enrolment import NotEnrolmentQr, code_from_qr, enrol_device, normalise_typed
from kiosk.errors import ServerUnreachable
from kiosk.ui.context import AppContext
from kiosk.ui.scanner import QrScanner
from kiosk.ui.theme import sc
from kiosk.ui.widgets import MessageLine, button, card, header_bar, label, restyle

logger = logging.getLogger(__name__)


def enrol_error_zh(exc: BaseException) -> str:
    """What went wrong, in words for the person holding the code (zh_CN, English below)."""
    if isinstance(exc, NotEnrolmentQr):
        return f"{exc.message_zh}\n{exc.message_en}"
    if isinstance(exc, ServerUnreachable):
        return (
            "暂时无法连接大厅服务器，登记码仍然有效，请检查网络后重试\n"
            "The hall server cannot be reached; the code is still valid, please retry"
        )
    zh = getattr(exc, "message_zh", None) or "登记失败，请重试"
    en = getattr(exc, "message_en", None) or "Enrolment failed"
    if getattr(exc, "code", "") == "enrol.code_invalid":
        zh += "，请在管理页面“设备”中重新生成登记码"
    return f"{zh}\n{en}"


class EnrolScreen(QWidget):
    """请将设备登记二维码对准摄像头: the live preview, and the typed code on big keys beside it."""

    enrolled = Signal(object)  # the KioskConfig with the new token

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("root")
        self.busy = False
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        role_zh = const.ROLE_NAMES_ZH.get(ctx.config.role, ctx.config.role)
        frame, _right, _title = header_bar(f"本机登记 · {role_zh}", "Device enrolment at first start")
        root.addWidget(frame)
        body = QHBoxLayout()
        body.setContentsMargins(sc(28), sc(20), sc(28), sc(20))
        body.setSpacing(sc(24))
        root.addLayout(body, 1)

        left = card()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(sc(24), sc(20), sc(24), sc(20))
        self.scanner = QrScanner(
            ctx,
            "请将设备登记二维码对准摄像头",
            "Hold the device enrolment QR code up to the camera",
            "enrol-scanner",
            "在右侧输入登记码",
        )
        self.scanner.scanned.connect(self._scanned)
        ll.addWidget(self.scanner, 1)
        ll.addWidget(
            label(
                "二维码和登记码在管理页面“设备”中登记本机后显示，24小时内有效，仅可使用一次",
                "subtitle",
                wrap=True,
                align=Qt.AlignmentFlag.AlignCenter,
            )
        )
        body.addWidget(left, 3)

        right = card()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(sc(24), sc(20), sc(24), sc(20))
        rl.setSpacing(sc(12))
        rl.addWidget(label("或输入登记码 Or type the code", "big"))
        self.code = QLineEdit()
        self.code.setObjectName("enrol-code")
        self.code.setAccessibleName("登记码")
        self.code.setPlaceholderText("例如 ABCD-EFGH")
        self.code.setMaxLength(const.ENROL_CODE_MAX + 4)
        self.code.returnPressed.connect(self.submit_typed)
        rl.addWidget(self.code)
        keys = QGridLayout()
        keys.setSpacing(sc(8))
        self.keys: dict[str, Any] = {}
        for i, ch in enumerate(const.ENROL_KEYS):
            b = button(ch, lambda ch=ch: self._type(ch), "key", name=f"enrol-key-{ch}")
            b.setAccessibleName(ch)
            self.keys[ch] = b
            keys.addWidget(b, i // const.ENROL_KEYS_PER_ROW, i % const.ENROL_KEYS_PER_ROW)
        rl.addLayout(keys)
        row = QHBoxLayout()
        row.addWidget(button("⌫ 删除", self.code.backspace, name="enrol-back"))
        row.addWidget(button("清空", self.code.clear, name="enrol-clear"))
        self.submit_btn = button("登记本机 Enrol", self.submit_typed, "primary", name="enrol-submit")
        row.addWidget(self.submit_btn, 1)
        rl.addLayout(row)
        self.status = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.status.setObjectName("enrol-status")
        rl.addWidget(self.status)
        rl.addStretch(1)
        body.addWidget(right, 2)
        self.message = MessageLine()
        root.addWidget(self.message)

    def start(self) -> None:
        """Begin looking for the QR code."""
        self.scanner.start()

    def stop(self) -> None:
        """Stop the camera."""
        self.scanner.stop()

    def _type(self, ch: str) -> None:
        self.code.insert(ch)

    def _scanned(self, text: str) -> None:
        try:
            code = code_from_qr(text)
        except NotEnrolmentQr as exc:
            self._say(enrol_error_zh(exc), "error")
            return
        self.submit(code)

    def submit_typed(self) -> None:
        """Enrol with the code on the keys (dash and case as people type them)."""
        typed = normalise_typed(self.code.text())
        if not (const.ENROL_CODE_MIN <= len(typed) <= const.ENROL_CODE_MAX):
            self._say("请输入管理页面显示的8位登记码\nPlease type the 8-character code", "error")
            return
        self.submit(typed)

    def submit(self, code: str) -> None:
        """Exchange the code for this machine's token in the task pool (one request at a time)."""
        if self.busy:
            return
        self.busy = True
        self.submit_btn.setEnabled(False)
        self.scanner.hold(True)
        self._say("正在登记本机，请稍候…\nEnrolling…", "subtitle")
        cfg, client = self.ctx.config, self.ctx.client
        self.ctx.runner.run(lambda: enrol_device(cfg, client, code), self._done, self._failed)

    def _done(self, result: tuple[Any, Any]) -> None:
        cfg, answer = result
        self.busy = False
        self._say(f"本机已登记：{answer.label}\nEnrolled", "ok")
        self.scanner.stop()
        self.enrolled.emit(cfg)

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.submit_btn.setEnabled(True)
        self.scanner.hold(False)
        logger.info("enrolment refused: %s", exc)
        self._say(enrol_error_zh(exc), "error")

    def _say(self, text: str, role: str) -> None:
        self.status.setText(text)
        restyle(self.status, role)
        self.status.setVisible(bool(text))


class FirstStart(QWidget):
    """The enrolment screen until the machine has its token, then its role screen in the same window."""

    ready = Signal()

    def __init__(self, ctx: AppContext, build: Callable[[AppContext], QWidget]) -> None:
        super().__init__()
        self.ctx = ctx
        self.build = build
        self.screen: QWidget | None = None
        self.stack = QStackedLayout(self)
        self.enrol = EnrolScreen(ctx)
        self.enrol.enrolled.connect(self._enrolled)
        self.stack.addWidget(self.enrol)
        self.enrol.start()

    @property
    def is_ready(self) -> bool:
        """Ready while enrolling (the screen is complete), then as the role screen says."""
        return bool(getattr(self.screen, "is_ready", True))

    def _enrolled(self, cfg: Any) -> None:
        self.ctx.config = cfg
        self.screen = self.build(self.ctx)
        if hasattr(self.screen, "ready"):
            self.screen.ready.connect(self.ready.emit)
        self.stack.addWidget(self.screen)
        # The enrolment screen stays behind, hidden: a look of its scanner may still be on its way.
        self.stack.setCurrentWidget(self.screen)

    def closeEvent(self, event: Any) -> None:
        if self.screen is None:
            self.enrol.stop()
        else:
            self.screen.close()
        super().closeEvent(event)
