"""`hall-sim` run as a real process: the pty reader simulator and the delegated subcommands (its vpcd
card is read in test_idcard_pcsc.py, the one file that uses the machine's pcscd)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.errors import ReaderDisconnected
from devices.sim import cli
from tests.devices.conftest import make_reader


def _hall_sim() -> list[str]:
    script = Path(sys.executable).parent / "hall-sim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "devices.sim.cli"]


def _readline(proc: subprocess.Popen[str], timeout: float = 10.0) -> str:
    """One stdout line, failing (not hanging) if the process says nothing."""
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    t.start()
    t.join(timeout)
    if not box:
        raise AssertionError("hall-sim printed nothing in time")
    return box[0].strip()


@contextlib.contextmanager
def hall_sim(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`hall-sim ARGS` as a real process with text pipes, killed and reaped when the block ends."""
    proc = subprocess.Popen(
        [*_hall_sim(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()


@pytest.fixture
def idcard_proc() -> Iterator[subprocess.Popen[str]]:
    with hall_sim("idcard", "--card", "hmt") as proc:
        yield proc


def _send(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def test_hall_sim_idcard_serves_a_pty_driven_from_stdin(idcard_proc: subprocess.Popen[str]) -> None:
    port = _readline(idcard_proc)
    assert port.startswith("/dev/pts/")
    assert "身份证阅读器模拟器已启动" in _readline(idcard_proc)
    with make_reader(port) as r:
        assert r.wait_for_card(3.0)
        assert r.read().travel_permit_number == "H60123456"
        _send(idcard_proc, "remove")
        assert "证件已移开" in _readline(idcard_proc)
        _send(idcard_proc, "place elderly")
        assert "elderly" in _readline(idcard_proc)
        assert r.wait_for_card(3.0)
        assert r.read().name == "陈桂兰"
        _send(idcard_proc, "place martian")
        _send(idcard_proc, "unplug")
        assert "阅读器已拔出" in _readline(idcard_proc)
        with pytest.raises(ReaderDisconnected):
            r.wait_for_card(2.0)
    _send(idcard_proc, "quit")
    assert idcard_proc.wait(timeout=10) == 0
    assert "martian" in idcard_proc.stderr.read()  # type: ignore[union-attr]


def test_hall_sim_idcard_runs_a_script(tmp_path: Path) -> None:
    script = tmp_path / "session.txt"
    script.write_text("# a visitor\nplace rare\nstatus\nquit\n", encoding="utf-8")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stdout", out)
        assert cli.main(["idcard", "--script", str(script)], stdin=io.StringIO("")) == 0
    text = out.getvalue()
    assert "已放置证件：rare" in text and "有卡：True" in text


def test_printer_subcommand_is_delegated() -> None:
    done = subprocess.run([*_hall_sim(), "printer", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "hall-sim printer" in done.stdout


def test_a_missing_delegate_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.DELEGATES, "camera", "devices.no_such_camera_module")
    assert cli.main(["camera", "--help"]) == 2
    assert "不可用" in capsys.readouterr().err
