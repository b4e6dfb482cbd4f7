"""A temporary demo hall server (`hall-server serve --demo` in a subprocess) for screenshots and the demo.

kiosk never imports hall_server: the server runs as its own process and is reached over HTTP.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from kiosk import const

if TYPE_CHECKING:
    from wire import ServiceOut, TicketOut

logger = logging.getLogger(__name__)

DEFAULT_HALL = "bz-city"
VILLAGE_HALL = "bz-tj-nsh-qs"
START_TIMEOUT_S = 90.0


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # In the child before exec: if the demo (or a test run) dies, even by SIGKILL, the kernel
    # stops its server too instead of leaving it listening.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class DemoServer:
    """One `hall-server serve --demo` process and the tokens it wrote."""

    def __init__(self, data_dir: Path, port: int, proc: subprocess.Popen[bytes] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port
        self.proc = proc
        self.tokens: dict[str, Any] = {}
        self.populated: set[str] = set()

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start_temporary(
        cls,
        data_dir: str | Path | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
    ) -> DemoServer:
        """Start the demo server and wait until it answers; raises ServerUnreachable if it never does."""
        data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="hall-demo-"))
        return cls.serve(data, port, ["--demo"], env, host=host, tokens=True)

    @classmethod
    def serve(
        cls,
        data_dir: Path,
        port: int | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        tokens: bool = False,
    ) -> DemoServer:
        """Start `hall-server serve ARGS` on data_dir (log: data_dir/server.log) and wait until it
        answers (and, with tokens, until it wrote demo-tokens.json); raises ServerUnreachable."""
        from kiosk.errors import ServerUnreachable

        data_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        log = open(data_dir / "server.log", "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        cmd = [sys.executable, "-m", "hall_server.cli", "serve", *(args or [])]
        cmd += ["--host", host, "--port", str(port), "--data-dir", str(data_dir), "--no-zeroconf"]
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        srv = cls(data_dir, port, proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        tokens_file = data_dir / "demo-tokens.json"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerUnreachable(
                    "演示服务器启动失败，请查看日志", f"demo server exited; see {data_dir}/server.log"
                )
            try:
                ok = requests.get(srv.url + const.API_PATH + "/health", timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            if ok and not tokens:
                return srv
            if ok and tokens_file.exists():
                try:
                    srv.tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
                    return srv
                except ValueError:
                    pass  # still being written
            time.sleep(0.2)
        srv.stop()
        raise ServerUnreachable("演示服务器启动超时", "demo server did not start in time")

    def stop(self) -> None:
        """Stop the server process group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    # -- tokens per role ---------------------------------------------------------------------
    def hall_tokens(self, hall: str) -> dict[str, Any]:
        """The demo-tokens.json block of one hall."""
        return self.tokens["halls"][hall]

    def overrides_for(self, role: str, hall: str | None = None) -> dict[str, Any]:
        """Config values for a role on this server (token, window, clerk log-in)."""
        hall = hall or (VILLAGE_HALL if role == "village" else DEFAULT_HALL)
        h = self.hall_tokens(hall)
        clerk = h["clerks"][0]
        rating = h["rating"]
        out: dict[str, Any] = {"role": role, "hall": hall, "server": self.url}
        if role == "visitor":
            out["token"] = h["kiosk"]
        elif role == "display":
            out["token"] = h["display"]
        elif role == "rating":
            out.update(token=rating["token"], window_id=rating["window_id"])
        elif role == "clerk":
            out.update(window_id=clerk["window_id"], username=clerk["username"], password=clerk["password"])
        elif role == "village":
            out.update(
                token=h["kiosk"],
                tokens={"rating": rating["token"]},
                window_id=rating["window_id"],
                username=clerk["username"],
                password=clerk["password"],
            )
        return out

    # -- activity so the screens have something to show ------------------------------------------
    def populate(self, hall: str) -> dict[str, list[TicketOut]]:
        """Issue some tickets and let two clerks call, one start serving (once per hall)."""
        if hall in self.populated:
            return {}
        self.populated.add(hall)
        from kiosk.api import HallClient

        h = self.hall_tokens(hall)
        kiosk = HallClient(self.url, h["kiosk"])
        services = kiosk.services(hall)
        by_prefix: dict[str | None, list[ServiceOut]] = {}
        for s in services:
            by_prefix.setdefault(s.prefix, []).append(s)
        issued = []
        for i in range(14):
            prefix = sorted(by_prefix)[i % min(4, len(by_prefix))]
            svc = by_prefix[prefix][i % len(by_prefix[prefix])]
            issued.append(kiosk.issue_ticket(hall, svc.code))
        calls = []
        for n, clerk in enumerate(h["clerks"][:4]):
            c = HallClient(self.url)
            try:
                c.login(clerk["username"], clerk["password"], clerk["window_id"])
                calls.append(c.call_next(clerk["window_id"]))
                if n == 0:
                    c.window_op(clerk["window_id"], "start")
            except Exception as exc:  # a window with an empty queue is fine for a demo
                logger.info("demo call at window %s: %s", clerk["window_id"], exc)
        return {"issued": issued, "calls": calls}


def _a_waiting_number(widget: Any) -> str:
    """A new ticket's number in the hall's last queue (J in the demo city), to look up on screen."""
    prefixes = sorted({s.prefix for s in widget.services if s.prefix})
    if not prefixes:
        return ""
    svc = next(s for s in widget.services if s.prefix == prefixes[-1])
    return widget.ctx.client.issue_ticket(widget.ctx.hall_id, svc.code).number


def show_page(widget: Any, role: str, page: str | None, ticket: TicketOut | None = None) -> None:
    """Bring a sub-page forward for a screenshot; with `ticket` (the demo's own) the visitor's ticket
    page and the rating terminal show that ticket instead of a new anonymous one or a made-up number."""
    if not page:
        return
    if role == "village":
        if page == "locked":
            widget.show_tab("visitor")  # the villagers' part was up: the clerk's is locked
            widget.show_tab("clerk")
        elif page == "clerk" and widget.ctx.config.password:
            widget.show_tab("clerk")
            if widget.tabs.currentWidget() is widget.lock_page:
                widget.unlock(widget.ctx.config.password)  # the demo clerk unlocks
        else:
            widget.show_tab(page)
        return
    if role == "visitor":
        if page in ("identify", "ticket", "guide") and widget.services:
            svc = next((s for s in widget.services if s.prefix == "B"), widget.services[0])
            widget.choose_service(svc)
            if page == "ticket" and ticket is not None:
                from kiosk.ui.widgets import restyle

                widget.show_ticket(ticket)
                widget.print_status.setText("请取走您的号票\nPlease take your ticket")  # it was printed
                restyle(widget.print_status, "ok")
            elif page == "ticket":
                widget.issue_anonymous()
            elif page == "guide":
                widget.open_guide()
        elif page == "lookup":
            widget.open_lookup()
            number = ticket.number if ticket is not None else _a_waiting_number(widget)
            if number:
                widget.lookup_page.edit.setText(number)
                widget.lookup_page.do_lookup()
        elif page == "elderly":
            widget.toggle_elderly()
        elif page == "keyboard":
            widget.toggle_keyboard()
            for key in "bdc":
                widget.keyboard.keys[key].click()
        return
    if role == "rating" and page in ("rate", "reasons", "thanks"):
        widget.ask({"id": -1, "number": ticket.number if ticket else "A003"})
        if page == "reasons":
            widget.choose_level(2)
            widget.detail_buttons["等候时间太长"].setChecked(True)  # ticks 服务效率 as well
        elif page == "thanks":
            widget.pages.setCurrentWidget(widget.thanks_page)
