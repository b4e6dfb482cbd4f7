"""Benchmark: card placed (simulator) -> IdCard parsed by the real driver, through a pty; prints JSON.

A pty has no baud limit, so the raw figures show the driver's own cost. With --pace the simulator
sends reply bytes at the wire speed of 115200 8N1, and the theoretical wire time is printed beside.
Run: .venv/bin/python benchmarks/bench_idcard.py [--n 200] [--paced-n 30] [--watch-n 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.const import BITS_PER_BYTE_8N1, DEFAULT_BAUD
from devices.idcard import IdCard, SamSerialReader
from devices.sim.cards import sample_card
from devices.sim.idcard import IdCardSimulator

logger = logging.getLogger(__name__)

REQUEST_BYTES = 10  # every request frame here: header 5 + LEN 2 + CMD PARA + CHK
FIND_REPLY_BYTES = 14
SELECT_REPLY_BYTES = 18
BASE_REPLY_BYTES = 1295
FINGERPRINT_REPLY_BYTES = 2321


def wire_ms(n_bytes: int, baud: int = DEFAULT_BAUD) -> float:
    """Milliseconds n bytes take on an 8N1 line."""
    return round(n_bytes * BITS_PER_BYTE_8N1 / baud * 1000, 2)


def summary(samples: list[float]) -> dict[str, float | int]:
    """p50/p99/mean/min/max in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(p99, 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "min_ms": round(ms[0], 3),
        "max_ms": round(ms[-1], 3),
    }


def place_to_parsed(n: int, *, fingerprint: bool, pace: bool) -> list[float]:
    """Place a card, then find + select + read + parse right away; n timings."""
    kind = "fingerprint" if fingerprint else "resident"
    card = sample_card(kind)
    out: list[float] = []
    with (
        IdCardSimulator(pace_baud=pace) as sim,
        SamSerialReader(sim.port, fingerprint=fingerprint, poll_interval=0.3) as reader,
    ):
        for _ in range(n):
            sim.remove()
            t0 = time.perf_counter()
            sim.place(card)
            if not reader.probe():
                raise RuntimeError("simulator did not present the card")
            parsed = reader.read()
            out.append(time.perf_counter() - t0)
            if parsed.id_number != card.id_number:
                raise RuntimeError("wrong card parsed")
    return out


def watch_latency(n: int) -> list[float]:
    """Placement -> on_card through watch() at the production poll interval (0.3 s)."""
    got = threading.Event()
    seen: list[float] = []
    out: list[float] = []

    def on_card(_card: IdCard) -> None:
        seen.append(time.perf_counter())
        got.set()

    with IdCardSimulator() as sim, SamSerialReader(sim.port) as reader:
        stop = threading.Event()
        t = threading.Thread(target=reader.watch, args=(on_card, None, stop), daemon=True)
        t.start()
        try:
            for i in range(n):
                # Spread placements over the poll cycle.
                time.sleep(0.05 + 0.3 * ((i * 7) % 10) / 10)
                got.clear()
                t0 = time.perf_counter()
                sim.place(sample_card("resident"))
                if not got.wait(3.0):
                    raise RuntimeError("watch did not report the card")
                out.append(seen[-1] - t0)
                sim.remove()
                time.sleep(0.35)  # let a poll see the empty field
        finally:
            stop.set()
            t.join(timeout=5)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print one JSON document."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200, help="reads per unpaced case")
    ap.add_argument("--paced-n", type=int, default=30, help="reads per paced case")
    ap.add_argument("--watch-n", type=int, default=10, help="placements through watch()")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    base_tx = 3 * REQUEST_BYTES + FIND_REPLY_BYTES + SELECT_REPLY_BYTES
    result = {
        "benchmark": "idcard_place_to_parsed",
        "python": platform.python_version(),
        "note": "pty has no baud limit; 'paced' cases pace reply bytes at 115200 8N1 in the simulator",
        "theoretical_wire_ms_at_115200": {
            "base_reply_1295_bytes": wire_ms(BASE_REPLY_BYTES),
            "fingerprint_reply_2321_bytes": wire_ms(FINGERPRINT_REPLY_BYTES),
            "base_transaction_find_select_read": wire_ms(base_tx + BASE_REPLY_BYTES),
            "fingerprint_transaction_find_select_read": wire_ms(base_tx + FINGERPRINT_REPLY_BYTES),
        },
        "pty_unpaced": {
            "base": summary(place_to_parsed(args.n, fingerprint=False, pace=False)),
            "fingerprint": summary(place_to_parsed(args.n, fingerprint=True, pace=False)),
        },
        "pty_paced_115200": {
            "base": summary(place_to_parsed(args.paced_n, fingerprint=False, pace=True)),
            "fingerprint": summary(place_to_parsed(args.paced_n, fingerprint=True, pace=True)),
        },
        "watch_poll_300ms_place_to_on_card": summary(watch_latency(args.watch_n)),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
