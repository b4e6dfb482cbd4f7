"""Generated camera frames: a drawn face the Haar cascade detects, a blank wall, or sensor noise."""

from __future__ import annotations

import math
from typing import Any

from devices.camera.cvlib import cv2, np

KINDS = ("face", "blank", "noise", "two-faces")


def _background(w: int, h: int, seed: int) -> Any:
    numpy = np()
    ramp = numpy.linspace(60, 110, w, dtype=numpy.float32)[None, :, None]
    img = numpy.repeat(numpy.repeat(ramp, h, axis=0), 3, axis=2)
    # Mild sensor noise: real frames are never flat, and sharpness is measured on texture.
    noise = numpy.random.default_rng(seed).normal(0, 4, size=(h, w, 3))
    return numpy.clip(img + noise, 0, 255).astype(numpy.uint8)


def draw_face(img: Any, cx: int, cy: int, scale: float = 1.0) -> None:
    """Draw a frontal face (hair, skin, brows, eyes, nose, mouth) centred at (cx, cy)."""
    cv = cv2()

    def s(v: float) -> int:
        return max(1, int(v * scale))

    cv.ellipse(img, (cx, cy - s(40)), (s(120), s(120)), 0, 180, 360, (30, 30, 40), -1)
    cv.ellipse(img, (cx, cy), (s(110), s(145)), 0, 0, 360, (150, 175, 215), -1)
    ey, ex = cy - s(35), s(45)
    for side in (-1, 1):
        cv.ellipse(img, (cx + side * ex, ey - s(22)), (s(28), s(7)), 0, 0, 360, (40, 45, 60), -1)
        cv.ellipse(img, (cx + side * ex, ey), (s(22), s(11)), 0, 0, 360, (245, 245, 245), -1)
        cv.circle(img, (cx + side * ex, ey), s(9), (40, 30, 20), -1)
    cv.line(img, (cx, ey + s(10)), (cx - s(8), cy + s(30)), (110, 130, 170), s(3))
    cv.ellipse(img, (cx, cy + s(35)), (s(18), s(7)), 0, 0, 360, (100, 120, 160), -1)
    cv.ellipse(img, (cx, cy + s(75)), (s(35), s(12)), 0, 0, 360, (60, 60, 150), -1)


def synthetic_frame(kind: str, index: int, size: tuple[int, int]) -> Any:
    """Frame number `index` of a synthetic source; the face sways a little, like a person in front of a kiosk."""
    if kind not in KINDS:
        raise ValueError(f"synthetic source must be one of {', '.join(KINDS)}, not {kind!r}")
    w, h = size
    numpy = np()
    if kind == "noise":
        return numpy.random.default_rng(index).integers(0, 256, size=(h, w, 3), dtype=numpy.uint8)
    img = _background(w, h, index)
    scale = min(w, h) / 480
    dx = int(20 * scale * math.sin(index / 8))
    if kind == "face":
        draw_face(img, w // 2 + dx, h // 2, scale)
    elif kind == "two-faces":
        draw_face(img, w // 4 + dx, h // 2, scale * 0.55)
        draw_face(img, 3 * w // 4 + dx, h // 2, scale * 0.55)
    return img
