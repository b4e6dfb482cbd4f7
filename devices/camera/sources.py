"""Frame sources behind open_camera(url): a camera index, a video file, a still image, a synthetic face,
or a presenter (whatever picture is put in front of a simulated camera, e.g. a QR code)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from devices.camera.const import DEFAULT_MAX_FPS, JPEG_QUALITY, SYNTHETIC_SIZE
from devices.camera.cvlib import cv2
from devices.camera.errors import CameraNotFound, EndOfStream, FrameUnreadable
from devices.camera.synthetic import KINDS, synthetic_frame
from devices.errors import CameraError

logger = logging.getLogger(__name__)


class FrameSource:
    """A source of BGR frames; subclasses implement `read()`."""

    url = ""

    def read(self) -> Any:
        """The next frame (numpy BGR array); raises a CameraError subclass."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def capture_jpeg(self, quality: int = JPEG_QUALITY) -> bytes:
        """One frame encoded as JPEG bytes."""
        ok, buf = cv2().imencode(".jpg", self.read(), [int(cv2().IMWRITE_JPEG_QUALITY), quality])
        if not ok:
            raise CameraError("could not encode the frame as JPEG", message_zh="无法将画面编码为 JPEG")
        return bytes(buf)

    def frames(self, max_fps: float = DEFAULT_MAX_FPS, stop: threading.Event | None = None) -> Iterator[Any]:
        """Frames at most max_fps per second; a slow consumer skips frames instead of queueing them."""
        if max_fps <= 0:
            raise ValueError("max_fps must be positive")
        interval = 1.0 / max_fps
        next_due = time.monotonic()
        while stop is None or not stop.is_set():
            now = time.monotonic()
            if now < next_due:
                time.sleep(next_due - now)
            frame = self.read()
            # Schedule from now, not from the missed slot: a late consumer never gets a burst.
            next_due = max(next_due + interval, time.monotonic())
            yield frame

    def preview(
        self,
        on_frame: Callable[[Any], None],
        max_fps: float = DEFAULT_MAX_FPS,
        on_error: Callable[[CameraError], None] | None = None,
    ) -> Preview:
        """Start a preview thread calling on_frame at most max_fps times a second; `.stop()` ends it."""
        return Preview(self, on_frame, max_fps, on_error).start()


