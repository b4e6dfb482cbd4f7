"""The visitor kiosk speaks: 请刷身份证 on the identify step, the ticket and where to go, the idle warning.

What is said is checked as Mandarin (espeak-ng's phonemes switch to no other language), as the hall
display's calls are in test_voice_mandarin.py; the kiosk runs against the shared real server, with
a recording speaker in place of the sound card.
"""

from __future__ import annotations

import re
import shutil
import threading
from typing import Any

import pytest
import requests

from kiosk.config import VoiceSettings
from kiosk.monitor import voice_fault
from kiosk.voice.prompts import identify_prompt, idle_prompt, ticket_prompt
from kiosk.voice.tts import EspeakSynthesizer
from kiosk.voice.wav import wav_info
from tests.kiosk.helpers import Role, make_config

pytestmark = pytest.mark.timeout(240)

SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z-]+)?\)")  # espeak-ng's mark of a change of language


@pytest.fixture(scope="module")
def synth() -> EspeakSynthesizer:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: run .ci/install (it installs espeak-ng)")
    return EspeakSynthesizer()


def assert_mandarin(synth: EspeakSynthesizer, words: str) -> None:
    ph = synth.phonemes(words)
    assert ph, f"espeak-ng says nothing for {words!r}"
    assert not SWITCH.search(ph), f"{words!r} is not read as Mandarin: {ph}"


@pytest.mark.parametrize(
    "prompt",
    [
        identify_prompt(),
        ticket_prompt("A001", [7, 8, 9], 3),
        ticket_prompt("J120", [3, 5, 20, 21, 22], 0),
        ticket_prompt("L099", [60], None),
        ticket_prompt("B010", [], 12),
        idle_prompt(10),
        idle_prompt(10, elderly_off=True),
    ],
    ids=lambda p: p.text,
)
def test_every_prompt_is_read_as_mandarin(synth: EspeakSynthesizer, prompt: Any) -> None:
    assert_mandarin(synth, prompt.words)


def test_the_ticket_prompt_says_number_windows_and_people_ahead() -> None:
    p = ticket_prompt("A001", [7, 8, 9, 12], 3)
    assert p.text == "您的号码是A001，请到7–9、12号窗口，前面还有3人等候"
    assert "A 零零一 号" in p.words and "七 到 九 和 十二" in p.words and "三 人" in p.words


