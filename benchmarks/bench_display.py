"""Hall display benchmark (not a test): what a 60-window, 16-queue hall costs the display's Qt thread.
Prints JSON.

    .venv/bin/python benchmarks/bench_display.py [--rounds 300] [--size 1280x720]

The real HallDisplay, offscreen, fed synthetic snapshots and calls (no server: the figures are the
screen's own work). Per snapshot re-render (every event batch of a busy hall brings one), per call
shown (current call, recent calls, tile, page wanted; voice off), per page turn: milliseconds, and
the None / True references a PySide6 build that leaks them loses per operation (6.12.0 on Python 3.11;
setup.py requires < 6.12).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WINDOWS = 60
GROUPS = "ABCDEFGHJKLMNPQR"


def snapshot(round_no: int) -> dict[str, Any]:
    """A snapshot of the large hall; every third window serves a ticket, counts move each round."""
    windows = []
    for n in range(1, WINDOWS + 1):
        busy = (n + round_no) % 3 == 0
        current = {"number": f"{GROUPS[n % 16]}{(n + round_no) % 1000:03d}"} if busy else None
        windows.append({"id": n, "number": n, "name": f"{n}号窗口", "status": "open", "current": current})
    groups = [
        {"prefix": p, "name": f"业务{p}", "waiting": (i * 7 + round_no) % 60, "estimated_wait_minutes": i * 3}
        for i, p in enumerate(GROUPS)
    ]
    return {"windows": windows, "groups": groups, "recent_calls": [], "last_seq": 0}


def timed(fn: Any, rounds: int) -> dict[str, float]:
    """Median and p99 milliseconds of fn(i) over rounds, and None / True references lost per call."""
    times = []
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(rounds):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "ms_p50": round(statistics.median(times), 3),
        "ms_p99": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
        "none_refs_lost_per_op": round((none_before - sys.getrefcount(None)) / rounds, 1),
        "true_refs_lost_per_op": round((true_before - sys.getrefcount(True)) / rounds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--size", default="1280x720")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))

    from PySide6.QtWidgets import QApplication

    from kiosk.app import build_context, close_context, create_screen
    from kiosk.config import KioskConfig, VoiceSettings
    from kiosk.ui.theme import apply_theme, fit_scale

    app = QApplication.instance() or QApplication([])
    apply_theme(app, fit_scale(w, h))
    with tempfile.TemporaryDirectory() as tmp:
        # Nothing listens on port 9: the display's own load fails quietly and retries; we feed it.
        cfg = KioskConfig(
            role="display",
            hall="big-hall",
            server="http://127.0.0.1:9",
            data_dir=tmp,
            voice=VoiceSettings(enabled=False),
        )
        ctx = build_context(cfg)
        d = create_screen(ctx)
        d.resize(w, h)
        d.show()
        d.apply_snapshot(snapshot(0))
        app.processEvents()
        result: dict[str, Any] = {"size": args.size, "windows": WINDOWS, "groups": len(GROUPS)}

        def render(i: int) -> None:
            d.apply_snapshot(snapshot(i))
            app.processEvents()

        def call(i: int) -> None:
            n = i % WINDOWS + 1
            d.show_call(
                {"number": f"A{i % 1000:03d}", "window_number": n, "window_id": n, "ticket": {}}, False
            )
            app.processEvents()

        def turn(_i: int) -> None:
            d.win_grid.turn_page()
            d.group_grid.turn_page()
            app.processEvents()

        result["snapshot_render"] = timed(render, args.rounds)
        result["call_shown"] = timed(call, args.rounds)
        result["page_turn"] = timed(turn, args.rounds)
        result["pages"] = {"windows": d.win_grid.pages, "groups": d.group_grid.pages}
        result["per_page"] = {"windows": d.win_grid.per_page, "groups": d.group_grid.per_page}
        d.close()
        close_context(ctx)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
