"""The QR scanner: a live camera preview whose frames are grabbed and decoded in the task pool.

The Qt thread only asks for the next look (a timer) and paints what comes back; opening the
camera, reading a frame and OpenCV's QRCodeDetector all run in the kiosk's TaskRunner, and the
result returns by its signal. One look is in flight at a time, so a slow camera slows the
preview instead of queueing frames.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from kiosk import const
from kiosk.hardware import ScanFrame
from kiosk.ui.context import AppContext
from kiosk.ui.theme import sc
from kiosk.ui.widgets import label, restyle

logger = logging.getLogger(__name__)

# After a camera fault the scanner looks again this often (the camera may be plugged back in).
RETRY_INTERVAL_MS = 2000


class QrScanner(QWidget):
    """Preview plus prompt; `scanned(text)` once per QR code held up (not again while it stays)."""

    scanned = Signal(str)
    camera_failed = Signal(str)  # the camera's trouble in words (zh_CN)

    def __init__(self, ctx: AppContext, prompt_zh: str, prompt_en: str, name: str, fallback_zh: str) -> None:
        """`fallback_zh`: the other way in, named when the camera cannot be used ("输入登记码")."""
        super().__init__()
        self.fallback_zh = fallback_zh
        self.setObjectName(name)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(sc(12))
        self.prompt = label(f"{prompt_zh}\n{prompt_en}", "big", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt.setObjectName(f"{name}-prompt")
        lay.addWidget(self.prompt)
        self.preview = QLabel()
        self.preview.setObjectName(f"{name}-preview")
        self.preview.setAccessibleName("摄像头画面")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(sc(320), sc(180))  # elderly type leaves a 720p screen little room
        # Ignored: the picture fits the room the layout gives, never asks for more (a pixmap's own
        # size would push the label past the screen and crop the frame).
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setStyleSheet("background: #1f2a36; border-radius: 12px;")
        lay.addWidget(self.preview, 1)
        self.camera_state = label("", "subtitle", wrap=True, align=Qt.AlignmentFlag.AlignCenter)
        self.camera_state.setObjectName(f"{name}-camera")
        self.camera_state.hide()
        lay.addWidget(self.camera_state)
        self._timer = QTimer(self)
        self._timer.setInterval(const.SCAN_INTERVAL_MS)
        self._timer.timeout.connect(self._look)
        self._looking = False
        self._visit = 0  # counts starts: a look begun before the last start is stale
        self.held = False  # while the owner acts on a code, frames still show but nothing is read
        self._last: tuple[str, float] | None = None
        self.frames_shown = 0

    @property
    def active(self) -> bool:
        """Whether the scanner is looking through the camera."""
        return self._timer.isActive()

    def start(self) -> None:
        """Start looking (a machine without a camera says so and keeps its other ways in)."""
        camera = self.ctx.camera
        if camera is None or not camera.configured:
            self._show_camera_trouble(f"本机未配置摄像头，请{self.fallback_zh}\nNo camera on this machine")
            return
        self._last = None
        self.held = False
        self._visit += 1
        self._timer.setInterval(const.SCAN_INTERVAL_MS)
        self._timer.start()
        self._look()

    def stop(self) -> None:
        """Stop looking and let the camera go (in the pool: closing a device may block)."""
        self._timer.stop()
        if not self._looking:
            self._release()
        # else: the look in flight releases it when it comes back (a release before it would
        # leave the camera opened again by that look).

    def _release(self) -> None:
        camera = self.ctx.camera
        if camera is not None and camera.configured:
            self.ctx.runner.run(camera.release, None, lambda exc: logger.info("camera release: %s", exc))

    def hold(self, held: bool) -> None:
        """Stop (True) or resume (False) reporting codes; the preview keeps running."""
        self.held = held

    def _look(self) -> None:
        camera = self.ctx.camera
        if self._looking or camera is None:
            return
        self._looking = True
        visit = self._visit
        self.ctx.runner.run(
            camera.scan_frame, lambda frame: self._seen(frame, visit), lambda exc: self._failed(exc, visit)
        )

    def _settled(self, visit: int) -> bool:
        """A frame or failure came back: whether it is still for this screen and this visit.

        If the screen was left, the camera is released; if a new visit began meanwhile, the
        answer is dropped (the previous visitor's code may be in it) and a fresh frame is asked for.
        """
        self._looking = False
        if not self.active:
            self._release()
            return False
        if visit != self._visit:
            self._look()
            return False
        return True

    def _seen(self, frame: ScanFrame, visit: int) -> None:
        if not self._settled(visit):
            return
        if self.camera_state.isVisible():
            self.camera_state.hide()
            self._timer.setInterval(const.SCAN_INTERVAL_MS)
        image = QImage(frame.rgb, frame.width, frame.height, 3 * frame.width, QImage.Format.Format_RGB888)
        pix = QPixmap.fromImage(image.copy())  # copy: the bytes object does not outlive this call
        self.preview.setPixmap(
            pix.scaled(
                self.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        )
        self.frames_shown += 1
        if frame.text and not self.held:
            now = time.monotonic()
            if self._last and self._last[0] == frame.text and now - self._last[1] < const.SCAN_REPEAT_S:
                return  # the same code still held up: its answer is on the screen already
            self._last = (frame.text, now)
            self.scanned.emit(frame.text)

    def _failed(self, exc: BaseException, visit: int) -> None:
        if not self._settled(visit):
            return
        msg = getattr(exc, "message_zh", None) or "摄像头无法使用"
        logger.info("scanner camera: %s", exc)
        self._timer.setInterval(RETRY_INTERVAL_MS)
        self._show_camera_trouble(f"{msg}，请{self.fallback_zh}或联系工作人员")

    def _show_camera_trouble(self, text: str) -> None:
        self.camera_state.setText(text)
        restyle(self.camera_state, "error")
        self.camera_state.show()
        self.camera_failed.emit(text)
