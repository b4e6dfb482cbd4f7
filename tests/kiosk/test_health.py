"""A kiosk reports its hardware's health by itself: reader lost and back, paper low, out and refilled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk import const
from kiosk.config import PrinterSettings
from kiosk.monitor import printer_faults
from printers.status import PrinterStatus
from tests.fixtures.devices import PluggableReader
from tests.kiosk.helpers import HALL, Role, make_config, village_config

WAIT_MS = 20000


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[PluggableReader]:
    """The ID-card reader simulator behind a fixed path."""
    r = PluggableReader(tmp_path).plug()
    yield r
    r.stop()


def _device(kserver: Any, device_id: str) -> dict[str, Any] | None:
    r = requests.get(
        f"{kserver.url}/api/v1/halls/{HALL}/devices",
        headers={"Authorization": f"Bearer {kserver.kiosk_token}"},
        timeout=10,
    )
    r.raise_for_status()
    return next((d for d in r.json() if d["device_id"] == device_id), None)


def _codes(kserver: Any, device_id: str) -> tuple[str, list[str]] | None:
    d = _device(kserver, device_id)
    return (d["status"], sorted(f["code"] for f in d["faults"])) if d else None


def test_visitor_kiosk_reports_reader_and_printer_faults_as_they_come_and_go(
    qtbot: Any, themed_qapp: Any, kserver: Any, reader: PluggableReader, vprinter: Any, tmp_path: Path
) -> None:
    cfg = make_config(
        "visitor",
        kserver.url,
        tmp_path / "kiosk",
        token=kserver.kiosk_token,
        device_id="kiosk-health-1",
        id_reader=reader.url,
        printer=PrinterSettings("network", f"127.0.0.1:{vprinter.port}", "text", 80),
        heartbeat_s=30,  # long: every change below must travel on its own, not wait for a beat
        health_poll_s=0.3,
    )
    role = Role(qtbot, cfg)
    dev = "kiosk-health-1"
    try:

        def shows(status: str, codes: list[str]) -> None:
            qtbot.waitUntil(lambda: _codes(kserver, dev) == (status, codes), timeout=WAIT_MS)

        shows("ok", [])
        vprinter.paper_low = True
        shows("warning", ["printer.paper_low"])  # a warning: the kiosk still prints
        d = _device(kserver, dev)
        assert d and d["faults"][0]["message"].startswith("打印纸将尽")
        vprinter.paper_out = True
        shows("fault", ["printer.paper_out"])
        vprinter.paper_out = vprinter.paper_low = False
        shows("ok", [])
        vprinter.cover_open = True
        shows("fault", ["printer.cover_open"])
        vprinter.cover_open = False
        shows("ok", [])
        reader.unplug()
        shows("fault", ["reader.disconnected"])
        reader.plug()  # the reader re-opens the same port with back-off
        shows("ok", [])
        vprinter.stop()
        shows("fault", ["printer.offline"])
    finally:
        role.close()


def test_printer_status_maps_to_one_fault_each() -> None:
    assert printer_faults(PrinterStatus(answered=True)) == dict.fromkeys(
        ("printer.paper_out", "printer.cover_open", "printer.offline", "printer.paper_low")
    )
    out = printer_faults(PrinterStatus(online=False, paper_low=True, paper_out=True, answered=True))
    assert [c for c, m in out.items() if m] == ["printer.paper_out"]  # not also "low" and "offline"
    low = printer_faults(PrinterStatus(paper_low=True, answered=True))
    assert [c for c, m in low.items() if m] == ["printer.paper_low"]
    off = printer_faults(PrinterStatus(online=False, answered=True))
    assert [c for c, m in off.items() if m] == ["printer.offline"]


def test_display_and_rating_terminal_send_heartbeats_and_the_display_its_voice(
    qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path: Path
) -> None:
    fast = {"heartbeat_s": 30, "health_poll_s": 0.3}
    display = Role(
        qtbot,
        make_config(
            "display",
            kserver.url,
            tmp_path / "d",
            token=kserver.display_token,
            device_id="display-h1",
            **fast,
        ),
    )
    rating = Role(
        qtbot,
        make_config(
            "rating",
            kserver.url,
            tmp_path / "r",
            token=kserver.rating_token(2),
            window_id=kserver.windows[2]["id"],
            device_id="rating-h1",
            **fast,
        ),
    )
    try:
        # Both appear at once (the first heartbeat goes at start, not after heartbeat_s).
        qtbot.waitUntil(lambda: _codes(kserver, "rating-h1") == ("ok", []), timeout=WAIT_MS)
        assert (_device(kserver, "rating-h1") or {}).get("kind") == "rating"
        qtbot.waitUntil(lambda: _codes(kserver, "display-h1") == ("ok", []), timeout=WAIT_MS)
        synth = display.ctx.extras["announcer"].synth
        binary, synth.binary = synth.binary, None  # the speech synthesizer is gone from this machine
        qtbot.waitUntil(lambda: _codes(kserver, "display-h1") == ("fault", ["voice.failed"]), timeout=WAIT_MS)
        d = _device(kserver, "display-h1")
        assert d and "语音播报不可用" in d["faults"][0]["message"]
        synth.binary = binary
        qtbot.waitUntil(lambda: _codes(kserver, "display-h1") == ("ok", []), timeout=WAIT_MS)
    finally:
        display.close()
        rating.close()


def test_a_player_that_fails_is_reported_as_voice_output_failing_and_clears(tmp_path: Path) -> None:
    """The sound player exits with an error (no device, a broken card): the monitor says so, until it plays."""
    import wave

    from kiosk.monitor import voice_fault
    from kiosk.voice.speaker import CommandSpeaker

    clip = tmp_path / "tone.wav"
    with wave.open(str(clip), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x10" * 1600)

    class Voice:
        """What the monitor reads of a display's voice: its synthesizer and its speaker."""

        synth = None

        def __init__(self, speaker: CommandSpeaker) -> None:
            self.speaker = speaker

    broken = CommandSpeaker("false")  # a player that fails on every file
    broken.play(clip.read_bytes())
    fault = voice_fault(Voice(broken))
    assert fault is not None and "false" in fault and fault.startswith(const.FAULT_ZH[const.FAULT_VOICE])
    working = CommandSpeaker("true")  # the same seam with a player that succeeds
    working.last_error = broken.last_error
    working.play(clip.read_bytes())
    assert voice_fault(Voice(working)) is None


