"""`hall-sim printer`: run the virtual network receipt printer until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from printers.virtual.server import VirtualPrinter

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the virtual printer."""
    p = argparse.ArgumentParser(
        prog="hall-sim printer",
        description="虚拟网络小票打印机：把收到的 ESC/POS 数据画成 PNG。A virtual ESC/POS network printer that renders to PNG.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9100, help="TCP port (default 9100; 0 picks a free one)")
    p.add_argument("--out", default="printed", help="folder for the PNG pages (default ./printed)")
    p.add_argument("--width", type=int, choices=(58, 80), default=80, help="paper width in mm")
    p.add_argument("--no-chinese-default", action="store_true", help="start in code-page mode until FS &")
    p.add_argument("--paper-out", action="store_true", help="start with the paper out")
    p.add_argument("--paper-low", action="store_true", help="start with the paper near its end")
    p.add_argument("--cover-open", action="store_true", help="start with the cover open")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; SIGUSR1 toggles paper-out, SIGUSR2 toggles cover-open."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    printer = VirtualPrinter(
        args.host, args.port, args.out, args.width, not args.no_chinese_default, keep_documents=20
    )
    printer.paper_out, printer.paper_low, printer.cover_open = args.paper_out, args.paper_low, args.cover_open
    try:
        printer.start()
    except OSError as exc:
        print(
            f"无法监听 {args.host}:{args.port}（{exc}）/ cannot listen on {args.host}:{args.port}",
            file=sys.stderr,
        )
        return 2
    done = threading.Event()

    def toggle(signum: int, _frame: object) -> None:
        if signum == signal.SIGUSR1:
            printer.paper_out = not printer.paper_out
            print(f"缺纸 paper out: {printer.paper_out}", flush=True)
        else:
            printer.cover_open = not printer.cover_open
            print(f"开盖 cover open: {printer.cover_open}", flush=True)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, toggle)
        signal.signal(signal.SIGUSR2, toggle)
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(
        f"虚拟打印机已启动 {args.host}:{printer.port}，{args.width}mm，输出目录 {printer.out_dir}\n"
        f"Virtual printer on {args.host}:{printer.port}, {args.width} mm, pages -> {printer.out_dir} (Ctrl-C to stop)",
        flush=True,
    )
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        printer.stop()
    print(f"共打印 {len(printer.pages)} 张 / {len(printer.pages)} pages printed", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
