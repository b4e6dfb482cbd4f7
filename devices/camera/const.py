"""Constants of the camera drivers: preview pacing, JPEG quality, face check thresholds."""

from __future__ import annotations

DEFAULT_MAX_FPS = 15.0
JPEG_QUALITY = 90
SYNTHETIC_SIZE = (640, 480)
SYNTHETIC_FPS = 15
HAAR_FACE_FILE = "haarcascade_frontalface_default.xml"
# A face must span this share of the frame width to be usable for an ID check photo.
MIN_FACE_RATIO = 0.2
# Variance of the Laplacian of the face, measured at FACE_NORM_WIDTH pixels wide.
MIN_SHARPNESS = 60.0
FACE_NORM_WIDTH = 200
# Haar detector settings: scale step, neighbours (higher = fewer false faces), smallest face.
HAAR_SCALE = 1.1
HAAR_NEIGHBOURS = 5
HAAR_MIN_SIZE = 40
# QR frames: pixels per QR module drawn by qr_frame, and the width of a scanner's preview image.
QR_MODULE_PX = 6
QR_PREVIEW_WIDTH = 480
