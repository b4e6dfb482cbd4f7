"""The demo: a demo hall server, the ID-card and printer simulators, and a window of every role.

    .venv/bin/python -m kiosk.demo [--dir DIR] [--screenshots-only]

With a display ($DISPLAY or $WAYLAND_DISPLAY) the windows open on it. Without one (a server, CI) the
roles run offscreen: a visitor is played through (ID card -> printed ticket -> call -> voice -> rating),
every screen is written to DIR/screenshots as PNG, the virtual printer's tickets to DIR/printer, the
announcements to DIR/voice as WAV, and the server keeps running (dashboard and phone pages in a
browser) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk import const

logger = logging.getLogger(__name__)

ROLE_SHOTS = [
    ("visitor", None, "visitor-home"),
    ("visitor", "identify", "visitor-identify"),
    ("visitor", "ticket", "visitor-ticket"),
    ("visitor", "guide", "visitor-guide"),
    ("visitor", "elderly", "visitor-elderly"),
    ("clerk", None, "clerk"),
    ("display", None, "display"),
    ("rating", None, "rating-idle"),
    ("rating", "rate", "rating-rate"),
    ("rating", "reasons", "rating-reasons"),
    ("village", None, "village-visitor"),
    ("village", "clerk", "village-clerk"),
]


def headless() -> bool:
    """True when there is no display to open windows on."""
    return not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags of the demo."""
    p = argparse.ArgumentParser(prog="python -m kiosk.demo", description="政务服务大厅演示")
    p.add_argument("--dir", default="demo-output", help="where screenshots, printed tickets and voice go")
    p.add_argument("--port", type=int, default=0, help="hall server port (default: a free one)")
    p.add_argument("--screenshots-only", action="store_true", help="write the screenshots and exit")
    p.add_argument("--shots-dir", help="screenshots folder (default DIR/screenshots)")
    return p.parse_args(argv)