class Preview:
    """A background preview: reads paced frames and hands each to a callback (frames are never queued)."""

    def __init__(
        self,
        source: FrameSource,
        on_frame: Callable[[Any], None],
        max_fps: float,
        on_error: Callable[[CameraError], None] | None,
    ) -> None:
        self.source, self.on_frame, self.max_fps, self.on_error = source, on_frame, max_fps, on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-preview", daemon=True)
        self.delivered = 0

    def start(self) -> Preview:
        """Start the thread."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for frame in self.source.frames(self.max_fps, self._stop):
                self.on_frame(frame)
                self.delivered += 1
        except CameraError as exc:
            logger.warning("camera preview stopped: %s", exc)
            if self.on_error:
                self.on_error(exc)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout)


class IndexCamera(FrameSource):
    """A camera by OpenCV index (/dev/videoN on Linux)."""

    def __init__(self, index: int) -> None:
        self.url = f"index:{index}"
        self._cap = cv2().VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraNotFound(f"no camera at index {index}", message_zh=f"未找到摄像头（编号 {index}）")

    def read(self) -> Any:
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CameraNotFound(
                "the camera stopped delivering frames", message_zh="摄像头无画面，可能已断开"
            )
        return frame

    def close(self) -> None:
        self._cap.release()


class VideoFileSource(FrameSource):
    """Frames of a video file; EndOfStream after the last one unless `loop`."""

    def __init__(self, path: str, loop: bool = False) -> None:
        self.url, self.path, self.loop = f"file:{path}", path, loop
        if not Path(path).is_file():
            raise FrameUnreadable(f"no such video file: {path}", message_zh=f"找不到视频文件：{path}")
        self._cap = cv2().VideoCapture(path)
        if not self._cap.isOpened():
            self._cap.release()
            raise FrameUnreadable(f"cannot decode video file: {path}", message_zh=f"无法读取视频文件：{path}")
        self.count = 0

    def read(self) -> Any:
        ok, frame = self._cap.read()
        if (not ok or frame is None) and self.loop and self.count:
            self._cap.set(cv2().CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok or frame is None:
            if self.count == 0:
                raise FrameUnreadable(
                    f"no frame could be decoded from {self.path}", message_zh="视频文件无法解码"
                )
            raise EndOfStream(f"end of {self.path} after {self.count} frames", message_zh="视频已播放完毕")
        self.count += 1
        return frame

    def close(self) -> None:
        self._cap.release()


class ImageSource(FrameSource):
    """A still image, returned as every frame (e.g. a scanned document)."""

    def __init__(self, path: str) -> None:
        self.url = f"image:{path}"
        frame = cv2().imread(path, cv2().IMREAD_COLOR)
        if frame is None:
            raise FrameUnreadable(f"cannot read image file: {path}", message_zh=f"无法读取图片文件：{path}")
        self._frame = frame

    def read(self) -> Any:
        return self._frame.copy()


class SyntheticSource(FrameSource):
    """Generated frames: `face` (a drawn face the Haar cascade finds), `blank`, `noise`, `two-faces`."""

    def __init__(self, kind: str = "face", size: tuple[int, int] = SYNTHETIC_SIZE) -> None:
        if kind not in KINDS:
            raise CameraNotFound(
                f"unknown synthetic source {kind!r} (use one of {', '.join(KINDS)})",
                message_zh=f"未知的模拟画面：{kind}",
            )
        self.url, self.kind, self.size = f"synthetic:{kind}", kind, size
        self.index = 0

    def read(self) -> Any:
        frame = synthetic_frame(self.kind, self.index, self.size)
        self.index += 1
        return frame


class PresenterSource(FrameSource):
    """A simulated camera in front of which a picture is held: the image file at `path` while it
    exists (read again whenever it changes), an empty wall while it does not.

    Tests and demos "hold up" a QR code or a document by writing the file, and take it away by
    deleting it; the reader of frames never blocks on the writer.
    """

    def __init__(self, path: str, size: tuple[int, int] = SYNTHETIC_SIZE) -> None:
        if not path:
            raise CameraNotFound("present: needs a file path", message_zh="模拟摄像头须指定图片路径")
        self.url, self.path, self.size = f"present:{path}", Path(path), size
        self._seen: tuple[int, int, int] | None = None
        self._frame: Any = None
        self.index = 0

    def read(self) -> Any:
        self.index += 1
        try:
            st = self.path.stat()
        except OSError:
            self._seen, self._frame = None, None
            return synthetic_frame("blank", self.index, self.size)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._seen:
            frame = cv2().imread(str(self.path), cv2().IMREAD_COLOR)
            if frame is None:
                # Caught half-written: show the wall this time and look again next frame.
                return synthetic_frame("blank", self.index, self.size)
            self._seen, self._frame = stamp, frame
        return self._frame.copy()


def open_camera(url: str) -> FrameSource:
    """`index:0`, `file:clip.mp4`, `image:doc.jpg`, `synthetic:face`, `present:held.png` (a bare
    number means an index)."""
    scheme, sep, rest = url.partition(":")
    if not sep and url.strip().isdigit():
        scheme, rest = "index", url.strip()
    if scheme == "index":
        if not rest.strip().isdigit():
            raise CameraNotFound(
                f"camera index must be a number: {url!r}", message_zh=f"摄像头编号无效：{url}"
            )
        return IndexCamera(int(rest))
    if scheme == "file":
        return VideoFileSource(rest)
    if scheme == "image":
        return ImageSource(rest)
    if scheme == "synthetic":
        return SyntheticSource(rest or "face")
    if scheme == "present":
        return PresenterSource(rest)
    raise CameraNotFound(f"unknown camera url {url!r}", message_zh=f"无法识别的摄像头地址：{url}")
