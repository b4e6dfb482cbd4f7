"""Typed camera errors (all CameraError) with zh_CN and English messages."""

from __future__ import annotations

from devices.errors import CameraError


class CameraNotFound(CameraError):
    """No camera answers at the configured index."""

    code = "camera.not_found"


class FrameUnreadable(CameraError):
    """A video or image file cannot be opened or decoded."""

    code = "camera.unreadable"


class EndOfStream(CameraError):
    """A video file has no more frames."""

    code = "camera.end_of_stream"
