"""`hall-sim`: run device simulators by hand (idcard, smartcard) or delegate (printer, camera)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

from devices.sim.cards import KINDS, SAMPLE_LATEST_ADDRESS, sample_card

if TYPE_CHECKING:
    from devices.sim.idcard import IdCardSimulator

logger = logging.getLogger(__name__)

SERIAL_KINDS = tuple(k for k in KINDS if k != "social_security")
IDCARD_HELP = """commands, one per line:
  place [KIND]     put a card on the reader (KIND: {kinds}; default resident)
  remove           take the card away
  pull [truncate|status]  the card leaves during the next read
  corrupt [N]      flip the checksum of the next N replies
  slow S           wait S seconds before each reply (0 = normal)
  unplug           pull the reader's cable (the pty closes)
  wait S           pause a script for S seconds
  status           show the simulator's state
  quit             stop""".format(kinds="|".join(SERIAL_KINDS))
SMARTCARD_HELP = """commands, one per line:
  insert           connect the card to the virtual reader
  remove           pull the card out
  quit             stop"""
# Subcommands written by other packages, imported only when used.
DELEGATES = {"printer": "printers.virtual.cli", "camera": "devices.camera.cli"}


def _say(zh: str, en: str, *, err: bool = False) -> None:
    print(f"{zh} / {en}", file=sys.stderr if err else sys.stdout, flush=True)


def _command_lines(script: str | None, stdin: TextIO) -> Iterable[str]:
    if script:
        with open(script, encoding="utf-8") as fh:
            yield from fh.readlines()
    yield from stdin


def _wait_forever(stop: threading.Event) -> None:
    """After the commands run out, keep serving until Ctrl-C or SIGTERM."""
    while not stop.wait(0.5):
        pass


def run_idcard(args: argparse.Namespace, stdin: TextIO) -> int:
    """Start the pty reader simulator and follow commands."""
    from devices.sim.idcard import IdCardSimulator

    sim = IdCardSimulator(delay=args.delay, pace_baud=args.pace).start()
    stop = threading.Event()
    print(sim.port, flush=True)
    _say(f"身份证阅读器模拟器已启动：{sim.port}（115200 8N1）", f"ID-card reader simulator on {sim.port}")
    if args.card:
        sim.place(sample_card(args.card), latest_address=SAMPLE_LATEST_ADDRESS)
    try:
        with _sigterm_stops(stop):
            for line in _command_lines(args.script, stdin):
                if stop.is_set() or not _idcard_command(sim, line):
                    return 0
            _wait_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _idcard_command(sim: IdCardSimulator, line: str) -> bool:
    """Run one command line; False means quit."""
    words = shlex.split(line, comments=True)
    if not words:
        return True
    cmd, rest = words[0].lower(), words[1:]
    try:
        if cmd == "quit":
            return False
        if cmd == "place":
            kind = rest[0] if rest else "resident"
            sim.place(sample_card(kind), latest_address=SAMPLE_LATEST_ADDRESS)
            _say(f"已放置证件：{kind}", f"card placed: {kind}")
        elif cmd == "remove":
            sim.remove()
            _say("证件已移开", "card removed")
        elif cmd == "pull":
            sim.remove_mid_read(rest[0] if rest else "truncate")
            _say("下一次读卡时证件将被移开", "the card leaves during the next read")
        elif cmd == "corrupt":
            sim.corrupt_next(int(rest[0]) if rest else 1)
            _say("下一帧校验将出错", "the next reply gets a bad checksum")
        elif cmd == "slow":
            sim.delay = float(rest[0])
            _say(f"应答延迟 {sim.delay} 秒", f"replies delayed by {sim.delay} s")
        elif cmd == "unplug":
            sim.unplug()
            _say("阅读器已拔出", "reader unplugged")
        elif cmd == "wait":
            threading.Event().wait(float(rest[0]))
        elif cmd == "status":
            _say(
                f"端口 {sim.port}，有卡：{sim.card_present}，已收请求 {len(sim.requests)}",
                f"port {sim.port}, card present: {sim.card_present}, requests {len(sim.requests)}",
            )
        elif cmd == "help":
            print(IDCARD_HELP, flush=True)
        else:
            _say(f"未知命令：{cmd}（输入 help 查看）", f"unknown command {cmd!r} (try help)", err=True)
    except (ValueError, IndexError) as exc:
        _say(f"命令参数错误：{exc}", f"bad arguments: {exc}", err=True)
    return True


def run_smartcard(args: argparse.Namespace, stdin: TextIO) -> int:
    """Insert the virtual social security card into vpcd and follow commands."""
    from devices.sim.smartcard import SocialSecurityCardSim

    sim = SocialSecurityCardSim(sample_card("social_security"), host=args.host, port=args.port)
    stop = threading.Event()
    try:
        sim.insert(timeout=args.connect_timeout)
    except OSError as exc:
        _say(
            f"无法连接虚拟读卡器 {args.host}:{args.port}（pcscd 与 vsmartcard-vpcd 是否在运行？）",
            f"cannot reach vpcd at {args.host}:{args.port}: {exc}",
            err=True,
        )
        return 2
    _say(
        f"社保卡已插入虚拟读卡器 {args.host}:{args.port}",
        f"social security card inserted at {args.host}:{args.port}",
    )
    try:
        with _sigterm_stops(stop):
            for line in stdin:
                words = shlex.split(line, comments=True)
                if not words:
                    continue
                if words[0] == "quit" or stop.is_set():
                    return 0
                if words[0] == "insert":
                    sim.insert(timeout=args.connect_timeout)
                    _say("社保卡已插入", "card inserted")
                elif words[0] == "remove":
                    sim.remove()
                    _say("社保卡已拔出", "card removed")
                elif words[0] == "help":
                    print(SMARTCARD_HELP, flush=True)
                else:
                    _say(f"未知命令：{words[0]}", f"unknown command {words[0]!r} (try help)", err=True)
            _wait_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        sim.remove()
    return 0


@contextlib.contextmanager
def _sigterm_stops(stop: threading.Event) -> Iterator[None]:
    """SIGTERM ends the session like Ctrl-C; the previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(_signum: int, _frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    """hall-sim's options."""
    p = argparse.ArgumentParser(
        prog="hall-sim",
        description="设备模拟器 / device simulators: idcard, smartcard, printer, camera",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every step")
    sub = p.add_subparsers(dest="command", required=True)
    idc = sub.add_parser(
        "idcard",
        help="身份证阅读器（串口 pty） / SAM ID-card reader on a pty",
        epilog=IDCARD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    idc.add_argument("--card", choices=SERIAL_KINDS, help="place this sample card at start")
    idc.add_argument("--script", help="run commands from this file first, then from stdin")
    idc.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    idc.add_argument(
        "--pace", action="store_true", help="pace reply bytes at the wire speed of the baud rate"
    )
    sc = sub.add_parser(
        "smartcard",
        help="社保卡（vsmartcard vpcd） / social security card for pcscd's vpcd reader",
        epilog=SMARTCARD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.add_argument("--host", default="127.0.0.1")
    sc.add_argument("--port", type=int, default=35963, help="vpcd port (35963 first reader, 35964 second)")
    sc.add_argument("--connect-timeout", type=float, default=5.0)
    for name in DELEGATES:
        sub.add_parser(name, help=f"see hall-sim {name} --help", add_help=False)
    return p


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    """Entry point of the hall-sim console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATES:
        module = DELEGATES[argv[0]]
        try:
            target = importlib.import_module(module)
        except ImportError as exc:
            _say(
                f"模拟器 {argv[0]} 不可用：{exc}",
                f"the {argv[0]} simulator is not available: {exc}",
                err=True,
            )
            return 2
        return int(target.main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(asctime)s %(message)s"
    )
    stdin = stdin or sys.stdin
    if args.command == "idcard":
        return run_idcard(args, stdin)
    return run_smartcard(args, stdin)


if __name__ == "__main__":
    sys.exit(main())
