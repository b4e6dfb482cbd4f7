"""`hall-kiosk`: one program, a role per machine; --screenshot renders a role's screen to PNG."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from kiosk import const

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Flags; every one overrides the config file."""
    p = argparse.ArgumentParser(
        prog="hall-kiosk",
        description="政务服务大厅终端：自助取号机、窗口终端、综合屏、评价器、村级一体机",
    )
    p.add_argument("--config", help="TOML or JSON file with this machine's settings")
    p.add_argument("--role", choices=const.ROLES)
    p.add_argument("--hall", help="hall id, e.g. bz-city")
    p.add_argument("--window", dest="window_id", type=int, help="window id (clerk, rating)")
    p.add_argument("--server", help="http://host:port, or 'zeroconf' to find it on the LAN")
    p.add_argument("--token", help="device token (kiosk / display / rating)")
    p.add_argument(
        "--enrol",
        metavar="CODE",
        help="first start: exchange the enrolment code from the managers' device page for this machine's token",
    )
    p.add_argument(
        "--rating-token", dest="rating_token", help="village station: the token of its rating terminal"
    )
    p.add_argument("--username", help="clerk user name (pre-filled at log-in)")
    p.add_argument("--password", help="clerk password (auto log-in; for unattended demos only)")
    p.add_argument("--id-reader", dest="id_reader", help="serial:///dev/ttyUSB0?baud=115200, pcsc://, or sim")
    p.add_argument("--camera", help="index:0, file:clip.mp4, image:doc.jpg, synthetic:face")
    p.add_argument(
        "--printer-kind", dest="printer_kind", help="network|usb|serial|cups|file|dummy|virtual|none"
    )
    p.add_argument("--printer-target", dest="printer_target")
    p.add_argument("--printer-mode", dest="printer_mode", choices=("text", "raster"))
    p.add_argument("--printer-width", dest="printer_width_mm", type=int, choices=(58, 80))
    p.add_argument("--elderly", dest="elderly_mode", action="store_true", default=None, help="larger text")
    p.add_argument("--idle-timeout", dest="idle_timeout_s", type=int)
    p.add_argument("--voice-repeats", dest="voice_repeats", type=int)
    p.add_argument(
        "--speaker", dest="voice_speaker", help="auto | none | dir:FOLDER | aplay | paplay | pw-play"
    )
    p.add_argument("--data-dir", dest="data_dir")
    p.add_argument("--screenshot", metavar="FILE", help="render the role's first screen to a PNG and exit")
    p.add_argument(
        "--page",
        help="screenshot a sub-page: visitor: home|keyboard|identify|ticket|guide|lookup|elderly; "
        "rating: idle|rate|reasons; village: visitor|clerk|rating",
    )
    p.add_argument(
        "--demo-data", action="store_true", help="start a temporary demo hall server for the screen"
    )
    p.add_argument("--size", default=f"{const.DESIGN_WIDTH}x{const.DESIGN_HEIGHT}", help="window size WxH")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--scale", type=float, help="UI scale (default: fitted to the screen, 1.0 = 1920x1080)")
    p.add_argument(
        "--bench", action="store_true", help=argparse.SUPPRESS
    )  # benchmarks: JSON when ready, exit
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = [
        "role",
        "hall",
        "window_id",
        "server",
        "token",
        "username",
        "password",
        "id_reader",
        "camera",
        "printer_kind",
        "printer_target",
        "printer_mode",
        "printer_width_mm",
        "elderly_mode",
        "idle_timeout_s",
        "voice_repeats",
        "voice_speaker",
        "data_dir",
    ]
    out = {k: getattr(args, k) for k in keys}
    out["tokens"] = {"rating": args.rating_token} if args.rating_token else None
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hall-kiosk` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["voice-pack"]:
        from kiosk.voice.packbuild import main as voice_pack_main

        return voice_pack_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from kiosk.config import load_config, with_enrolment
    from kiosk.errors import KioskError

    demo = None
    try:
        overrides = _overrides(args)
        if args.demo_data:
            from kiosk.demo_server import DemoServer

            demo = DemoServer.start_temporary()
            demo.populate(demo.overrides_for(args.role or "visitor", args.hall)["hall"])
            overrides = {
                **demo.overrides_for(args.role or "visitor", args.hall),
                **{k: v for k, v in overrides.items() if v is not None},
            }
        cfg = load_config(args.config, overrides)
        if args.enrol:
            cfg = enrol(cfg, args.enrol)
        cfg = with_enrolment(cfg)
        if not args.data_dir and cfg.data_dir == "kiosk-data" and args.screenshot:
            from dataclasses import replace

            from kiosk.app import default_data_dir

            cfg = replace(cfg, data_dir=default_data_dir(cfg.role))
        return run(cfg, args, demo)
    except KioskError as exc:
        print(f"错误：{exc.message_zh}\nError: {exc.message_en}", file=sys.stderr)
        return 2
    finally:
        if demo is not None:
            demo.stop()


def enrol(cfg: Any, code: str) -> Any:
    """First start: the code for this machine's device token, kept in its data folder (before any UI)."""
    from pathlib import Path

    from kiosk.enrolment import client_for_enrolment, enrol_device

    enrolled, answer = enrol_device(cfg, client_for_enrolment(cfg), code)
    where = Path(enrolled.data_dir) / const.ENROLLED_FILE
    print(f"本机已登记：{answer.label}（{answer.role}），令牌保存在 {where}")
    return enrolled


def run(cfg: Any, args: argparse.Namespace, demo: Any = None) -> int:
    """Start Qt, build the role screen, then either screenshot it or run the event loop."""
    from PySide6.QtWidgets import QApplication

    from kiosk.app import build_context, close_context, create_screen, screenshot, wait_ready
    from kiosk.qt_thread_gc import MainThreadCollector
    from kiosk.ui.theme import apply_theme, fit_scale

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("hall-kiosk")
    collector = MainThreadCollector(app)  # noqa: F841 - lives as long as the app runs
    w, h = (int(x) for x in args.size.lower().split("x"))
    if args.fullscreen and app.primaryScreen() is not None:
        geo = app.primaryScreen().size()
        w, h = geo.width(), geo.height()
    scale = args.scale or fit_scale(w, h)
    apply_theme(app, scale)
    ctx = build_context(cfg)
    widget = create_screen(ctx)
    try:
        if args.bench:
            import json
            import time

            widget.resize(w, h)
            widget.show()
            ok = wait_ready(widget, settle_s=0.0)
            print(json.dumps({"role": cfg.role, "ready": ok, "ready_at": time.time(), "rss_kb": _rss_kb()}))
            return 0
        if args.screenshot:
            widget.resize(w, h)
            widget.show()
            wait_ready(widget)
            if demo is not None or args.page:
                from kiosk.demo_server import show_page

                show_page(widget, cfg.role, args.page)
                wait_ready(widget, settle_s=1.5)
            path = screenshot(widget, args.screenshot, (w, h))
            print(f"screenshot: {path}")
            return 0
        widget.setWindowTitle(f"{const.ROLE_NAMES_ZH[cfg.role]} - {cfg.hall}")
        widget.resize(w, h)
        if args.fullscreen:
            widget.showFullScreen()
        else:
            widget.show()
        signal.signal(signal.SIGINT, lambda *_: app.quit())
        return app.exec()
    finally:
        widget.close()
        close_context(ctx)


def _rss_kb() -> int:
    """Resident memory of this process (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


if __name__ == "__main__":
    sys.exit(main())
