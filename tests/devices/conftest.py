"""Fixtures for the device tests: a reader simulator on a real pty and the real driver on its port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devices.idcard.serial_reader import SamSerialReader
from devices.sim.idcard import IdCardSimulator

# Fast polling and short timeouts keep the suite quick; production uses 0.3 s / 1 s / 3 s.
POLL = 0.02
TIMEOUT = 0.4
READ_TIMEOUT = 0.8


@pytest.fixture
def sim() -> Iterator[IdCardSimulator]:
    """A running ID-card reader simulator."""
    simulator = IdCardSimulator().start()
    try:
        yield simulator
    finally:
        simulator.stop()


def make_reader(port: str, **kw: object) -> SamSerialReader:
    """The real driver on `port` with test timings."""
    opts: dict[str, object] = {"timeout": TIMEOUT, "read_timeout": READ_TIMEOUT, "poll_interval": POLL}
    opts.update(kw)
    return SamSerialReader(port, **opts)  # type: ignore[arg-type]


@pytest.fixture
def reader(sim: IdCardSimulator) -> Iterator[SamSerialReader]:
    """The real SAM serial driver, opened with pyserial on the simulator's pty."""
    r = make_reader(sim.port)
    r.open()
    try:
        yield r
    finally:
        r.close()
