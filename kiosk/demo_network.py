"""The network demo (`bash .ci/demo --network`): a city server and a village station, the link cut.

    .venv/bin/python -m kiosk.demo --network [--dir DIR] [--port P] [--once]

Two real `hall-server serve` processes on this machine, set up the way docs/deployment.md says:
the city (the demo city, embedded SQLite) registers the village hall 诺水河镇青松村便民服务站 as a
station (`hall-server station add --with-data-key --out bundle.json`); the station is set up from
that bundle (`hall-server station setup`) and served with the environment setup printed. Its link
to the city goes through a TCP relay on this machine (LinkRelay) that the demo cuts and restores.

With the link cut, the village keeps serving through the real API (tickets, calls, a rating); the
demo shows the station's GET /sync/link (down, N waiting) and the city's view (its counts for the
village hall behind, the station silent), then restores the link and waits until the city's counts
equal the station's. Headless, it writes screenshots to DIR/network: the village screen with the
link-down notice and after (`hall-kiosk --role village --screenshot`), and the city dashboard's
站点同步 panel (Playwright with Debian's chromium, when installed). With a display it opens the village
kiosk window. --once stops after running through; otherwise everything keeps running (Enter cuts
or restores the link) until Ctrl-C.

kiosk never imports hall_server: both servers are subprocesses reached over HTTP, the CLI steps run
as `python -m hall_server.cli`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from kiosk.demo_server import VILLAGE_HALL, DemoServer

API = "/api/v1"
STATION_ID = "st-qingsong"
STATION_NAME = "青松村"
# The city marks a station silent after this long without contact (production default: 600 s).
SILENT_AFTER_S = 8
# The station's round interval and request timeout in the demo (defaults: 2 s and 5 s).
SYNC_SECONDS = 1
SYNC_TIMEOUT_S = 3
# The station backs off up to 30 s (const.SYNC_BACKOFF_MAX_S) while the city is unreachable.
CATCH_UP_TIMEOUT_S = 90
RELAY_CHUNK = 64 * 1024
_LINGER_RST = struct.pack("ii", 1, 0)


class LinkRelay:
    """A TCP relay on 127.0.0.1 standing for the station's link to the city.

    cut() closes the listening socket (new connections are refused) and resets the open ones, as a
    link that went down does to the station's requests; restore() listens on the same port again.
    Only on/off: the test suite's fault proxy (tests/support/netfault.py: black holes, byte budgets,
    throttling) is a test instrument, and product code does not import tests/.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.up = False

    @property
    def url(self) -> str:
        """The relay as the station's parent URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LinkRelay:
        """Listen (on a free port the first time) and forward."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.2)
        self.port = sock.getsockname()[1]
        with self._lock:
            self._listener, self.up = sock, True
        threading.Thread(target=self._accept, args=(sock,), name="link-relay", daemon=True).start()
        return self

    restore = start

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        with self._lock:
            listener, self._listener, self.up = self._listener, None, False
            conns = list(self._conns)
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # stops listening now (close waits for accept)
            listener.close()
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                sock.shutdown(socket.SHUT_RDWR)  # wakes its pumps; they close it (with a RST)

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # cut: the listener is closed
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        """Forward one connection both ways until both sides are done (or it is cut)."""
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()  # the city itself is down
            return
        pair = {client, upstream}
        with self._lock:
            if not self.up:
                pair.clear()
            self._conns |= pair
        pumps = [
            threading.Thread(target=self._pump, args=(src, dst), daemon=True)
            for src, dst in ((client, upstream), (upstream, client))
        ]
        for pump in pumps if pair else ():
            pump.start()
        for pump in pumps if pair else ():
            pump.join()
        with self._lock:
            self._conns -= pair
        client.close()
        upstream.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(None)
        try:
            while data := src.recv(RELAY_CHUNK):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on
        except OSError:  # a reset on one side (or the cut) ends both
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Demo:
    """The two servers, the relay and what the demo did, with its narrative."""

    def __init__(self, out: Path, port: int | None) -> None:
        self.out = out
        self.city_port = port
        self.city: DemoServer | None = None
        self.station: DemoServer | None = None
        self.relay: LinkRelay | None = None
        self.windows: list[subprocess.Popen[bytes]] = []
        self.shots: list[Path] = []
        self.result: dict[str, Any] = {}

    # -- set-up, as docs/deployment.md says -------------------------------------------------------
    def start(self) -> None:
        """City, station registered and set up, station served through the relay."""
        say(
            "1. 启动市级服务器（演示城市，内嵌 SQLite）",
            "Starting the city server (the demo city, embedded SQLite)",
        )
        self.city = DemoServer.serve(
            self.out / "city",
            self.city_port,
            ["--demo"],
            {"HALL_STATION_SILENT_ALERT_S": str(SILENT_AFTER_S)},
            tokens=True,
        )
        info(f"city: {self.city.url}  (log {self.out / 'city' / 'server.log'})")

        say(
            f"2. 在市级服务器登记村站 {STATION_ID}，生成安装包",
            f"Registering the village station {STATION_ID} at the city; its setup bundle",
        )
        bundle = self.out / "bundle.json"
        bundle.unlink(missing_ok=True)
        city_db = f"sqlite:///{(self.out / 'city' / 'demo.sqlite3').resolve()}"
        cli(
            "station", "add", STATION_ID, "--halls", VILLAGE_HALL, "--name", STATION_NAME,
            "--with-data-key", "--out", str(bundle), "--db", city_db, "--data-dir", str(self.out / "city"),
        )  # fmt: skip
        # The station must use the city's personal-data key (data travels as ciphertext).
        key = self.out / "station-data.key"
        key.write_text(json.loads(bundle.read_text(encoding="utf-8"))["data_key"] + "\n", encoding="utf-8")
        key.chmod(0o600)

        self.relay = LinkRelay(("127.0.0.1", self.city.port)).start()
        info(f"link relay 127.0.0.1:{self.relay.port} -> city 127.0.0.1:{self.city.port}")
        say("3. 在村站安装（station setup），首次同步", "Setting the station up (station setup), first sync")
        station_dir = self.out / "station"
        env = {"HALL_DATA_KEY_FILE": str(key.resolve())}
        answer = json.loads(
            cli(
                "station", "setup", "--parent", self.relay.url, "--id", STATION_ID,
                "--credential-file", str(bundle), "--data-dir", str(station_dir), env=env,
            ).splitlines()[-1]
        )  # fmt: skip
        info(f"station_no {answer['station_no']}, link {answer['link']}, config {answer['config_version']}")
        env.update(answer["env"])
        env.update(HALL_SYNC_SECONDS=str(SYNC_SECONDS), HALL_SYNC_TIMEOUT_S=str(SYNC_TIMEOUT_S))
        say("4. 用安装输出的环境变量启动村站服务器", "Serving the station with the environment setup printed")
        info(" ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " hall-server serve ...")
        self.station = DemoServer.serve(station_dir, None, [], env)
        self.station.tokens = self.city.tokens  # the city's tokens of the village hall came down
        info(f"station: {self.station.url}  (log {station_dir / 'server.log'})")
        self.wait(lambda: self.link().get("state") == "ok", 30, "the station's first round")

    # -- the API, at either end -------------------------------------------------------------------
    @property
    def village(self) -> dict[str, Any]:
        assert self.city is not None
        return self.city.hall_tokens(VILLAGE_HALL)

    def link(self) -> dict[str, Any]:
        """The station's GET /sync/link (with the village kiosk's token)."""
        assert self.station is not None
        r = requests.get(
            self.station.url + API + "/sync/link", headers=bearer(self.village["kiosk"]), timeout=5
        )
        return r.json() if r.status_code == 200 else {}

    def city_station(self) -> dict[str, Any]:
        """The city's GET /stations row of the village station (admin token)."""
        assert self.city is not None
        r = requests.get(
            self.city.url + API + "/stations", headers=bearer(self.city.tokens["admin_token"]), timeout=5
        )
        r.raise_for_status()
        return next(s for s in r.json()["stations"] if s["id"] == STATION_ID)

    def counts(self, server: DemoServer, token: str) -> dict[str, int]:
        """The village hall's figures of today on one server: tickets issued, served, no-shows, ratings."""
        r = requests.get(server.url + API + f"/halls/{VILLAGE_HALL}/stats", headers=bearer(token), timeout=10)
        r.raise_for_status()
        body = r.json()
        t, ind = body["totals"], body["ratings"]["indicators"]
        return {"issued": t["issued"], "served": t["served"], "no_show": t["no_show"], "rated": ind["rated"]}

    def manager_token(self, server: DemoServer) -> str:
        """The village manager's session on that server (the city's users come down to the station)."""
        assert self.city is not None
        manager = next(m for m in self.city.tokens["managers"] if m["hall"] == VILLAGE_HALL)
        r = requests.post(
            server.url + API + "/auth/login",
            json={"username": manager["username"], "password": manager["password"]},
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["token"])

    def serve_village(self) -> dict[str, Any]:
        """Visitors at the village with the link down: three tickets, two calls, one served and rated."""
        assert self.station is not None
        base = self.station.url + API
        kiosk = bearer(self.village["kiosk"])
        services = requests.get(base + f"/halls/{VILLAGE_HALL}/services", headers=kiosk, timeout=10).json()
        tickets = []
        for i in range(3):
            r = requests.post(
                base + f"/halls/{VILLAGE_HALL}/tickets",
                json={"service_code": services[i % len(services)]["code"]},
                headers=kiosk,
                timeout=10,
            )
            r.raise_for_status()
            tickets.append(r.json())
        info(
            "取号 issued: "
            + ", ".join(f"{t['number']} {t.get('service_name') or ''}".strip() for t in tickets)
        )
        clerk = self.village["clerks"][0]
        window = clerk["window_id"]
        r = requests.post(
            base + "/auth/login",
            json={"username": clerk["username"], "password": clerk["password"], "window_id": window},
            timeout=10,
        )
        r.raise_for_status()
        staff = bearer(r.json()["token"])
        done = []
        for op in ("call-next", "start", "finish", "call-next"):
            r = requests.post(base + f"/windows/{window}/{op}", headers=staff, timeout=10)
            r.raise_for_status()
            done.append(op)
        rating = self.village["rating"]
        r = requests.post(
            base + "/ratings",
            json={"ticket_id": tickets[0]["id"], "level": 5, "reasons": [], "channel": "device"},
            headers=bearer(rating["token"]),
            timeout=10,
        )
        r.raise_for_status()
        info(
            f"窗口 {window}（{clerk['username']}）: 呼叫 {tickets[0]['number']} → 办理 → 办结 → 呼叫 "
            f"{tickets[1]['number']}；{tickets[0]['number']} 评价“非常满意” / called, served, finished, "
            "called the next; rated 5"
        )
        return {"tickets": [t["number"] for t in tickets]}

    # -- screenshots ------------------------------------------------------------------------------
    def village_screen(self, name: str) -> Path | None:
        """The village all-in-one screen against the station (`hall-kiosk --role village --screenshot`)."""
        path = self.out / f"{name}.png"
        code = subprocess.run(
            [*self.kiosk_command(f"shot-{name}"), "--screenshot", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
            if not has_display()
            else None,
        )
        if code.returncode != 0 or not path.exists():
            info(f"village screenshot failed: {code.stderr.strip()[-400:]}")
            return None
        self.shots.append(path)
        return path

    def kiosk_command(self, machine: str, program: list[str] | None = None) -> list[str]:
        """`hall-kiosk --role village` against the station, as the village's all-in-one machine
        (run here as `python -m kiosk.cli`, this checkout's code; `program` as it is shown)."""
        assert self.station is not None
        v, clerk = self.village, self.village["clerks"][0]
        return [
            *(program or [sys.executable, "-m", "kiosk.cli"]), "--role", "village", "--server", self.station.url,
            "--hall", VILLAGE_HALL, f"--token={v['kiosk']}", f"--rating-token={v['rating']['token']}",
            "--window", str(v["rating"]["window_id"]), "--username", clerk["username"],
            f"--password={clerk['password']}", "--data-dir", str(self.out / "machines" / machine),
        ]  # fmt: skip

    def dashboard_screen(self, name: str) -> Path | None:
        """The city dashboard (站点同步 panel, the village hall open) in headless chromium."""
        assert self.city is not None
        path = self.out / f"{name}.png"
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            info("dashboard screenshot skipped: Playwright is not installed (pip install '.[dev]')")
            return None
        admin = self.city.tokens["admins"][0]
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"], headless=True
                )
                try:
                    page = browser.new_page(
                        viewport={"width": 1400, "height": 1000}, locale="zh-CN", timezone_id="Asia/Shanghai"
                    )
                    page.set_default_timeout(20000)
                    page.goto(f"{self.city.url}/dashboard?hall={VILLAGE_HALL}")
                    page.fill("#username", admin["username"])
                    page.fill("#password", admin["password"])
                    page.click("#login-form button[type=submit]")
                    page.wait_for_selector(f'#stations tr[data-station="{STATION_ID}"]')
                    page.wait_for_selector("#hall-station:not([hidden])")
                    page.wait_for_timeout(1500)  # the alerts and the live view settle
                    page.screenshot(path=str(path))
                finally:
                    browser.close()
        except Exception as exc:  # a missing browser must not fail the demo
            info(f"dashboard screenshot failed: {exc}")
            return None
        self.shots.append(path)
        return path

    # -- the story --------------------------------------------------------------------------------
    def run(self, shots: bool) -> bool:
        """Cut the link, serve at the village, restore it, watch the city catch up; True if it did."""
        assert self.city is not None and self.station is not None and self.relay is not None
        station_mgr = self.manager_token(self.station)
        admin = self.city.tokens["admin_token"]
        self.wait(lambda: self.link().get("waiting") == 0, 30, "the station's log-in records uploaded")
        before = self.counts(self.city, admin)
        info(
            f"链路正常 link ok; 市级/村站 city/station: {fmt(before)} / {fmt(self.counts(self.station, station_mgr))}"
        )

        say("5. 切断村站与市级服务器之间的链路", "Cutting the link between the station and the city")
        self.relay.cut()
        cut_at = time.monotonic()
        say(
            "6. 断网期间村站照常办理（真实 API）",
            "The village keeps serving with the link down (the real API)",
        )
        self.result["served"] = self.serve_village()
        link = self.wait(
            lambda: (lk := self.link()).get("state") == "down" and lk.get("waiting", 0) > 0 and lk,
            30,
            "the station to see the link down",
        )
        station_now = self.counts(self.station, station_mgr)
        say("7. 村站 GET /sync/link", "The station's GET /sync/link")
        info(
            f"state {link['state']}, waiting {link['waiting']} 条记录等待上传, last_ok_at {link['last_ok_at']}, "
            f"error {link['error_code']}"
        )
        info(f"{link['message']} / {link['message_en']}")
        if shots:
            self.village_screen("village-link-down")
        wait_s = max(0.0, SILENT_AFTER_S + 1 - (time.monotonic() - cut_at))
        info(f"（等待 {wait_s:.0f} 秒，超过演示的失联告警时限 HALL_STATION_SILENT_ALERT_S={SILENT_AFTER_S}）")
        time.sleep(wait_s)
        row = self.wait(lambda: (r := self.city_station())["silent"] and r, 30, "the city to call it silent")
        city_now = self.counts(self.city, admin)
        say("8. 市级服务器看到的村站（落后）", "The city's view of the station (behind)")
        info(
            f"last contact {row['last_contact_at']}, silent {row['silent']}, applied seq "
            f"{row['applied'].get(VILLAGE_HALL)}, waiting (last reported) {row['waiting']}"
        )
        info(f"村站 station: {fmt(station_now)}")
        info(f"市级 city:    {fmt(city_now)}   ← 落后 behind")
        self.result["down"] = {"link": link, "station": station_now, "city": city_now, "city_row": row}
        if shots:
            self.dashboard_screen("city-dashboard-link-down")

        say("9. 恢复链路", "Restoring the link")
        self.relay.restore()
        restored_at = time.monotonic()
        info("村站按退避自动重试（最长 30 秒）/ the station retries by itself (back-off, at most 30 s)")
        caught = self.wait(
            lambda: (
                (lk := self.link()).get("state") == "ok"
                and lk.get("waiting") == 0
                and self.counts(self.city, admin) == self.counts(self.station, station_mgr)
            ),
            CATCH_UP_TIMEOUT_S,
            "the city to catch up",
            fail=False,
        )
        took = time.monotonic() - restored_at
        station_after, city_after = self.counts(self.station, station_mgr), self.counts(self.city, admin)
        row = self.city_station()
        say("10. 市级服务器追平", "The city caught up" if caught else "The city did NOT catch up")
        info(f"村站 station: {fmt(station_after)}")
        info(
            f"市级 city:    {fmt(city_after)}   {'= 相等 equal' if city_after == station_after else '≠ 不等 differ'}"
        )
        info(
            f"{took:.1f} s after the link came back; city: applied seq {row['applied'].get(VILLAGE_HALL)}, "
            f"waiting {row['waiting']}, silent {row['silent']}"
        )
        self.result["after"] = {"station": station_after, "city": city_after, "seconds": round(took, 1)}
        self.result["caught_up"] = bool(caught) and city_after == station_after
        if shots:
            self.village_screen("village-link-ok")
            self.dashboard_screen("city-dashboard-caught-up")
        return self.result["caught_up"]

    def wait(self, pred: Callable[[], Any], timeout: float, what: str, fail: bool = True) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = pred()
            except (requests.RequestException, ValueError, KeyError, StopIteration):
                got = None
            if got:
                return got
            time.sleep(0.3)
        if fail:
            raise RuntimeError(f"timed out waiting for {what}")
        return None

    def stop(self) -> None:
        for proc in self.windows:
            proc.terminate()
        for srv in (self.station, self.city):
            if srv is not None:
                srv.stop()
        if self.relay is not None:
            self.relay.close()


# -- helpers ---------------------------------------------------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fmt(c: dict[str, int]) -> str:
    return f"取号 issued {c['issued']}, 办结 served {c['served']}, 过号 no-show {c['no_show']}, 评价 rated {c['rated']}"


def say(zh: str, en: str) -> None:
    print(f"\n== {zh}\n   {en}", flush=True)


def info(text: str) -> None:
    print(f"   {text}", flush=True)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def chromium() -> str | None:
    """Debian's chromium when installed (else Playwright's own browser, if downloaded)."""
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(path):
            return path
    return None


def hall_kiosk() -> list[str]:
    """The `hall-kiosk` command installed next to this Python (.venv/bin/hall-kiosk), for the guide."""
    exe = Path(sys.executable).parent / "hall-kiosk"
    if not exe.is_file():
        return [sys.executable, "-m", "kiosk.cli"]
    shown = os.path.relpath(exe)
    return [shown if not shown.startswith("..") else str(exe)]


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    """Run `hall-server ARGS` (python -m hall_server.cli); its stdout, or RuntimeError with its stderr."""
    shown = " ".join(shlex.quote(a) for a in args)
    info(f"$ hall-server {shown}")
    done = subprocess.run(
        [sys.executable, "-m", "hall_server.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, **(env or {})),
    )
    if done.returncode != 0:
        raise RuntimeError(f"hall-server {args[0]} {args[1]} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def _toggle_on_enter(demo: Demo, stop: threading.Event) -> None:
    """Interactive: each Enter cuts or restores the link."""
    assert demo.relay is not None
    while not stop.is_set():
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if not ready:
            continue
        if not sys.stdin.readline():
            return
        if demo.relay.up:
            demo.relay.cut()
            info("链路已切断 link cut")
        else:
            demo.relay.restore()
            info("链路已恢复 link restored")


def main(args: argparse.Namespace) -> int:
    """Run the network demo (kiosk.demo --network)."""
    out = (Path(args.dir) / "network").resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.png"):  # a previous run's screenshots would mislead
        stale.unlink()
    for sub in ("city", "station", "machines"):  # a fresh city and station every run
        shutil.rmtree(out / sub, ignore_errors=True)
    print("城市网络演示：市级服务器与村便民服务站 / The network demo: a city server and a village station")
    demo = Demo(out, args.port or None)
    ok = False
    try:
        demo.start()
        ok = demo.run(shots=not has_display() or args.once)
        (out / "result.json").write_text(
            json.dumps(demo.result, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        print(guide(demo, keep_running=not args.once), flush=True)
        if args.once:
            return 0 if ok else 1
        if has_display():
            demo.windows.append(subprocess.Popen(demo.kiosk_command("village-window")))
        stop = threading.Event()

        def interrupt(*_: Any) -> None:
            raise KeyboardInterrupt

        # Ctrl-C, and a plain kill: stop the servers on the way out (the finally below).
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
        if sys.stdin.isatty():
            threading.Thread(target=_toggle_on_enter, args=(demo, stop), daemon=True).start()
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        demo.stop()


def guide(demo: Demo, keep_running: bool) -> str:
    """What is where, printed at the end."""
    assert demo.city is not None and demo.station is not None
    admin = demo.city.tokens["admins"][0]
    manager = next(m for m in demo.city.tokens["managers"] if m["hall"] == VILLAGE_HALL)
    lines = [
        "",
        "=" * 72,
        "城市网络演示 The network demo" + ("" if keep_running else " (--once)"),
        f"  市级服务器 City:      {demo.city.url}  看板 dashboard {demo.city.url}/dashboard?hall={VILLAGE_HALL}",
        f"                        登录 log in {admin['username']}/{admin['password']} (admin)",
        f"  村站服务器 Station:   {demo.station.url}  ({STATION_ID}, 大厅 hall {VILLAGE_HALL})",
        f"                        站长 manager {manager['username']}/{manager['password']}",
        f"  链路 Link (relay):    127.0.0.1:{demo.relay.port if demo.relay else '?'} -> city",
        f"  截图 Screenshots:     {demo.out}  ({', '.join(p.name for p in demo.shots) or '无 none'})",
        f"  结果 Result:          {demo.out / 'result.json'}",
    ]
    if keep_running:
        lines += [
            "  村站一体机 Village machine against the station:",
            "    " + shlex.join(demo.kiosk_command("village-2", hall_kiosk())),
            "  按回车切断/恢复链路，Ctrl-C 结束 / Enter cuts or restores the link; Ctrl-C stops."
            if sys.stdin.isatty()
            else "  按 Ctrl-C 结束 Press Ctrl-C to stop.",
        ]
    else:
        lines.append("演示结束，服务器已停止 The servers stop now.")
    lines.append("=" * 72)
    return "\n".join(lines)
