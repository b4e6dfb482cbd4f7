"""A kiosk process with a real reader simulator and virtual printer: the dashboard sees its faults come and go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from printers.virtual.server import VirtualPrinter
from tests.fixtures.devices import PluggableReader
from tests.fixtures.server import REPO_ROOT, HallServer, _die_with_parent
from tests.web.support import SHOTS, login, new_page, seeded_server

HALL = "x-city"
DEVICE = "kiosk-e2e-1"
STALE_S = 4  # the server shows a machine offline after this long without a heartbeat
HEARTBEAT_S = 1.0
POLL_S = 0.5
SEEN_MS = 20000  # each change must be on the dashboard within this (its poll is 5 s, events at once)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HallServer]:
    """A real hall-server whose devices go offline after STALE_S seconds of silence."""
    yield from seeded_server(
        tmp_path_factory.mktemp("web-health"), {"HALL_DEVICE_STALE_SECONDS": str(STALE_S)}
    )


class KioskProcess:
    """`python -m kiosk.cli --config FILE` (visitor role, offscreen) that can be started and killed."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
        self._out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--config", str(self.config), "--size", "1280x720", "-v"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
        if self._out is not None:
            self._out.close()
            self._out = None


def _alert(page: Any, code: str, text: str) -> Any:
    return page.locator(f'#alerts .alert[data-code="{code}"]', has_text=text)


def test_dashboard_shows_device_faults_and_offline_and_clears_them(
    server: HallServer, browser: Any, tmp_path: Path
) -> None:
    reader = PluggableReader(tmp_path).plug()
    printer = VirtualPrinter("127.0.0.1", 0, out_dir=tmp_path / "printer").start()
    config = tmp_path / "kiosk.json"
    config.write_text(
        json.dumps(
            {
                "role": "visitor",
                "hall": HALL,
                "server": server.base_url,
                "token": server.create_token("kiosk", HALL),
                "device_id": DEVICE,
                "id_reader": reader.url,
                "printer": {"kind": "network", "target": f"127.0.0.1:{printer.port}", "mode": "text"},
                "voice": {"speaker": "none"},
                "data_dir": str(tmp_path / "kiosk-data"),
                "heartbeat_s": HEARTBEAT_S,
                "health_poll_s": POLL_S,
            }
        ),
        encoding="utf-8",
    )
    kiosk = KioskProcess(config, tmp_path / "kiosk.log")
    page = new_page(browser)
    try:
        kiosk.start()
        login(page, server, "m-city")
        page.click(f'#tree a[data-hall="{HALL}"]')
        row = page.locator(f'#devices tr[data-device="{DEVICE}"]')
        row.locator(".device-state", has_text="正常").wait_for(timeout=60000)  # the kiosk starts up
        assert page.locator("#alerts .alert").count() == 0

        printer.paper_low = True  # a warning: amber, and the device still counts as serving
        low = _alert(page, "device.fault", "打印纸将尽")
        low.wait_for(timeout=SEEN_MS)
        assert "critical" not in (low.get_attribute("class") or "")
        row.locator(".device-state", has_text="警告").wait_for(timeout=SEEN_MS)

        reader.unplug()  # the ID-card reader's pseudo-terminal is closed
        lost = _alert(page, "device.fault", "身份证读卡器未连接")
        lost.wait_for(timeout=SEEN_MS)
        assert "critical" in (lost.get_attribute("class") or "")
        row.locator(".device-state", has_text="故障").wait_for(timeout=SEEN_MS)
        page.screenshot(path=str(SHOTS / "web-dashboard-device-alert.png"), full_page=False)

        reader.plug()
        lost.wait_for(state="detached", timeout=SEEN_MS)

        printer.paper_out = True
        out = _alert(page, "device.fault", "打印机缺纸")
        out.wait_for(timeout=SEEN_MS)
        low.wait_for(state="detached", timeout=SEEN_MS)  # paper out replaces paper low
        printer.paper_out = printer.paper_low = False
        out.wait_for(state="detached", timeout=SEEN_MS)
        row.locator(".device-state", has_text="正常").wait_for(timeout=SEEN_MS)
        assert page.locator("#alerts .alert").count() == 0

        kiosk.kill()  # no more heartbeats: offline after STALE_S, seen at the dashboard's next poll
        offline = _alert(page, "device.offline", DEVICE)
        offline.wait_for(timeout=SEEN_MS)
        row.locator(".device-state", has_text="离线").wait_for(timeout=SEEN_MS)

        kiosk.start()  # back: the first heartbeat clears it
        offline.wait_for(state="detached", timeout=60000)
        row.locator(".device-state", has_text="正常").wait_for(timeout=SEEN_MS)
    except Exception:
        print(kiosk.log.read_text(errors="replace")[-4000:] if kiosk.log.exists() else "no kiosk log")
        raise
    finally:
        page.close()
        kiosk.kill()
        printer.stop()
        reader.stop()
