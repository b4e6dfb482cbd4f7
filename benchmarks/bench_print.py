"""Print speed through the virtual printer: print call -> last byte sent -> PNG rendered, per mode and width.

Run: .venv/bin/python benchmarks/bench_print.py [--rounds N]   (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from printers import PrinterConfig, open_printer
from printers.samples import sample_ticket
from printers.virtual import VirtualPrinter


def summary(values: list[float]) -> dict[str, float]:
    """Median, mean and worst of a list of seconds, in milliseconds."""
    ms = [v * 1000 for v in values]
    return {
        "median_ms": round(statistics.median(ms), 2),
        "mean_ms": round(statistics.mean(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def bench(mode: str, width: int, rounds: int) -> dict[str, object]:
    """Print `rounds` tickets and time each phase."""
    ticket = sample_ticket()
    render, sent, png = [], [], []
    with tempfile.TemporaryDirectory() as tmp, VirtualPrinter(port=0, out_dir=tmp, width_mm=width) as vp:
        printer = open_printer(PrinterConfig("network", f"127.0.0.1:{vp.port}", mode, width))  # type: ignore[arg-type]
        printer.print_ticket(ticket)  # warm fonts and glyph caches
        vp.wait_for_pages(1)
        for i in range(rounds):
            t0 = time.perf_counter()
            printer.render(ticket)
            render.append(time.perf_counter() - t0)
            start = time.monotonic()
            printer.print_ticket(ticket)
            sent.append(printer.last_sent_at - start)
            vp.wait_for_pages(i + 2, timeout=60)
            png.append(vp.page_times[i + 1] - start)
        job_bytes = len(printer.last_job)
    return {
        "mode": mode,
        "width_mm": width,
        "rounds": rounds,
        "job_bytes": job_bytes,
        "compose": summary(render),
        "call_to_last_byte_sent": summary(sent),
        "call_to_png_rendered": summary(png),
    }


def main() -> int:
    """Run every mode and width, print JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    results = [bench(mode, width, args.rounds) for mode in ("text", "raster") for width in (58, 80)]
    print(
        json.dumps(
            {"benchmark": "print_ticket_via_virtual_printer", "results": results},
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
