"""Cameras for kiosks and clerk terminals: frame sources, JPEG capture, preview, face check."""

from __future__ import annotations

from devices.camera.errors import CameraNotFound, EndOfStream, FrameUnreadable
from devices.camera.face import FaceCheck, FaceMatch, FaceMatcher, check_face
from devices.camera.sources import FrameSource, Preview, open_camera

__all__ = [
    "CameraNotFound",
    "EndOfStream",
    "FaceCheck",
    "FaceMatch",
    "FaceMatcher",
    "FrameSource",
    "FrameUnreadable",
    "Preview",
    "check_face",
    "open_camera",
]
