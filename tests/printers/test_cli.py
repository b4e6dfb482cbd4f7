"""`hall-sim printer` (printers.virtual.cli) as a real process, and the sample script."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from printers import PrinterConfig, TicketLayout, open_printer
from printers.samples import print_samples
from tests.printers.conftest import decode_qr


def test_virtual_printer_process_prints_pngs_and_plays_paper_out(
    tmp_path: Path, ticket: TicketLayout
) -> None:
    out = tmp_path / "printed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "printers.virtual.cli", "--port", "0", "--out", str(out), "--width", "58"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        assert "虚拟打印机已启动" in banner
        assert "Virtual printer on" in proc.stdout.readline()
        printer = open_printer(PrinterConfig("network", f"127.0.0.1:{port}", "text", 58))
        printer.print_ticket(ticket)
        deadline = time.monotonic() + 10
        while not (out / "0001.png").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Image.open(out / "0001.png").width == 464  # 58 mm of paper with its margins
        proc.send_signal(signal.SIGUSR1)  # paper out
        assert "paper out: True" in proc.stdout.readline()
        assert printer.status().paper_out
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "共打印 1 张" in rest


def test_sample_script_writes_every_sample(tmp_path: Path) -> None:
    written = print_samples(tmp_path)
    names = {p.name for p in written}
    assert {
        "ticket-text-58.png",
        "ticket-text-80.png",
        "ticket-raster-58.png",
        "ticket-raster-80.png",
    } <= names
    assert "guide-text-80.png" in names
    for path in written:
        if path.name.startswith("ticket"):
            assert decode_qr(path).startswith("http://hall.bazhong.local:8000/t/")
