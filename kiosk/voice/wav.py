"""Small helpers on WAV bytes: duration, loudness, building PCM."""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass


@dataclass(frozen=True)
class WavInfo:
    """What a WAV holds."""

    channels: int
    rate: int
    sampwidth: int
    frames: int
    rms: float
    peak: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frames / self.rate if self.rate else 0.0


def wav_info(data: bytes) -> WavInfo:
    """Parse 16-bit PCM WAV bytes and measure loudness (RMS over all samples)."""
    with wave.open(io.BytesIO(data), "rb") as w:
        ch, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError("only 16-bit PCM is supported")
    count = len(raw) // 2
    samples = struct.unpack(f"<{count}h", raw[: count * 2]) if count else ()
    rms = math.sqrt(sum(s * s for s in samples) / count) if count else 0.0
    peak = max((abs(s) for s in samples), default=0)
    return WavInfo(ch, rate, width, count // max(ch, 1), rms, peak)


def pcm_to_wav(samples: list[int], rate: int) -> bytes:
    """Mono 16-bit samples to WAV bytes."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buf.getvalue()


def silence_wav(seconds: float, rate: int = 22050) -> bytes:
    """A silent gap between repeats."""
    return pcm_to_wav([0] * int(seconds * rate), rate)
