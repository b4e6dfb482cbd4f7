"""`hall-sim camera --out FILE.mp4`: write the synthetic camera video (a drawn face that sways)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from devices.camera.const import SYNTHETIC_FPS, SYNTHETIC_SIZE
from devices.camera.cvlib import cv2
from devices.camera.synthetic import KINDS, synthetic_frame
from devices.errors import CameraError

logger = logging.getLogger(__name__)


def write_video(
    out: Path,
    kind: str = "face",
    seconds: float = 4.0,
    fps: int = SYNTHETIC_FPS,
    size: tuple[int, int] = SYNTHETIC_SIZE,
) -> int:
    """Write a synthetic clip (MPEG-4, or MJPG for .avi); returns the number of frames written."""
    cv = cv2()
    out.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv.VideoWriter_fourcc(*("MJPG" if out.suffix.lower() == ".avi" else "mp4v"))
    writer = cv.VideoWriter(str(out), fourcc, float(fps), size)
    if not writer.isOpened():
        raise CameraError(f"cannot write video {out}", message_zh=f"无法写入视频文件：{out}")
    frames = max(1, round(seconds * fps))
    try:
        for i in range(frames):
            writer.write(synthetic_frame(kind, i, size))
    finally:
        writer.release()
    return frames


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options and write the clip."""
    p = argparse.ArgumentParser(
        prog="hall-sim camera", description="生成模拟摄像头视频 / write a synthetic camera video"
    )
    p.add_argument("--out", required=True, help="output file (.mp4 or .avi)")
    p.add_argument("--kind", choices=KINDS, default="face", help="what the camera sees (default: face)")
    p.add_argument("--seconds", type=float, default=4.0, help="length in seconds (default 4)")
    p.add_argument(
        "--fps", type=int, default=SYNTHETIC_FPS, help=f"frames per second (default {SYNTHETIC_FPS})"
    )
    p.add_argument(
        "--size", default="x".join(map(str, SYNTHETIC_SIZE)), help="WIDTHxHEIGHT (default 640x480)"
    )
    args = p.parse_args(argv)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error("--size must look like 640x480")
    try:
        n = write_video(Path(args.out), args.kind, args.seconds, args.fps, (w, h))
    except CameraError as exc:
        print(f"{exc.message_zh} / {exc}", file=sys.stderr)
        return 1
    print(f"已写入 {n} 帧 → {args.out} / wrote {n} frames to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
