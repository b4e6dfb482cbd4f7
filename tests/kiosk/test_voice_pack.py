"""Voice packs: a folder of word clips is joined into calls without gaps or clicks; missing words are synthesized."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.app import make_announcer
from kiosk.cli import main as kiosk_main
from kiosk.config import KioskConfig, VoiceSettings
from kiosk.voice import pcm
from kiosk.voice.announcer import Announcer, call_announcement
from kiosk.voice.pack import PACK_FILE, VoicePack
from kiosk.voice.wav import wav_info
from kiosk.voice.words import clip_vocabulary

# Clips built from espeak-ng keep this much of their own edge silence (pcm.trim's keep_ms) on each side.
EDGE_MS = 10.0


@pytest.fixture(scope="module")
def built_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default pack made by the real command, `hall-kiosk voice-pack build DIR`."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: run .ci/install (it installs espeak-ng)")
    folder = tmp_path_factory.mktemp("pack") / "default"
    assert kiosk_main(["voice-pack", "build", str(folder)]) == 0
    return folder


@pytest.fixture
def pack_dir(built_pack: Path, tmp_path: Path) -> Path:
    """A private copy a test may change (drop clips, edit pack.json)."""
    return Path(shutil.copytree(built_pack, tmp_path / "pack"))


def _frames(path: Path) -> int:
    return wav_info(path.read_bytes()).frames


def _speech(a_phrases: tuple[tuple[str, ...], ...]) -> list[tuple[str, ...]]:
    return [p for p in a_phrases if p != ("chime",)]


def test_build_writes_every_word_once_and_is_idempotent(
    built_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = {p.name for p in built_pack.iterdir()}
    assert names == {f"{w}.wav" for w in clip_vocabulary()} | {PACK_FILE}
    formats = {
        (i.channels, i.sampwidth, i.rate)
        for i in (wav_info(p.read_bytes()) for p in built_pack.glob("*.wav"))
    }
    assert formats == {(1, 2, json.loads((built_pack / PACK_FILE).read_text())["rate"])}
    before = {p.name: p.stat().st_mtime_ns for p in built_pack.iterdir()}
    capsys.readouterr()
    assert kiosk_main(["voice-pack", "build", str(built_pack)]) == 0
    assert "0 clips written" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in built_pack.iterdir()} == before


def test_a_call_from_a_pack_is_the_clips_joined_with_the_packs_pauses(pack_dir: Path) -> None:
    pack = VoicePack(pack_dir)
    s = pack.settings
    a = call_announcement("A012", 12)
    phrases = _speech(a.phrases)
    wav = pack.render(phrases)
    info = wav_info(wav)
    assert (info.channels, info.sampwidth, info.rate) == (1, 2, s.rate)  # one sample format

    words = [w for p in phrases for w in p]
    gaps = sum(len(p) - 1 for p in phrases) * s.word_gap_ms + (len(phrases) - 1) * s.phrase_gap_ms
    expected = sum(_frames(pack_dir / f"{w}.wav") for w in words) + int(s.rate * gaps / 1000)
    assert abs(info.frames - expected) <= len(words), (info.frames, expected)

    samples, rate = pcm.read_wav(wav)
    longest = pcm.longest_silence_ms(samples, rate)
    # The phrase pauses are heard, and no gap is longer than the pack's own pause (plus the clips' edges).
    assert s.phrase_gap_ms <= longest <= s.phrase_gap_ms + 2 * EDGE_MS + 5, longest


def test_clips_cut_mid_sound_are_faded_at_every_join(pack_dir: Path) -> None:
    # A hall's recordings may be cut while the voice still sounds: each join must still not click.
    for word in ("号", "到"):
        samples, rate = pcm.read_wav((pack_dir / f"{word}.wav").read_bytes())
        mag, quarter = np.abs(samples.astype(np.int32)), len(samples) // 4
        # Cut at the loudest sample of the first and of the last quarter: mid-sound, far from zero.
        start, end = int(mag[:quarter].argmax()), 3 * quarter + int(mag[3 * quarter :].argmax())
        cut = samples[start : end + 1]
        assert min(abs(int(cut[0])), abs(int(cut[-1]))) > pcm.SILENCE_LEVEL  # the cut really is loud
        (pack_dir / f"{word}.wav").write_bytes(pcm.to_wav(cut, rate))
    pack = VoicePack(pack_dir)
    samples, rate = pcm.read_wav(pack.render([["号", "到"], ["号"]]))
    gap_frames = int(rate * pack.settings.word_gap_ms / 1000)
    zero = np.concatenate(([0], (samples == 0).astype(np.int8), [0]))
    starts, ends = np.flatnonzero(np.diff(zero) == 1), np.flatnonzero(np.diff(zero) == -1)
    pauses = [(a, b) for a, b in zip(starts, ends, strict=True) if b - a >= gap_frames]
    assert len(pauses) == 2  # the word gap and the phrase gap
    edge = max(1, rate // 1000)  # the first and last millisecond of sound around every pause and the ends
    bounds = [samples[:edge], samples[-edge:]]
    for a, b in pauses:
        bounds += [samples[a - edge : a], samples[b : b + edge]]
    peak = int(np.abs(samples.astype(np.int32)).max())
    assert all(int(np.abs(x.astype(np.int32)).max()) < peak // 10 for x in bounds), "a join clicks"


def test_the_packs_pauses_and_rate_are_the_packs_own(pack_dir: Path) -> None:
    meta = json.loads((pack_dir / PACK_FILE).read_text())
    meta.update(rate=16000, phrase_gap_ms=400, word_gap_ms=0)
    (pack_dir / PACK_FILE).write_text(json.dumps(meta))
    wav = VoicePack(pack_dir).render(_speech(call_announcement("C003", 5).phrases))
    samples, rate = pcm.read_wav(wav)
    assert rate == 16000
    assert 400 <= pcm.longest_silence_ms(samples, rate) <= 400 + 2 * EDGE_MS + 5


def test_a_recorded_clip_in_another_format_is_brought_to_the_packs(pack_dir: Path) -> None:
    # A hall re-records 请 in 44.1 kHz stereo: it plays at the pack's rate, at its own length.
    qing, rate = pcm.read_wav((pack_dir / "请.wav").read_bytes())
    hi = pcm.resample(qing, rate, 44100)
    stereo = np.repeat(hi, 2)
    import wave

    with wave.open(str(pack_dir / "请.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(stereo.astype("<i2").tobytes())
    pack = VoicePack(pack_dir)
    out = wav_info(pack.render([["请"]]))
    assert (out.channels, out.rate) == (1, pack.rate)
    assert abs(out.duration_s - len(qing) / rate) < 0.01


def test_a_missing_clip_is_synthesized_for_that_word_only(pack_dir: Path) -> None:
    full = VoicePack(pack_dir)
    phrases = _speech(call_announcement("B007", 3).phrases)
    with_clip = wav_info(full.render(phrases))
    (pack_dir / "窗口.wav").unlink()
    (pack_dir / "B.wav").unlink()
    partial = VoicePack(pack_dir)
    assert not partial.has("窗口") and partial.has("请")
    fallback = wav_info(partial.render(phrases))
    assert fallback.rate == with_clip.rate
    # The words are still said (synthesized the way the default pack made them), not skipped.
    assert abs(fallback.duration_s - with_clip.duration_s) < 0.05
    skipped = wav_info(partial.render([[w for w in p if w not in ("窗口", "B")] for p in phrases]))
    assert fallback.duration_s - skipped.duration_s > 0.5


def test_the_display_announces_from_the_configured_pack(pack_dir: Path, speaker) -> None:
    cfg = KioskConfig(role="display", voice=VoiceSettings(pack=str(pack_dir), repeats=2, speaker="none"))
    ann = make_announcer(cfg, speaker)
    assert isinstance(ann, Announcer) and ann.pack is not None
    a = ann.announce_call("A001", 3, recall=True)
    assert ann.wait_idle(60)
    ann.close()
    assert a.text == "请A001号再次到3号窗口办理" and "再次" in a.clips
    chime, first, gap, second = (p[2] for p in speaker.played)
    assert chime == ann.pack.render([["chime"]])
    assert first == second == ann.pack.render(_speech(a.phrases))
    assert wav_info(gap).rms == 0


def test_no_pack_configured_means_synthesis(speaker) -> None:
    ann = make_announcer(KioskConfig(role="display", voice=VoiceSettings(pack="", speaker="none")), speaker)
    assert ann is not None and ann.pack is None
    ann.close()
