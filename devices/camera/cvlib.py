"""Lazy import of OpenCV and numpy with an install hint."""

from __future__ import annotations

from typing import Any

from devices.errors import DependencyMissing


def cv2() -> Any:
    """The cv2 module, or DependencyMissing naming the package to install."""
    try:
        import cv2 as module
    except ImportError as exc:
        raise DependencyMissing("opencv-python-headless", "devices") from exc
    return module


def np() -> Any:
    """The numpy module, or DependencyMissing."""
    try:
        import numpy as module
    except ImportError as exc:
        raise DependencyMissing("numpy", "devices") from exc
    return module
