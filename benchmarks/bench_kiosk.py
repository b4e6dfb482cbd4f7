"""Kiosk benchmarks (not a test): cold start to first screen per role, ID card placed -> ticket printed
through the simulators, RSS of each role after start. Prints JSON.

    .venv/bin/python benchmarks/bench_kiosk.py [--rounds 5]

Everything runs on this machine: a demo hall server (subprocess), the ID-card pty simulator and the
virtual TCP printer; the role processes compete with the server for the same CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROLES = ("visitor", "clerk", "display", "rating", "village")


def cold_start(server, role: str, tmp: Path) -> dict:
    """Start `hall-kiosk --role R` in a fresh process; seconds until its first screen has its data."""
    ov = server.overrides_for(role)
    args = [
        sys.executable,
        "-m",
        "kiosk.cli",
        "--bench",
        "--role",
        role,
        "--hall",
        ov["hall"],
        "--server",
        ov["server"],
    ]
    args += ["--data-dir", str(tmp / role), "--speaker", "none"]
    for key, flag in (
        ("token", "--token"),
        ("window_id", "--window"),
        ("username", "--username"),
        ("password", "--password"),
    ):
        if ov.get(key) is not None:
            args += [flag, str(ov[key])]
    if role == "village":
        cfg = tmp / "village.json"
        cfg.write_text(json.dumps({"tokens": ov["tokens"]}), encoding="utf-8")
        args += ["--config", str(cfg)]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    t0 = time.time()
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
    if not line:
        return {"role": role, "error": out.stderr[-500:]}
    data = json.loads(line)
    return {
        "role": role,
        "ready": data["ready"],
        "cold_start_s": round(data["ready_at"] - t0, 3),
        "rss_mb": round(data["rss_kb"] / 1024, 1),
    }


def card_to_ticket(server, tmp: Path, rounds: int) -> dict:
    """In one visitor kiosk: place the ID card, measure until the virtual printer has the ticket."""
    from dataclasses import replace

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from devices.sim.cards import sample_card
    from kiosk.app import Simulators, build_context, close_context, create_screen, wait_ready
    from kiosk.config import KioskConfig, PrinterSettings
    from kiosk.ui.theme import apply_theme

    app = QApplication.instance() or QApplication([])
    apply_theme(app)
    sims = Simulators()
    id_url = sims.start_idcard()
    target = sims.start_printer(tmp / "printer", 80)
    cfg = replace(KioskConfig(data_dir=str(tmp / "bench-visitor")), **server.overrides_for("visitor"))
    cfg = replace(cfg, id_reader=id_url, printer=PrinterSettings("network", target, "raster", 80))
    ctx = build_context(cfg, sims)
    widget = create_screen(ctx)
    widget.resize(1920, 1080)
    widget.show()
    wait_ready(widget, settle_s=0.3)

    def spin_until(cond, seconds: float) -> bool:
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: cond() and loop.quit())
        timer.start(5)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        timer.stop()
        return bool(cond())

    times, issue_times = [], []
    try:
        svc = widget.services[0]
        for i in range(rounds):
            widget.choose_service(svc)
            done: list[bool] = []
            issued: list[float] = []
            widget.print_finished.connect(done.append)
            widget.ticket_issued.connect(lambda _t, issued=issued: issued.append(time.perf_counter()))
            pages_before = len(sims.printer.pages)
            t0 = time.perf_counter()
            sims.idcard.place(sample_card("resident" if i % 2 == 0 else "elderly"))
            ok = spin_until(lambda n=pages_before: len(sims.printer.pages) > n, 30)
            t1 = time.perf_counter()
            widget.print_finished.disconnect()
            widget.ticket_issued.disconnect()
            if ok:
                times.append(t1 - t0)
                if issued:
                    issue_times.append(issued[0] - t0)
            sims.idcard.remove()
            spin_until(lambda: False, 0.8)  # the reader must see the empty field before the next card
            widget.go_home()
    finally:
        widget.close()
        close_context(ctx)
        sims.stop()
    return {
        "rounds": rounds,
        "printed": len(times),
        "card_to_printed_s_p50": round(statistics.median(times), 3) if times else None,
        "card_to_printed_s_max": round(max(times), 3) if times else None,
        "card_to_ticket_on_screen_s_p50": round(statistics.median(issue_times), 3) if issue_times else None,
        "note": "card placement includes the reader's 300 ms poll interval; printing is raster mode over TCP",
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    from kiosk.demo_server import DemoServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-kiosk-"))
    server = DemoServer.start_temporary(tmp / "server")
    try:
        for hall in ("bz-city", "bz-tj-nsh-qs"):
            server.populate(hall)
        starts = [cold_start(server, role, tmp) for role in ROLES]
        flow = card_to_ticket(server, tmp, args.rounds)
    finally:
        server.stop()
    print(
        json.dumps(
            {"benchmark": "kiosk", "cpus": os.cpu_count(), "cold_start": starts, "card_to_ticket": flow},
            ensure_ascii=False,
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
