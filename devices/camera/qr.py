"""QR codes in camera frames: OpenCV's QRCodeDetector reads them; `qr_frame` draws one into a frame."""

from __future__ import annotations

import logging
from typing import Any

from devices.camera.const import QR_MODULE_PX, QR_PREVIEW_WIDTH, SYNTHETIC_SIZE
from devices.camera.cvlib import cv2, np

logger = logging.getLogger(__name__)


def decode_qr(frame: Any) -> str | None:
    """The text of a QR code seen in a BGR (or grey) frame, or None when there is none to read."""
    cv = cv2()
    detector = cv.QRCodeDetector()
    grey = frame if frame.ndim == 2 else cv.cvtColor(frame, cv.COLOR_BGR2GRAY)
    # A phone screen or a print held up to the camera fills little of the frame or a lot of it:
    # the detector misses some sizes, so a second look at half the size costs little.
    for img in (grey, cv.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv.INTER_AREA)):
        try:
            text, _points, _ = detector.detectAndDecode(img)
        except cv.error as exc:  # a malformed code can make the decoder throw; it is "no code"
            logger.debug("QR decoder: %s", exc)
            continue
        if text:
            return str(text)
    return None


def preview_rgb(frame: Any, width: int = QR_PREVIEW_WIDTH) -> tuple[bytes, int, int]:
    """The frame scaled to `width` pixels as packed RGB bytes (for a Qt image), with its size."""
    cv = cv2()
    h, w = frame.shape[:2]
    scale = width / float(w)
    small = cv.resize(frame, (width, max(1, int(h * scale))), interpolation=cv.INTER_AREA)
    rgb = cv.cvtColor(small, cv.COLOR_GRAY2RGB if small.ndim == 2 else cv.COLOR_BGR2RGB)
    rgb = np().ascontiguousarray(rgb)
    return rgb.tobytes(), rgb.shape[1], rgb.shape[0]


def qr_frame(text: str, size: tuple[int, int] = SYNTHETIC_SIZE) -> Any:
    """A camera frame of a QR code held up on a sheet of paper (grey wall around it)."""
    cv = cv2()
    numpy = np()
    code = cv.QRCodeEncoder.create().encode(text)
    module_px = QR_MODULE_PX
    side = code.shape[0] * module_px
    w, h = size
    while side > min(w, h) - 40 and module_px > 2:
        module_px -= 1
        side = code.shape[0] * module_px
    big = cv.resize(code, (side, side), interpolation=cv.INTER_NEAREST)
    frame = numpy.full((h, w, 3), 90, dtype=numpy.uint8)
    paper = cv.copyMakeBorder(big, 16, 16, 16, 16, cv.BORDER_CONSTANT, value=255)
    ph, pw = paper.shape[:2]
    y, x = (h - ph) // 2, (w - pw) // 2
    frame[y : y + ph, x : x + pw] = cv.cvtColor(paper, cv.COLOR_GRAY2BGR)
    return frame
