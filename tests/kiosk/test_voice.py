"""Offline announcements: espeak-ng Mandarin WAVs, chime first, repeats, queued without overlap."""

from __future__ import annotations

import shutil
import threading

import pytest

from kiosk.voice.announcer import Announcer
from kiosk.voice.chime import chime_wav
from kiosk.voice.wav import wav_info
from kiosk.voice.words import call_words


@pytest.fixture(autouse=True, scope="module")
def _espeak_installed() -> None:
    """The offline voice is a requirement, not an option: .ci/install puts espeak-ng there."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: run .ci/install (it installs espeak-ng)")


def test_words_are_fed_not_raw_strings():
    assert call_words("A001", 3) == "请 A 零零一 号 到 三号窗口 办理"
    assert "十二号窗口" in call_words("B012", 12)


def test_calls_are_chimed_repeated_in_order_and_never_overlap(speaker):
    speaker.play_seconds = 0.05  # playback takes time, so overlapping calls would be caught
    ann = Announcer(speaker, repeats=2, gap_s=0.2)
    threads = [threading.Thread(target=ann.announce_call, args=(f"A00{i}", i)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ann.announce_call("B010", 12)
    assert ann.wait_idle(60)
    ann.close()
    assert speaker.overlaps == 0
    # each call: chime, speech, gap, speech
    assert len(speaker.played) == 12
    for (_s1, e1, _), (s2, _e2, _) in zip(speaker.played, speaker.played[1:], strict=False):
        assert s2 >= e1  # one after the other
    chime = chime_wav()
    speeches = []
    for i in range(0, 12, 4):
        c, s1, gap, s2 = (speaker.played[i + k][2] for k in range(4))
        assert c == chime
        assert s1 == s2  # the repeat is the same announcement
        assert wav_info(gap).rms == 0
        info = wav_info(s1)
        assert info.rms > 500 and info.peak > 5000  # not silence
        assert 1.5 < info.duration_s < 15  # a sentence, not a click or a hang
        speeches.append(s1)
    assert len(set(speeches)) == 3  # three different calls
    assert speeches[2] != speeches[0]
    assert [a.text for a in ann.spoken][-1] == "请B010号到12号窗口办理"


def test_single_repeat_and_no_chime(speaker):
    ann = Announcer(speaker, repeats=1, chime=False)
    ann.announce_call("C003", 1)
    assert ann.wait_idle(30)
    ann.close()
    assert len(speaker.played) == 1
    assert wav_info(speaker.played[0][2]).duration_s > 1.0