class FailingSpeaker:
    """A sound player that fails every time (no sound card); notes the threads it was called in."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def play(self, wav: bytes) -> None:
        self.threads.append(threading.current_thread().name)
        raise OSError("no sound card")


def _spoken(v: Any) -> list[str]:
    assert v.voice.wait_idle(60)
    return [a.text for a in v.voice.spoken]


def _cancel(kserver: Any, ticket: Any) -> None:
    r = requests.post(f"{kserver.url}/api/v1/track/{ticket.track_token}/cancel", timeout=30)
    assert r.status_code == 200, r.text


def test_the_kiosk_says_the_id_prompt_and_the_ticket(
    qtbot: Any, themed_qapp: Any, kserver: Any, speaker: Any, synth: EspeakSynthesizer, tmp_path
) -> None:
    role = Role(
        qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token), speaker
    )
    v = role.widget
    issued: list[Any] = []
    try:
        role.wait_ready(qtbot)
        qtbot.waitUntil(lambda: "T-001" in v.service_buttons, timeout=15000)
        v.choose_service(next(s for s in v.services if s.code == "T-001"))
        assert _spoken(v) == ["请刷身份证"]
        assert wav_info(speaker.played[-1][2]).rms > 500  # it was heard, not a silent file
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            v.issue_anonymous()
        t = got.args[0]
        issued.append(t)
        said = v.voice.spoken[-1] if _spoken(v) else None
        assert said is not None and said.text.startswith(f"您的号码是{t.number}，请到")
        assert "号窗口" in said.text and v.t_where.text().removeprefix("请到") in said.text
        assert_mandarin(synth, said.words)
    finally:
        for t in issued:
            _cancel(kserver, t)
        role.close()


def test_elderly_mode_speaks_when_prompts_are_off_and_stays_until_the_visit_ends(
    qtbot: Any, themed_qapp: Any, kserver: Any, speaker: Any, tmp_path
) -> None:
    voice = VoiceSettings(speaker="none", prompts=False)
    cfg = make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token, voice=voice)
    role = Role(qtbot, cfg, speaker)
    v = role.widget
    try:
        role.wait_ready(qtbot)
        qtbot.waitUntil(lambda: "T-001" in v.service_buttons, timeout=15000)
        svc = next(s for s in v.services if s.code == "T-001")
        v.choose_service(svc)
        assert _spoken(v) == []  # the hall keeps the kiosk quiet for most visitors
        v.go_home()
        v.toggle_elderly()
        v.choose_service(svc)
        assert _spoken(v) == ["请刷身份证"]  # elderly mode always speaks
        # 返回首页 is not the end of the visit: elderly mode stays.
        v.findChild(type(v.anon_btn), "back").click()
        assert v.pages.currentWidget() is v.home and v.elderly
        # Idle: said aloud, elderly mode still on while the visitor can answer; off when the visit ends.
        v.choose_service(svc)
        v.idle_grace.setInterval(200)
        v.idle_timer.setInterval(200)
        v.idle_timer.start()
        qtbot.waitUntil(lambda: "秒后返回首页" in v.message.text(), timeout=5000)
        assert v.elderly and v.pages.currentWidget() is v.identify
        said = _spoken(v)[-1]
        assert said.startswith("长时间无操作") and "长者模式将关闭" in said
        qtbot.waitUntil(lambda: v.pages.currentWidget() is v.home, timeout=10000)
        assert not v.elderly
    finally:
        role.close()


def test_a_failing_sound_player_is_reported_not_fatal(
    qtbot: Any, themed_qapp: Any, kserver: Any, tmp_path
) -> None:
    failing = FailingSpeaker()
    role = Role(
        qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token), failing
    )
    v = role.widget
    issued: list[Any] = []
    try:
        role.wait_ready(qtbot)
        qtbot.waitUntil(lambda: "T-001" in v.service_buttons, timeout=15000)
        v.choose_service(next(s for s in v.services if s.code == "T-001"))
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            v.issue_anonymous()
        issued.append(got.args[0])
        assert v.voice.wait_idle(60)
        assert v.pages.currentWidget() is v.ticket_page  # the visit goes on without voice
        assert failing.threads and threading.main_thread().name not in failing.threads  # off the Qt thread
        fault = voice_fault(v.voice)
        assert fault is not None and "语音播报不可用" in fault
    finally:
        for t in issued:
            _cancel(kserver, t)
        role.close()


def test_the_village_stations_visitor_part_says_the_kiosks_prompts(
    qtbot: Any, themed_qapp: Any, kserver: Any, speaker: Any, synth: EspeakSynthesizer, tmp_path
) -> None:
    win = kserver.windows[2]
    cfg = make_config(
        "village",
        kserver.url,
        tmp_path / "vs",
        token=kserver.kiosk_token,
        tokens={"rating": kserver.rating_token(2)},
        window_id=win["id"],
        username="clerk2",
        password="test-pass-2",
    )
    station = Role(qtbot, cfg, speaker)
    v = station.widget.visitor
    issued: list[Any] = []
    try:
        qtbot.waitUntil(lambda: station.widget.is_ready, timeout=20000)
        qtbot.waitUntil(lambda: "T-001" in v.service_buttons, timeout=15000)
        assert v.voice is not None
        v.choose_service(next(s for s in v.services if s.code == "T-001"))
        assert _spoken(v) == ["请刷身份证"]
        assert wav_info(speaker.played[-1][2]).rms > 500  # heard, not a silent file
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            v.issue_anonymous()
        t = got.args[0]
        issued.append(t)
        said = v.voice.spoken[-1] if _spoken(v) else None
        assert said is not None and said.text.startswith(f"您的号码是{t.number}")
        assert_mandarin(synth, said.words)
    finally:
        for t in issued:
            _cancel(kserver, t)
        station.close()
