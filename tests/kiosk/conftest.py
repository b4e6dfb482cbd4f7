"""Fixtures of the kiosk tests: one real hall server per module, simulators, a recording speaker."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import SMALL_SEED, HallServer, hall_servers

HALL = "t-hall"


@pytest.fixture(autouse=True)
def _collect_on_the_qt_thread() -> Iterator[None]:
    """No cyclic collection in a worker thread during a Qt test (it could free a widget off the
    Qt thread and crash): collection is off during the test and runs here, on the main thread."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()


@dataclass
class KioskServer:
    """The real hall server of a test module with the device tokens the roles need."""

    server: HallServer
    kiosk_token: str
    display_token: str
    windows: dict[int, dict[str, Any]]  # window number -> Window
    _rating: dict[int, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.base_url

    def rating_token(self, window_number: int) -> str:
        """A rating-device token bound to the window (made on first use: each CLI call costs seconds)."""
        if window_number not in self._rating:
            wid = self.windows[window_number]["id"]
            self._rating[window_number] = self.server.create_token("rating", HALL, wid)
        return self._rating[window_number]


def start_kserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskServer]:
    """hall-server on SQLite with the small seed hall (t-hall: groups A, B; windows 1-4)."""
    data = tmp_path_factory.mktemp("hall")
    with hall_servers() as factory:
        srv = factory(sqlite_url(data), data / "data", seed_file=SMALL_SEED)
        kiosk = srv.create_token("kiosk", HALL)
        display = srv.create_token("display", HALL)
        hall = srv.hall(HALL, kiosk)
        windows = {w["number"]: w for w in hall["windows"]}
        yield KioskServer(srv, kiosk, display, windows)


@pytest.fixture(scope="module")
def kserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskServer]:
    """One server per kiosk test file: a file's tests share it, and no file sees what another
    left behind (under xdist the files meet on a worker in no fixed order)."""
    yield from start_kserver(tmp_path_factory)


@dataclass
class RecordingSpeaker:
    """A byte-level fake speaker: keeps every WAV it is given, with start/end times; flags overlaps."""

    play_seconds: float = 0.0
    played: list[tuple[float, float, bytes]] = field(default_factory=list)
    overlaps: int = 0
    _busy: threading.Lock = field(default_factory=threading.Lock)

    def play(self, wav: bytes) -> None:
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            self._busy.acquire()
        try:
            start = time.monotonic()
            if self.play_seconds:
                time.sleep(self.play_seconds)
            self.played.append((start, time.monotonic(), wav))
        finally:
            self._busy.release()


@pytest.fixture
def speaker() -> RecordingSpeaker:
    return RecordingSpeaker()


@pytest.fixture
def themed_qapp(qapp: Any) -> Any:
    """The pytest-qt application with the kiosk's fonts and style."""
    from kiosk.ui.theme import apply_theme

    apply_theme(qapp)
    return qapp


@pytest.fixture
def id_sim() -> Iterator[Any]:
    """The ID card reader simulator on a pty."""
    from devices.sim.idcard import IdCardSimulator

    sim = IdCardSimulator().start()
    yield sim
    sim.stop()


@pytest.fixture
def vprinter(tmp_path: Path) -> Iterator[Any]:
    """The virtual TCP receipt printer writing PNGs to tmp_path/printer."""
    from printers.virtual.server import VirtualPrinter

    p = VirtualPrinter("127.0.0.1", 0, out_dir=tmp_path / "printer").start()
    yield p
    p.stop()
