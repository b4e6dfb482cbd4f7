"""The network demo (`bash .ci/demo --network`), headless, for real: a city server and a village
station (two `hall-server serve` processes), the link between them cut and restored; and its relay."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.demo_network import LinkRelay

ROOT = Path(__file__).resolve().parents[2]


def _echo_server() -> tuple[socket.socket, int]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(1024):
            conn.sendall(data)


def _roundtrip(port: int, payload: bytes = b"ping") -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(payload)
    return sock, sock.recv(1024)


def test_link_relay_forwards_cuts_and_restores_on_the_same_port() -> None:
    srv, upstream = _echo_server()
    relay = LinkRelay(("127.0.0.1", upstream)).start()
    try:
        port = relay.port
        open_conn, got = _roundtrip(port)
        assert got == b"ping"
        relay.cut()
        # The open connection ends (reset or closed); a new one is refused.
        try:
            open_conn.sendall(b"more")
            assert open_conn.recv(1024) == b""
        except OSError:
            pass
        open_conn.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
        relay.restore()
        assert relay.port == port and relay.url == f"http://127.0.0.1:{port}"
        sock, got = _roundtrip(port, b"back")
        assert got == b"back"
        sock.close()
    finally:
        relay.close()
        srv.close()


@pytest.mark.slow
@pytest.mark.browser
def test_network_demo_runs_through_headless(tmp_path: Path) -> None:
    """--once: exit 0; the station saw the link down with records waiting while the city was behind
    and called it silent; after the restore the city's counts for the village hall equal the
    station's; the village screens and the dashboard's station panel are written."""
    out = tmp_path / "demo-output"
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.demo", "--network", "--once", "--dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        stdin=subprocess.DEVNULL,
    )
    text = done.stdout + done.stderr
    assert done.returncode == 0, text[-4000:]
    net = out / "network"
    result = json.loads((net / "result.json").read_text(encoding="utf-8"))
    down, after = result["down"], result["after"]
    assert down["link"]["state"] == "down" and down["link"]["waiting"] > 0
    assert down["link"]["error_code"] == "sync.unreachable"
    assert down["station"]["issued"] == 3 and down["station"]["served"] == 1 and down["station"]["rated"] == 1
    assert down["city"]["issued"] < down["station"]["issued"]  # behind while cut
    assert down["city_row"]["silent"] is True
    assert result["caught_up"] is True
    assert after["city"] == after["station"] == down["station"]
    for name in (
        "village-link-down",
        "village-link-ok",
        "city-dashboard-link-down",
        "city-dashboard-caught-up",
    ):
        png = net / f"{name}.png"
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "The city caught up" in text and "= 相等 equal" in text


def test_the_guide_shows_the_installed_hall_kiosk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The village machine's command reads `.venv/bin/hall-kiosk ...`, not `python -m kiosk.cli`."""
    from kiosk import demo_network

    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").touch()
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.chdir(tmp_path)
    assert demo_network.hall_kiosk() == [sys.executable, "-m", "kiosk.cli"]  # not installed: the module
    (bin_dir / "hall-kiosk").touch()
    assert demo_network.hall_kiosk() == [".venv/bin/hall-kiosk"]
