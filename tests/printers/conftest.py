"""Fixtures for printer tests: a virtual network printer on a free port, sample layouts, a QR decoder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from printers import PrinterConfig, TicketLayout
from printers.virtual import VirtualPrinter

TRACK_URL = "http://hall.bazhong.local:8000/t/Qm7tK2xZp9"


@pytest.fixture
def ticket() -> TicketLayout:
    """A ticket with every optional field, a long service name and a rare character in the holder."""
    return TicketLayout(
        hall_name="巴中市政务服务中心",
        number="A012",
        service_name="不动产登记（二手房转移登记）",
        people_ahead=6,
        estimated_wait_minutes=18,
        issued_at=datetime(2026, 11, 26, 9, 41),
        qr_url=TRACK_URL,
        notes=["请留意大厅显示屏和语音叫号。"],
        window_hint="请到3号窗口",
        priority_label="绿色通道",
        holder_masked="䶮*",
    )


@pytest.fixture
def virtual_printer(tmp_path: Path) -> Iterator[Callable[..., VirtualPrinter]]:
    """Start virtual printers on free ports; all are stopped after the test."""
    started: list[VirtualPrinter] = []

    def start(width_mm: int = 80, **kwargs: object) -> VirtualPrinter:
        vp = VirtualPrinter(port=0, out_dir=tmp_path / f"vp{len(started)}", width_mm=width_mm, **kwargs)  # type: ignore[arg-type]
        started.append(vp.start())
        return vp

    yield start
    for vp in started:
        vp.stop()


def network_config(vp: VirtualPrinter, mode: str = "text", width_mm: int = 80, **kw: object) -> PrinterConfig:
    """A PrinterConfig pointing at a virtual printer."""
    return PrinterConfig("network", f"127.0.0.1:{vp.port}", mode, width_mm, **kw)  # type: ignore[arg-type]


def decode_qr(path: Path | Image.Image) -> str:
    """Decode the QR code on a page with OpenCV's QRCodeDetector ('' when none is found)."""
    img = path if isinstance(path, Image.Image) else Image.open(path)
    gray = np.array(img.convert("L"))
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(gray)
    return text