def test_a_camera_that_goes_away_is_reported_and_clears(qapp: Any, tmp_path: Path) -> None:
    """The document camera disappears (here: its source file goes); the monitor's look says so, then clears."""
    from types import SimpleNamespace

    import cv2
    import numpy as np

    from kiosk.hardware import Camera
    from kiosk.monitor import DeviceMonitor

    frame = tmp_path / "doc.jpg"
    assert cv2.imwrite(str(frame), np.full((120, 160, 3), 200, dtype=np.uint8))
    machine = SimpleNamespace(
        reader=None,
        printer=None,
        camera=Camera(f"image:{frame}"),
        extras={},
        config=SimpleNamespace(health_poll_s=60),
    )
    monitor = DeviceMonitor(machine)  # type: ignore[arg-type]
    assert monitor.probe()[const.FAULT_CAMERA] is None
    frame.unlink()  # unplugged
    assert monitor.probe()[const.FAULT_CAMERA] == const.FAULT_ZH[const.FAULT_CAMERA]
    assert cv2.imwrite(str(frame), np.full((120, 160, 3), 200, dtype=np.uint8))  # plugged back in
    assert monitor.probe()[const.FAULT_CAMERA] is None


def test_a_village_station_is_one_machine_with_one_heartbeat(
    qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kiosk, clerk and rating share the all-in-one machine: one beat per interval, not three."""
    from kiosk.api import HallClient

    beats: list[str] = []
    real = HallClient.heartbeat

    def counted(self: HallClient, device_id: str, *args: Any, **kw: Any) -> None:
        beats.append(device_id)
        real(self, device_id, *args, **kw)

    monkeypatch.setattr(HallClient, "heartbeat", counted)
    cfg = village_config(
        kserver,
        tmp_path / "vs",
        window=3,
        device_id="village-beat-1",
        heartbeat_s=1,
    )
    role = Role(qtbot, cfg)
    try:
        role.wait_ready(qtbot)
        qtbot.waitUntil(lambda: len(beats) >= 3, timeout=WAIT_MS)
        beats.clear()
        qtbot.wait(3500)
        # About three intervals: three or four beats of the one machine (three screens each
        # beating would give nine or more).
        assert 2 <= len(beats) <= 4, beats
        assert set(beats) == {"village-beat-1"}
        assert _device(kserver, "village-beat-1") is not None
    finally:
        role.close()
