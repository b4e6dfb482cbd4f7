"""Print sample tickets through the real path (python-escpos -> TCP -> virtual printer -> PNG).

Usage: python -m printers.samples docs/img/tickets
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from printers.config import PrinterConfig
from printers.layout import GuideSlip, Material, ReceiptLayout, ReceiptLine, TicketLayout
from printers.printer import open_printer
from printers.virtual.server import VirtualPrinter

logger = logging.getLogger(__name__)


def sample_ticket() -> TicketLayout:
    """A green-channel ticket of the demo city hall, with a rare character in the holder's name."""
    return TicketLayout(
        hall_name="巴中市政务服务中心",
        number="A012",
        service_name="不动产登记（二手房转移登记）",
        people_ahead=6,
        estimated_wait_minutes=18,
        issued_at=datetime(2026, 11, 26, 9, 41),
        qr_url="http://hall.bazhong.local:8000/t/Qm7tK2xZp9",
        notes=["请留意大厅显示屏和语音叫号。", "本凭条当日有效。"],
        window_hint="请到3、5号窗口",
        priority_label="绿色通道·老年人",
        holder_masked="䶮*",
    )


def sample_guide() -> GuideSlip:
    """A service guide slip for registering a newborn's household (出生登记)."""
    return GuideSlip(
        hall_name="巴中市巴州区政务服务中心",
        service_name="出生登记（户口登记）",
        materials=[
            Material("出生医学证明", originals=1, copies=1),
            Material("父母双方居民身份证", originals=1, copies=1),
            Material("父母双方居民户口簿", originals=1),
            Material("结婚证", originals=1, copies=1, note="非婚生育的提供亲子鉴定"),
        ],
        steps=["取号排队", "窗口提交材料", "民警审核", "当场办结，领取户口簿"],
        time_limit="材料齐全当场办结（承诺时限1个工作日）",
        notes=["咨询电话：0827-1234567", "工作时间：周一至周五 9:00-17:00"],
        qr_url="http://hall.bazhong.local:8000/services/GA-HJ-001",
    )


def sample_receipt() -> ReceiptLayout:
    """A person's matters and their status."""
    return ReceiptLayout(
        title="办件进度查询",
        hall_name="巴中市政务服务中心",
        lines=[
            ReceiptLine("申请人", "张*"),
            ReceiptLine("证件号", "5119**********0016"),
            ReceiptLine("不动产转移登记", "审核中"),
            ReceiptLine("营业执照变更", "已办结"),
            ReceiptLine("社保卡补换", "待领取"),
        ],
        footer=["如有疑问请到综合咨询台。"],
        printed_at=datetime(2026, 11, 26, 10, 5),
    )


def print_samples(out_dir: Path) -> list[Path]:
    """Print each sample through a virtual printer and copy the PNGs under readable names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        ("ticket-text-58", 58, "text", sample_ticket()),
        ("ticket-text-80", 80, "text", sample_ticket()),
        ("ticket-raster-58", 58, "raster", sample_ticket()),
        ("ticket-raster-80", 80, "raster", sample_ticket()),
        ("guide-text-80", 80, "text", sample_guide()),
        ("receipt-text-58", 58, "text", sample_receipt()),
    ]
    written = []
    with TemporaryDirectory() as tmp:
        for name, width, mode, layout in jobs:
            with VirtualPrinter(port=0, out_dir=Path(tmp) / name, width_mm=width) as vp:
                printer = open_printer(PrinterConfig("network", f"127.0.0.1:{vp.port}", mode, width))  # type: ignore[arg-type]
                if isinstance(layout, TicketLayout):
                    printer.print_ticket(layout)
                elif isinstance(layout, GuideSlip):
                    printer.print_guide(layout)
                else:
                    printer.print_receipt(layout)
                page = vp.wait_for_pages(1)[0]
                target = out_dir / f"{name}.png"
                shutil.copyfile(page, target)
                written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Write the sample PNGs into the folder given (default docs/img/tickets)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "docs/img/tickets")
    for path in print_samples(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
