"""The demo: a demo hall server, the ID-card and printer simulators, and a window of every role.

    .venv/bin/python -m kiosk.demo [--dir DIR] [--port P] [--once] [--screenshots-only]

With a display ($DISPLAY or $WAYLAND_DISPLAY) the windows open on it. Without one (a server, CI) the
roles run offscreen: a visitor is played through (ID card -> printed ticket -> call -> voice -> rating),
then every screen is written to DIR/screenshots as PNG (showing the demo's own ticket), the ticket
the virtual printer printed to DIR/printer/ticket-<number>.png, each announcement to DIR/voice as one
WAV named by what it says (call-A005-window-1.wav), and the server keeps running (dashboard and phone
pages in a browser, more `hall-kiosk` windows against it) until Ctrl-C; --once exits instead.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import wave
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk import const

if TYPE_CHECKING:
    from wire import TicketOut

logger = logging.getLogger(__name__)

ROLE_SHOTS = [
    ("visitor", None, "visitor-home"),
    ("visitor", "identify", "visitor-identify"),
    ("visitor", "ticket", "visitor-ticket"),
    ("visitor", "guide", "visitor-guide"),
    ("visitor", "elderly", "visitor-elderly"),
    ("visitor", "keyboard", "visitor-keyboard"),
    ("visitor", "ticket", "visitor-ticket-countdown"),
    ("visitor", "lookup", "visitor-lookup"),
    ("clerk", None, "clerk"),
    ("display", None, "display"),
    ("rating", None, "rating-idle"),
    ("rating", "rate", "rating-rate"),
    ("rating", "reasons", "rating-reasons"),
    ("village", None, "village-visitor"),
    ("village", "clerk", "village-clerk"),
    ("village", "locked", "village-locked"),
]


def headless() -> bool:
    """True when there is no display to open windows on."""
    return not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Flags of the demo."""
    p = argparse.ArgumentParser(prog="python -m kiosk.demo", description="政务服务大厅演示")
    p.add_argument("--dir", default="demo-output", help="where screenshots, printed tickets and voice go")
    p.add_argument("--port", type=int, default=0, help="hall server port (default: a free one)")
    p.add_argument(
        "--screenshots-only", action="store_true", help="write the screenshots (no play-through) and exit"
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="play the visitor through, write everything, print the guide, exit",
    )
    p.add_argument("--shots-dir", help="screenshots folder (default DIR/screenshots)")
    p.add_argument(
        "--network",
        action="store_true",
        help="the network demo instead: a city server and a village station, the link cut and restored "
        "(screenshots in DIR/network; kiosk/demo_network.py)",
    )
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
    if args.network:
        from kiosk import demo_network

        return demo_network.main(args)
    if headless():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    out = Path(args.dir).resolve()
    shots = Path(args.shots_dir).resolve() if args.shots_dir else out / "screenshots"
    for sub, pattern in (("printer", "*.png"), ("voice", "*.wav")):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in (out / sub).glob(pattern):  # a previous run's tickets and voice would mislead
            stale.unlink()
    shots.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from kiosk.app import Simulators, build_context, close_context, create_screen, screenshot, wait_ready
    from kiosk.config import KioskConfig, PrinterSettings, VoiceSettings
    from kiosk.demo_server import DemoServer, show_page
    from kiosk.qt_thread_gc import MainThreadCollector
    from kiosk.ui.theme import apply_theme
    from kiosk.voice.speaker import SilentSpeaker

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
    voice = VoiceFolder(out / "voice") if headless() else None
    roles: dict[str, tuple[Any, Any]] = {}
    try:
        for hall in ("bz-city", "bz-tj-nsh-qs"):
            server.populate(hall)

        def config(role: str, data: str) -> KioskConfig:
            base = KioskConfig(data_dir=str(out / "machines" / data), voice=VoiceSettings(speaker="auto"))
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
            # The voice folder keeps the display's calls; the visitor's prompts are not recorded
            # (headless, they go nowhere rather than to a player with no sound card).
            speaker = voice if role == "display" else (SilentSpeaker() if voice is not None else None)
            widget = create_screen(ctx, speaker=speaker)
            if voice is not None and role == "display" and ctx.extras.get("announcer") is not None:
                voice.follow(ctx.extras["announcer"])
            widget.setWindowTitle(f"演示 · {role}")
            widget.resize(1920, 1080)
            widget.show()
            roles[role] = (ctx, widget)
        for _ctx, widget in roles.values():
            wait_ready(widget, settle_s=0.2)

        def shoot_all(ticket: TicketOut | None) -> list[Path]:
            paths = []
            for role, page, name in ROLE_SHOTS:
                widget = roles[role][1]
                if role == "visitor":
                    widget.end_session()
                if role == "rating":
                    widget.go_idle()
                if role == "village":
                    widget.show_tab("visitor")
                show_page(widget, role, page, ticket)
                wait_ready(widget, settle_s=1.2)
                paths.append(screenshot(widget, shots / f"{name}.png"))
            return paths

        if args.screenshots_only:
            print("\n".join(str(p) for p in shoot_all(None)))
            return 0
        played = _play_visitor(roles, sims, out / "printer")
        if voice is not None:
            announcer = roles["display"][0].extras.get("announcer")
            if announcer is not None:
                announcer.wait_idle(30)
        paths = shoot_all(played.ticket if played else None)
        print(
            _guide(server, out, shots, paths, played, printer_target, keep_running=not args.once),
            flush=True,
        )
        if args.once:
            return 0
        signal.signal(signal.SIGINT, lambda *_: app.quit())
        signal.signal(signal.SIGTERM, lambda *_: app.quit())
        if headless():
            # Keep everything alive: the server for browsers, the roles so the simulators keep working.
            from PySide6.QtCore import QTimer

            keepalive = QTimer()
            keepalive.timeout.connect(lambda: None)  # lets Python see Ctrl-C between Qt events
            keepalive.start(300)
        app.exec()
        return 0
    finally:
        for ctx, widget in roles.values():
            widget.close()
            close_context(ctx)
        sims.stop()
        server.stop()