def _quiet_offscreen_warnings() -> None:
    """Drop the offscreen platform's one harmless warning, printed once per window, from the demo's output."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode: Any, context: Any, message: str) -> None:
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(handler)


def main(argv: list[str] | None = None) -> int:
    """Run the demo."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if headless():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    out = Path(args.dir).resolve()
    shots = Path(args.shots_dir).resolve() if args.shots_dir else out / "screenshots"
    for sub in ("printer", "voice"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    shots.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from kiosk.app import Simulators, build_context, close_context, create_screen, screenshot, wait_ready
    from kiosk.collect import MainThreadCollector
    from kiosk.config import KioskConfig, PrinterSettings, VoiceSettings
    from kiosk.demo_server import DemoServer, show_page
    from kiosk.ui.theme import apply_theme

    print("启动演示服务器 Starting the demo hall server ...", flush=True)
    server = DemoServer.start_temporary(out / "server", args.port or None)
    sims = Simulators()
    id_url = sims.start_idcard()
    printer_target = sims.start_printer(out / "printer", 80)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    collector = MainThreadCollector(app)  # noqa: F841 - lives as long as the app runs
    if headless():
        _quiet_offscreen_warnings()
    apply_theme(app)
    roles: dict[str, tuple[Any, Any]] = {}
    try:
        for hall in ("bz-city", "bz-tj-nsh-qs"):
            server.populate(hall)

        def config(role: str, data: str) -> KioskConfig:
            base = KioskConfig(
                data_dir=str(out / "machines" / data),
                voice=VoiceSettings(speaker="auto" if not headless() else f"dir:{out / 'voice'}"),
            )
            return replace(base, **server.overrides_for(role))

        visitor_cfg = replace(
            config("visitor", "visitor"),
            id_reader=id_url,
            printer=PrinterSettings("network", printer_target, "raster", 80),
        )
        cfgs = {
            "visitor": visitor_cfg,
            "clerk": config("clerk", "clerk"),
            "display": config("display", "display"),
            "rating": config("rating", "rating"),
            "village": config("village", "village"),
        }
        for role, cfg in cfgs.items():
            ctx = build_context(cfg, sims if role == "visitor" else None)
            widget = create_screen(ctx)
            widget.setWindowTitle(f"演示 · {role}")
            widget.resize(1920, 1080)
            widget.show()
            roles[role] = (ctx, widget)
        for _ctx, widget in roles.values():
            wait_ready(widget, settle_s=0.2)

        def shoot_all() -> list[Path]:
            paths = []
            for role, page, name in ROLE_SHOTS:
                widget = roles[role][1]
                if role == "visitor":
                    widget.go_home()
                if role == "rating":
                    widget.go_idle()
                if role == "village":
                    widget.show_tab("visitor")
                show_page(widget, role, page)
                wait_ready(widget, settle_s=1.2)
                paths.append(screenshot(widget, shots / f"{name}.png"))
            return paths

        paths = shoot_all()
        if args.screenshots_only:
            print("\n".join(str(p) for p in paths))
            return 0
        _play_visitor(roles, sims)
        _print_guide(server, out, shots, paths)
        if headless():
            # Keep everything alive: the server for browsers, the roles so the simulators keep working.
            signal.signal(signal.SIGINT, lambda *_: app.quit())
            signal.signal(signal.SIGTERM, lambda *_: app.quit())
            from PySide6.QtCore import QTimer

            keepalive = QTimer()
            keepalive.timeout.connect(lambda: None)  # lets Python see Ctrl-C between Qt events
            keepalive.start(300)
            app.exec()
        else:
            signal.signal(signal.SIGINT, lambda *_: app.quit())
            app.exec()
        return 0
    finally:
        for ctx, widget in roles.values():
            widget.close()
            close_context(ctx)
        sims.stop()
        server.stop()


def _play_visitor(roles: dict[str, tuple[Any, Any]], sims: Any) -> None:
    """One visitor end to end through the simulators, so the folders have something in them."""
    from PySide6.QtCore import QEventLoop, QTimer

    from devices.sim.cards import sample_card

    def wait(cond: Any, seconds: float = 20.0) -> bool:
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: cond() and loop.quit())
        timer.start(100)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        timer.stop()
        return bool(cond())

    visitor, clerk, display, rating = (roles[r][1] for r in ("visitor", "clerk", "display", "rating"))
    visitor.go_home()
    svc = next((s for s in visitor.services if s.get("prefix") == "A"), visitor.services[0])
    visitor.choose_service(svc)
    issued: list[dict[str, Any]] = []
    visitor.ticket_issued.connect(issued.append)
    sims.idcard.place(sample_card("elderly"))
    if not wait(lambda: bool(issued)):
        print("演示：取号未完成 (ticket not issued)", flush=True)
        return
    ticket = issued[0]
    green = ticket.get("green_reason")
    channel = f"（绿色通道：{const.GREEN_REASON_ZH.get(green, green)}）" if green else ""
    print(f"演示：刷身份证取号 {ticket['number']}{channel}，号票打印中", flush=True)
    wait(lambda: bool(sims.printer.pages), 15)
    sims.idcard.remove()
    wait(lambda: not clerk.busy, 10)
    if clerk.current:  # the window is still serving the demo's earlier visitor: finish that first
        clerk.do_op("finish")
        wait(lambda: not clerk.busy, 10)
        wait(lambda: rating.pages.currentWidget() is rating.rate_page, 10)
        rating.choose_level(4)
    clerk.do_op("call_chosen", {"ticket_id": ticket["id"]})
    if wait(lambda: ticket["number"] in display.shown_calls, 20):
        print(
            f"演示：{clerk.window.get('number')}号窗口呼叫 {ticket['number']}，综合屏已显示并播报", flush=True
        )
    else:
        print(
            f"演示：呼叫 {ticket['number']} 未在综合屏出现 (call not shown: {clerk.message.text()})",
            flush=True,
        )
    for op in ("start", "finish"):
        wait(lambda: not clerk.busy, 10)
        clerk.do_op(op)
    wait(lambda: not clerk.busy, 10)
    if wait(lambda: rating.pages.currentWidget() is rating.rate_page, 15):
        rating.choose_level(5)
        wait(lambda: not rating.outbox.pending(), 15)
        print("演示：窗口办结，评价器请求评价，访客评价“非常满意”并已上传", flush=True)


def _print_guide(server: Any, out: Path, shots: Path, paths: list[Path]) -> None:
    tokens = server.tokens
    city = tokens["halls"]["bz-city"]
    lines = [
        "",
        "=" * 72,
        "政务服务大厅演示已启动 The demo is running",
        f"  服务器 Server:        {server.url}  (API {server.url}/api/v1, 日志 {server.data_dir}/server.log)",
        f"  管理驾驶舱 Dashboard: {server.url}/dashboard",
        f"  手机预约 Booking:     {server.url}/book/bz-city",
        f"  屏幕截图 Screenshots: {shots}  ({len(paths)} PNG)",
        f"  号票 Printed tickets: {out / 'printer'}  (虚拟打印机 PNG)",
        f"  语音 Voice:           {out / 'voice'}  (无声卡时写成 WAV)",
        f"  令牌 Tokens:          {server.data_dir / 'demo-tokens.json'}",
        f"    kiosk   {city['kiosk']}",
        f"    display {city['display']}",
        f"    rating  {city['rating']['token']} (window {city['rating']['window_id']})",
        "  窗口登录 Clerk log-ins: "
        + ", ".join(f"{c['username']}/{c['password']}" for c in city["clerks"][:3]),
        "  管理员 Managers: "
        + ", ".join(f"{m.get('username')}/{m.get('password')}" for m in tokens.get("managers", [])[:2]),
    ]
    if headless():
        lines += [
            "  没有显示器：各终端在后台运行（offscreen），请查看上面的截图文件夹。",
            "  No display: the role windows run offscreen; look at the screenshots folder.",
            "  To see live windows: run under a desktop, or `xvfb-run -a .venv/bin/python -m kiosk.demo` + VNC.",
        ]
    lines += ["按 Ctrl-C 结束 Press Ctrl-C to stop.", "=" * 72]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
