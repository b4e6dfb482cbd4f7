"""Camera sources, JPEG capture, bounded preview rate, face check, typed errors, the `hall-sim camera` video."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import (
    CameraNotFound,
    EndOfStream,
    FrameSource,
    FrameUnreadable,
    check_face,
    open_camera,
)
from devices.camera.cli import main as camera_main
from devices.errors import CameraError, DeviceError


@pytest.fixture(scope="module")
def face_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clip `hall-sim camera` writes, made once for the module."""
    out = tmp_path_factory.mktemp("cam") / "face.mp4"
    assert camera_main(["--out", str(out), "--seconds", "1", "--fps", "10"]) == 0
    return out


def test_synthetic_face_source_gives_one_usable_face() -> None:
    with open_camera("synthetic:face") as cam:
        for _ in range(5):
            check = check_face(cam.read())
            assert check.count == 1 and check.ok, check
            assert check.largest_ratio > 0.3
    assert check.advice_zh == "人脸清晰，可以拍照"


def test_blank_frame_has_no_face() -> None:
    check = check_face(open_camera("synthetic:blank").read())
    assert (check.count, check.ok) == (0, False)
    assert "未检测到人脸" in check.advice_zh
    assert check_face(np.zeros((480, 640, 3), np.uint8)).count == 0


def test_two_faces_blurred_and_far_faces_are_not_ok() -> None:
    two = check_face(open_camera("synthetic:two-faces").read())
    assert two.count == 2 and not two.ok and "多张人脸" in two.advice_zh
    frame = open_camera("synthetic:face").read()
    blurred = check_face(cv2.GaussianBlur(frame, (21, 21), 8))
    assert blurred.count == 1 and not blurred.ok and "模糊" in blurred.advice_zh
    far = check_face(cv2.copyMakeBorder(frame, 400, 400, 600, 600, cv2.BORDER_REPLICATE))
    assert far.count == 1 and not far.ok and "靠近" in far.advice_zh


def test_capture_jpeg_decodes_to_the_frame_size() -> None:
    data = open_camera("synthetic:face").capture_jpeg()
    assert data[:2] == b"\xff\xd8"
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (480, 640, 3)
    assert check_face(img).ok  # the face survives JPEG compression


def test_video_file_source_plays_to_the_end(face_video: Path) -> None:
    cam = open_camera(f"file:{face_video}")
    frames = [cam.read() for _ in range(10)]
    assert all(f.shape == (480, 640, 3) for f in frames)
    assert check_face(frames[0]).ok
    with pytest.raises(EndOfStream) as err:
        cam.read()
    assert err.value.message_zh == "视频已播放完毕"
    cam.close()


def test_image_source_returns_the_picture(tmp_path: Path) -> None:
    path = tmp_path / "doc.jpg"
    cv2.imwrite(str(path), open_camera("synthetic:face").read())
    cam = open_camera(f"image:{path}")
    assert check_face(cam.read()).ok
    assert cv2.imdecode(np.frombuffer(cam.capture_jpeg(), np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)


def test_bad_sources_raise_typed_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    bad_jpg = tmp_path / "bad.jpg"
    bad_jpg.write_bytes(b"\xff\xd8garbage")
    cases = [
        ("index:97", CameraNotFound),
        ("index:abc", CameraNotFound),
        (f"file:{tmp_path / 'missing.mp4'}", FrameUnreadable),
        (f"file:{junk}", FrameUnreadable),
        (f"image:{bad_jpg}", FrameUnreadable),
        ("synthetic:unicorn", CameraNotFound),
        ("webcam://x", CameraNotFound),
    ]
    for url, error in cases:
        with pytest.raises(error) as err:
            open_camera(url).read()
        assert isinstance(err.value, CameraError) and isinstance(err.value, DeviceError)
        assert err.value.message_zh and err.value.message_zh != str(err.value), url


def test_frames_are_bounded_by_max_fps() -> None:
    cam = open_camera("synthetic:blank")
    stop = threading.Event()
    count = 0
    start = time.monotonic()
    for _ in cam.frames(max_fps=10, stop=stop):
        count += 1
        if time.monotonic() - start >= 1.0:
            stop.set()
    elapsed = time.monotonic() - start
    # At 10 fps a period of `elapsed` seconds can hold at most 10 * elapsed + 1 frames.
    assert 1 <= count <= 10 * elapsed + 1


class Clock(FrameSource):
    """A source whose frame is the moment it was captured."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> np.ndarray:
        self.reads += 1
        return np.array([time.monotonic()])


def test_preview_drops_frames_for_a_slow_consumer() -> None:
    stale: list[float] = []
    delivered: list[float] = []
    last_done = [0.0]

    def slow(frame: np.ndarray) -> None:
        # A queued frame would have been captured before the previous callback returned.
        if frame[0] < last_done[0]:
            stale.append(last_done[0] - frame[0])
        delivered.append(frame[0])
        time.sleep(0.15)  # far slower than the 30 fps asked for
        last_done[0] = time.monotonic()

    source = Clock()
    preview = source.preview(slow, max_fps=30)
    time.sleep(1.0)
    preview.stop()
    assert stale == []
    assert 2 <= len(delivered) == preview.delivered
    assert source.reads <= len(delivered) + 1  # nothing is read ahead into a queue


def test_preview_reports_the_end_of_a_video(face_video: Path) -> None:
    errors: list[CameraError] = []
    done = threading.Event()

    def on_error(exc: CameraError) -> None:
        errors.append(exc)
        done.set()

    preview = open_camera(f"file:{face_video}").preview(lambda f: None, max_fps=200, on_error=on_error)
    assert done.wait(10)
    preview.stop()
    assert isinstance(errors[0], EndOfStream) and preview.delivered == 10


def test_camera_cli_rejects_a_bad_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        camera_main(["--out", str(tmp_path / "x.mp4"), "--size", "big"])
    assert "640x480" in capsys.readouterr().err


def test_a_qr_held_up_to_the_presenter_camera_is_read(tmp_path) -> None:
    """`present:FILE` shows a wall until a picture is held up, then the picture; the QR in it decodes."""
    from devices.camera.qr import decode_qr, preview_rgb, qr_frame

    held = tmp_path / "held.png"
    cam = open_camera(f"present:{held}")
    try:
        wall = cam.read()
        assert wall.shape == (480, 640, 3) and decode_qr(wall) is None
        cv2.imwrite(str(held), qr_frame("hall-enrol:http://hall.test#ABCD-EFGH"))
        assert decode_qr(cam.read()) == "hall-enrol:http://hall.test#ABCD-EFGH"
        rgb, w, h = preview_rgb(cam.read(), 320)
        assert (w, h) == (320, 240) and len(rgb) == 320 * 240 * 3
        held.unlink()  # taken away: the wall again
        assert decode_qr(cam.read()) is None
    finally:
        cam.close()
