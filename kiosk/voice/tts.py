"""Offline Mandarin synthesis through espeak-ng (-v cmn-latn-pinyin), rendered to WAV bytes."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache

from kiosk import const
from kiosk.errors import KioskError

logger = logging.getLogger(__name__)

# espeak-ng 1.51 (Debian 12): "cmn" reads most characters through English rules with the tone digits
# aloud ("请" -> (en)kI55NTr'i:55); "cmn-latn-pinyin" reads the same characters as Mandarin.
BROKEN_VOICES = frozenset({"cmn", "zh", "zh-cmn"})


class SynthesisFailed(KioskError):
    """espeak-ng is missing or failed."""

    code = "voice.synthesis_failed"
    default_zh = "语音合成失败"
    default_en = "Speech synthesis failed"


class EspeakSynthesizer:
    """Renders words to WAV with espeak-ng; results are cached (the same call is often repeated)."""

    def __init__(self, voice: str = const.ESPEAK_VOICE, speed: int = const.ESPEAK_SPEED) -> None:
        self.voice = voice
        self.speed = speed
        self.binary = shutil.which("espeak-ng") or shutil.which("espeak")
        self._render = lru_cache(maxsize=64)(self._render_uncached)
        if voice in BROKEN_VOICES:
            logger.warning(
                "espeak-ng voice %r switches to English on Debian 12; use %r", voice, const.ESPEAK_VOICE
            )

    @property
    def available(self) -> bool:
        """Whether espeak-ng is installed."""
        return self.binary is not None

    def synthesize(self, words: str) -> bytes:
        """WAV bytes of the words spoken in Mandarin."""
        if not self.binary:
            raise SynthesisFailed("未安装 espeak-ng（apt install espeak-ng）", "espeak-ng is not installed")
        return self._render(words)

    def phonemes(self, words: str) -> str:
        """What espeak-ng would say, as its phoneme mnemonics (-x -q: no audio); "(en)" marks a switch."""
        if not self.binary:
            raise SynthesisFailed("未安装 espeak-ng（apt install espeak-ng）", "espeak-ng is not installed")
        proc = subprocess.run(
            [self.binary, "-v", self.voice, "-x", "-q", words],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if proc.returncode != 0:
            raise SynthesisFailed("语音合成失败", f"espeak-ng failed: {proc.stderr[:200]!r}")
        return proc.stdout.strip()

    def _render_uncached(self, words: str) -> bytes:
        # Write to a file, not stdout: on stdout espeak-ng leaves the RIFF sizes unset.
        fd, path = tempfile.mkstemp(suffix=".wav", prefix="kiosk-tts-")
        os.close(fd)
        try:
            proc = subprocess.run(
                [self.binary, "-v", self.voice, "-s", str(self.speed), "-w", path, words],
                capture_output=True,
                timeout=20,
                check=False,
            )
            if proc.returncode != 0:
                raise SynthesisFailed("语音合成失败", f"espeak-ng failed: {proc.stderr[:200]!r}")
            with open(path, "rb") as f:
                return f.read()
        except subprocess.TimeoutExpired as exc:
            raise SynthesisFailed("语音合成超时", "espeak-ng timed out") from exc
        finally:
            os.unlink(path)
