"""Face check on a frame (Haar cascade): how many faces, how large, how sharp; and a matcher plug-in point."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol

from devices.camera.const import (
    FACE_NORM_WIDTH,
    HAAR_FACE_FILE,
    HAAR_MIN_SIZE,
    HAAR_NEIGHBOURS,
    HAAR_SCALE,
    MIN_FACE_RATIO,
    MIN_SHARPNESS,
)
from devices.camera.cvlib import cv2
from devices.errors import CameraError


@dataclass(frozen=True)
class FaceCheck:
    """Result of a face check; `ok` when exactly one face is large and sharp enough."""

    count: int
    largest_ratio: float
    sharpness: float
    ok: bool
    box: tuple[int, int, int, int] | None = None

    @property
    def advice_zh(self) -> str:
        """What the kiosk tells the visitor."""
        if self.count == 0:
            return "未检测到人脸，请正对摄像头"
        if self.count > 1:
            return "检测到多张人脸，请单人拍摄"
        if not self.ok and self.largest_ratio < MIN_FACE_RATIO:
            return "请靠近摄像头一些"
        if not self.ok:
            return "画面模糊，请保持不动"
        return "人脸清晰，可以拍照"

    @property
    def advice_en(self) -> str:
        """English advice."""
        if self.count == 0:
            return "No face found; please face the camera"
        if self.count > 1:
            return "Several faces found; one person at a time"
        if not self.ok and self.largest_ratio < MIN_FACE_RATIO:
            return "Please come closer"
        if not self.ok:
            return "The picture is blurred; please hold still"
        return "Face is clear"


@functools.cache
def _cascade() -> Any:
    cv = cv2()
    cascade = cv.CascadeClassifier(cv.data.haarcascades + HAAR_FACE_FILE)
    if cascade.empty():
        raise CameraError("OpenCV's Haar face cascade is missing", message_zh="缺少 OpenCV 人脸检测模型文件")
    return cascade


def sharpness(gray: Any) -> float:
    """Variance of the Laplacian: high for crisp edges, low for blur."""
    cv = cv2()
    return float(cv.Laplacian(gray, cv.CV_64F).var())


def check_face(
    frame: Any, min_ratio: float = MIN_FACE_RATIO, min_sharpness: float = MIN_SHARPNESS
) -> FaceCheck:
    """Detect faces in a BGR (or grey) frame and judge whether it makes a usable face photo."""
    cv = cv2()
    if frame is None or getattr(frame, "size", 0) == 0:
        raise CameraError("empty frame", message_zh="画面为空")
    gray = frame if frame.ndim == 2 else cv.cvtColor(frame, cv.COLOR_BGR2GRAY)
    faces = _cascade().detectMultiScale(
        gray, scaleFactor=HAAR_SCALE, minNeighbors=HAAR_NEIGHBOURS, minSize=(HAAR_MIN_SIZE, HAAR_MIN_SIZE)
    )
    if len(faces) == 0:
        return FaceCheck(0, 0.0, 0.0, False)
    x, y, w, h = (int(v) for v in max(faces, key=lambda f: f[2] * f[3]))
    ratio = w / gray.shape[1]
    # Measure sharpness at a fixed face size so near and far faces are judged alike.
    face = cv.resize(gray[y : y + h, x : x + w], (FACE_NORM_WIDTH, FACE_NORM_WIDTH * h // max(w, 1)))
    sharp = sharpness(face)
    ok = len(faces) == 1 and ratio >= min_ratio and sharp >= min_sharpness
    return FaceCheck(len(faces), round(ratio, 4), round(sharp, 2), ok, (x, y, w, h))


@dataclass(frozen=True)
class FaceMatch:
    """How alike a live face and an ID card photo are (0..1) and the matcher's verdict."""

    score: float
    same_person: bool


class FaceMatcher(Protocol):
    """Plug-in interface for comparing a live face with the ID card photo (人证比对); no implementation ships."""

    def compare(self, live_jpeg: bytes, id_photo: bytes) -> FaceMatch:
        """Compare a captured JPEG with the card's photo (decoded by the caller's plug-in)."""
        ...
