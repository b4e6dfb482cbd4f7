"""What the display says is Mandarin: espeak-ng's phonemes for every announcement show no language switch."""

from __future__ import annotations

import re
import shutil
import string

import pytest

from kiosk import const
from kiosk.voice.announcer import call_announcement
from kiosk.voice.tts import EspeakSynthesizer
from kiosk.voice.words import clip_vocabulary

# espeak-ng marks a switch of language inside its phoneme output as "(en)", "(cmn)", ...
SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z-]+)?\)")
LETTERS = string.ascii_uppercase


@pytest.fixture(scope="module")
def synth() -> EspeakSynthesizer:
    """The synthesizer as the kiosk configures it by default."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: run .ci/install (it installs espeak-ng)")
    return EspeakSynthesizer()


def _assert_mandarin(synth: EspeakSynthesizer, text: str) -> str:
    ph = synth.phonemes(text)
    assert ph, f"espeak-ng says nothing for {text!r}"
    assert not SWITCH.search(ph), f"{text!r} is not read as Mandarin with -v {synth.voice}: {ph}"
    return ph


def test_the_default_voice_is_the_one_that_reads_mandarin(synth: EspeakSynthesizer) -> None:
    assert synth.voice == const.ESPEAK_VOICE
    # 请 is read qing (tS;h'i..N), not the English-rules "(en)kI55NTr'i:55" of the cmn voice.
    assert _assert_mandarin(synth, "请").startswith("tS;h'i")


@pytest.mark.parametrize("letter", LETTERS)
def test_every_ticket_letter_in_a_call_and_a_recall(synth: EspeakSynthesizer, letter: str) -> None:
    for recall in (False, True):
        a = call_announcement(f"{letter}001", 3, recall=recall)
        ph = _assert_mandarin(synth, a.words)
        # The letter is read by its Chinese letter name, the same as the voice pack's clip of it,
        # not swallowed into a neighbouring pinyin syllable.
        alone = _assert_mandarin(synth, letter).rstrip("_| ")
        assert ph.split("_| ")[1] == alone, (letter, ph, alone)


def test_every_digit_of_a_ticket_number(synth: EspeakSynthesizer) -> None:
    ph = _assert_mandarin(synth, call_announcement("A0123456789", 1).words)
    # 请, A, ten digits, 号, 到, 一, 号, 窗口 (two syllables), 办理 (two): every one a Mandarin syllable.
    assert len([s for s in ph.split("_|") if s.strip()]) == 1 + 1 + 10 + 1 + 1 + 1 + 1 + 2 + 2


def test_every_window_number(synth: EspeakSynthesizer) -> None:
    # One test, not 99: each check is one espeak-ng run, and fixture overhead would triple the time.
    wrong = {}
    for window in range(1, 100):
        ph = synth.phonemes(call_announcement("B012", window).words)
        if not ph or SWITCH.search(ph):
            wrong[window] = ph
    assert not wrong, f"window numbers not read as Mandarin: {wrong}"
    _assert_mandarin(synth, call_announcement("B012", 99, recall=True).words)


@pytest.mark.parametrize("word", [w for w in clip_vocabulary() if w != "chime"])
def test_every_word_of_a_voice_pack(synth: EspeakSynthesizer, word: str) -> None:
    # The default pack and the fallback for a missing clip synthesize these one by one.
    _assert_mandarin(synth, word)