# -- voice: one file per announcement, named by what it says --------------------------------------


def voice_file_stem(text: str) -> str:
    """'请A005号到1号窗口办理' -> 'call-A005-window-1'; any other text, sanitized for a file name."""
    m = re.fullmatch(r"请(\w+?)号到(\w+?)号窗口办理", text.strip())
    if m:
        return f"call-{m.group(1)}-window-{m.group(2)}"
    stem = re.sub(r"[^\w-]+", "-", text).strip("-")[:60]
    return stem or "announcement"


def join_wavs(parts: list[bytes]) -> bytes:
    """Concatenate 16-bit PCM WAVs into one mono WAV at the highest rate among them."""
    from array import array

    decoded: list[tuple[int, array[int]]] = []
    for data in parts:
        with wave.open(io.BytesIO(data), "rb") as w:
            ch, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
        if width != 2:
            logger.warning("voice part with %d-byte samples skipped", width)
            continue
        samples = array("h")
        samples.frombytes(raw[: len(raw) // 2 * 2])
        if sys.byteorder != "little":
            samples.byteswap()
        decoded.append((rate, samples[::ch] if ch > 1 else samples))
    rate = max((r for r, _ in decoded), default=22050)
    joined = array("h")
    for r, samples in decoded:
        if r == rate:
            joined.extend(samples)
        else:  # nearest-sample resampling: good enough for listening to a demo
            n = len(samples) * rate // r
            joined.extend(samples[i * r // rate] for i in range(n))
    if sys.byteorder != "little":
        joined.byteswap()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(joined.tobytes())
    return buf.getvalue()


class VoiceFolder:
    """The headless demo's speaker: collects what one announcement plays (chime, speech, gap, speech)
    and writes it as one WAV named by its text (call-A005-window-1.wav) when the announcer says it
    is spoken. (A `dir:` speaker writes every piece apart, the 0.6 s silent gap included.)"""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self._parts: list[bytes] = []
        self._lock = threading.Lock()

    def play(self, wav: bytes) -> None:
        """Keep the piece until its announcement is complete."""
        with self._lock:
            self._parts.append(wav)

    def follow(self, announcer: Any) -> None:
        """Write a file each time `announcer` finishes an announcement."""
        previous = announcer.on_spoken

        def spoken(a: Any) -> None:
            self.finish(a.text)
            if previous is not None:
                previous(a)

        announcer.on_spoken = spoken

    def finish(self, text: str) -> Path | None:
        """Write the collected pieces as one file; None when nothing was played."""
        with self._lock:
            parts, self._parts = self._parts, []
        if not parts:
            return None
        stem = voice_file_stem(text)
        path = self.folder / f"{stem}.wav"
        n = 1
        while path.exists():  # a recall says the same words again
            n += 1
            path = self.folder / f"{stem}-{n}.wav"
        path.write_bytes(join_wavs(parts))
        self.files.append(path)
        return path


# -- the play-through ------------------------------------------------------------------------------


class Played:
    """What the play-through produced: the ticket and its printed page."""

    def __init__(self, ticket: TicketOut, printed: Path | None) -> None:
        self.ticket = ticket
        self.printed = printed


def _play_visitor(roles: dict[str, tuple[Any, Any]], sims: Any, printer_dir: Path) -> Played | None:
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
    visitor.end_session()
    svc = next((s for s in visitor.services if s.prefix == "A"), visitor.services[0])
    visitor.choose_service(svc)
    issued: list[TicketOut] = []
    visitor.ticket_issued.connect(issued.append)
    pages_before = len(sims.printer.pages)
    sims.idcard.place(sample_card("elderly"))
    if not wait(lambda: bool(issued)):
        print("演示：取号未完成 (ticket not issued)", flush=True)
        return None
    ticket = issued[0]
    green = ticket.green_reason
    channel = f"（绿色通道：{const.GREEN_REASON_ZH.get(green, green)}）" if green else ""
    print(f"演示：刷身份证取号 {ticket.number}{channel}，号票打印中", flush=True)
    printed = None
    if wait(lambda: len(sims.printer.pages) > pages_before, 15):
        page = Path(sims.printer.pages[pages_before])
        printed = printer_dir / f"ticket-{ticket.number}.png"
        page.replace(printed)
    sims.idcard.remove()
    wait(lambda: not clerk.busy, 10)
    if clerk.current:  # the window is still serving the demo's earlier visitor: finish that first
        clerk.do_op("finish")
        wait(lambda: not clerk.busy, 10)
        wait(lambda: rating.pages.currentWidget() is rating.rate_page, 10)
        rating.choose_level(4)
    clerk.do_op("call_chosen", {"ticket_id": ticket.id})
    if wait(lambda: ticket.number in display.shown_calls, 20):
        window_number = clerk.window.number if clerk.window else None
        print(f"演示：{window_number}号窗口呼叫 {ticket.number}，综合屏已显示并播报", flush=True)
    else:
        print(
            f"演示：呼叫 {ticket.number} 未在综合屏出现 (call not shown: {clerk.message.text()})",
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
    return Played(ticket, printed)


# -- the guide printed at the end ------------------------------------------------------------------


def _program() -> str:
    """How to start `hall-kiosk` from here: the script next to this Python (the project's .venv)."""
    script = Path(sys.executable).parent / "hall-kiosk"
    if not script.exists():
        return "hall-kiosk" if shutil.which("hall-kiosk") else f"{shlex.quote(sys.executable)} -m kiosk.cli"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def kiosk_commands(server: Any, out: Path, printer_target: str) -> dict[str, list[str]]:
    """For each role, the `hall-kiosk` arguments that open another window of it on the running demo.

    The visitor kiosk has its own ID-card simulator and prints to the demo's virtual printer; the
    clerk logs in at another window than the demo's own clerk."""
    from kiosk.demo_server import DEFAULT_HALL, VILLAGE_HALL

    city, village = server.hall_tokens(DEFAULT_HALL), server.hall_tokens(VILLAGE_HALL)
    clerk = city["clerks"][1] if len(city["clerks"]) > 1 else city["clerks"][0]
    vclerk = village["clerks"][0]

    extra: dict[str, tuple[str, list[str]]] = {
        "visitor": (
            DEFAULT_HALL,
            [
                *(f"--token={city['kiosk']}", "--id-reader", "sim", "--printer-kind", "network"),
                *("--printer-target", printer_target, "--printer-mode", "raster"),
            ],
        ),
        "clerk": (
            DEFAULT_HALL,
            [
                *("--window", str(clerk["window_id"]), "--username", clerk["username"]),
                f"--password={clerk['password']}",
            ],
        ),
        "display": (DEFAULT_HALL, [f"--token={city['display']}"]),
        "rating": (
            DEFAULT_HALL,
            [f"--token={city['rating']['token']}", "--window", str(city["rating"]["window_id"])],
        ),
        "village": (
            VILLAGE_HALL,
            [
                # --opt=value: a token may begin with "-", which argparse would read as an option.
                f"--token={village['kiosk']}",
                f"--rating-token={village['rating']['token']}",
                *("--window", str(village["rating"]["window_id"]), "--username", vclerk["username"]),
                f"--password={vclerk['password']}",
            ],
        ),
    }
    return {
        role: [
            *("--role", role, "--server", server.url, "--hall", hall),
            *args,
            *("--data-dir", str(out / "machines" / f"{role}-2")),
        ]
        for role, (hall, args) in extra.items()
    }


def vnc_program() -> str | None:
    """x11vnc or vncserver when one is installed."""
    return shutil.which("x11vnc") or shutil.which("vncserver")


def _guide(
    server: Any,
    out: Path,
    shots: Path,
    paths: list[Path],
    played: Played | None,
    printer_target: str,
    *,
    keep_running: bool = True,
) -> str:
    tokens = server.tokens
    city = tokens["halls"]["bz-city"]
    voice_files = sorted(p.name for p in (out / "voice").glob("*.wav"))
    lines = [
        "",
        "=" * 72,
        "政务服务大厅演示已启动 The demo is running"
        if keep_running
        else "政务服务大厅演示 The demo (--once)",
        f"  服务器 Server:        {server.url}  (API {server.url}/api/v1, 日志 {server.data_dir}/server.log)",
        f"  管理驾驶舱 Dashboard: {server.url}/dashboard  (登录见下 log-in below)",
        f"  手机预约 Booking:     {server.url}/book/bz-city",
    ]
    if played is not None:
        lines.append(
            f"  本次号票 Demo ticket: {played.ticket.number}  手机查看 phone page: {played.ticket.track_url}"
        )
    lines += [
        f"  屏幕截图 Screenshots: {shots}  ({len(paths)} PNG)",
        f"  号票 Printed tickets: {out / 'printer'}"
        + (f"  ({played.printed.name})" if played is not None and played.printed else "  (虚拟打印机 PNG)"),
    ]
    if headless():
        lines.append(f"  语音 Voice:           {out / 'voice'}  ({', '.join(voice_files) or '无 none'})")
    lines += [
        f"  令牌 Tokens:          {server.data_dir / 'demo-tokens.json'}",
        "  窗口登录 Clerk log-ins: "
        + ", ".join(f"{c['username']}/{c['password']}" for c in city["clerks"][:3]),
        "  管理员 Managers: "
        + ", ".join(f"{m.get('username')}/{m.get('password')}" for m in tokens.get("managers", [])[:2]),
    ]
    if keep_running:
        prog = _program()
        lines.append("  再开一个终端窗口 Open another window of a role against this server:")
        for role, argv in kiosk_commands(server, out, printer_target).items():
            lines.append(f"    [{role}] {prog} {shlex.join(argv)}")
    if headless():
        lines += [
            "  没有显示器：各终端在后台运行（offscreen），请查看上面的截图文件夹。",
            "  No display: the role windows run offscreen; look at the screenshots folder.",
        ]
        if keep_running:
            lines.append(
                "  Here the commands above need `--screenshot FILE.png` (renders the screen once)"
                + (" or `xvfb-run -a` in front" if shutil.which("xvfb-run") else "")
                + "."
            )
        vnc = vnc_program()
        if vnc and shutil.which("xvfb-run"):
            lines.append(
                "  To watch live windows: `xvfb-run -n 99 -a .venv/bin/python -m kiosk.demo`, then "
                + ("`x11vnc -display :99`" if vnc.endswith("x11vnc") else f"`{Path(vnc).name}`")
                + " and a VNC viewer."
            )
        else:
            lines.append("  To watch live windows: run the demo on a desktop.")
    lines += [
        "按 Ctrl-C 结束 Press Ctrl-C to stop."
        if keep_running
        else "演示结束，服务器已停止 The server stops now.",
        "=" * 72,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
