"""The README's demo, headless, for real: `python -m kiosk.demo` plays a visitor through, writes its
output, prints a guide a newcomer can follow, and keeps the server up until Ctrl-C."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from kiosk import const
from kiosk.cli import build_parser
from kiosk.demo import join_wavs, voice_file_stem
from kiosk.voice.wav import pcm_to_wav, silence_wav, wav_info

ROOT = Path(__file__).resolve().parents[2]


def test_voice_file_named_by_what_it_says() -> None:
    assert voice_file_stem("请A005号到1号窗口办理") == "call-A005-window-1"
    assert voice_file_stem("请 保持安静/谢谢") == "请-保持安静-谢谢"
    assert voice_file_stem("///") == "announcement"


def test_join_wavs_makes_one_file_at_the_highest_rate() -> None:
    tone = pcm_to_wav([8000, -8000] * 8000, 16000)  # 1 s at 16 kHz
    info = wav_info(join_wavs([tone, silence_wav(0.6, 22050), tone]))
    assert info.rate == 22050 and info.channels == 1
    assert info.duration_s == pytest.approx(2.6, abs=0.01)


@pytest.mark.slow
def test_demo_play_through_and_guide(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.demo", "--dir", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "Ctrl-C" in line:
                break
        banner = "\n".join(lines)
        assert "Ctrl-C" in banner, banner

        # The phone page of the demo's own ticket, and it is that ticket.
        m = re.search(r"Demo ticket: (\w+)\s+手机查看 phone page: (http://\S+/t/(\S+))", banner)
        assert m, banner
        number, track_url, track_token = m.groups()
        server = track_url.split("/t/")[0]
        assert requests.get(track_url, timeout=10).status_code == 200
        tracked = requests.get(f"{server}{const.API_PATH}/track/{track_token}", timeout=10).json()
        assert tracked["number"] == number

        # A hall-kiosk command per role, each parsing to that role on this server.
        commands = {}
        for role in const.ROLES:
            cm = re.search(rf"^\s+\[{role}\] (.*hall-kiosk .*)$", banner, re.M)
            assert cm, f"no command for {role}:\n{banner}"
            argv = shlex.split(cm.group(1))
            args = build_parser().parse_args(argv[1:])
            assert (args.role, args.server) == (role, server)
            assert args.hall
            commands[role] = argv
        # ... and one really opens (the village station: kiosk, clerk and rating tokens all used).
        argv = commands["village"]
        shot = tmp_path / "village.png"
        run = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", *argv[1:], "--screenshot", str(shot), "--page", "rating"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert shot.stat().st_size > 10_000

        # The printed ticket is the one the demo issued, named by its number.
        assert sorted(p.name for p in (out / "printer").glob("*.png")) == [f"ticket-{number}.png"]
        # Screens were shot after the play-through.
        assert (out / "screenshots" / "visitor-ticket.png").exists()
        # Voice: one file per announcement, named by what it says, none short or silent.
        voice = sorted((out / "voice").glob("*.wav"))
        assert any(p.name.startswith(f"call-{number}-window-") for p in voice), [p.name for p in voice]
        for p in voice:
            info = wav_info(p.read_bytes())
            assert info.duration_s >= 1.0, (p.name, info)
            assert info.rms > 200, (p.name, info)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    assert proc.returncode == 0
