"""Mono 16-bit PCM as numpy arrays: read any 8/16-bit WAV, resample, trim silence, fade, write."""

from __future__ import annotations

import io
import logging
import wave

import numpy as np

logger = logging.getLogger(__name__)

# |sample| below this counts as silence (about -50 dBFS): espeak's and a studio's noise floor are lower.
SILENCE_LEVEL = 100


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """WAV bytes -> (mono int16 samples, rate); stereo is averaged, 8-bit is widened."""
    with wave.open(io.BytesIO(data), "rb") as w:
        ch, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    elif width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    else:
        raise ValueError(f"{width * 8}-bit WAV is not supported (use 16-bit PCM)")
    if ch > 1:
        samples = samples[: len(samples) // ch * ch].reshape(-1, ch).mean(axis=1)
    return np.asarray(samples, dtype=np.int16), rate


def to_wav(samples: np.ndarray, rate: int) -> bytes:
    """Mono int16 samples -> WAV bytes."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return buf.getvalue()


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear-interpolation resampling (speech clips only need the duration and pitch kept)."""
    if rate == target or len(samples) == 0:
        return samples
    n = max(1, round(len(samples) * target / rate))
    x = np.linspace(0, len(samples) - 1, n)
    return np.interp(x, np.arange(len(samples)), samples.astype(np.float64)).round().astype(np.int16)


def trim(samples: np.ndarray, rate: int, keep_ms: float = 10.0) -> np.ndarray:
    """Cut leading and trailing silence, keeping a few ms so a word's onset is not clipped."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_LEVEL)
    if len(loud) == 0:
        return samples[:0]
    keep = int(rate * keep_ms / 1000)
    return samples[max(0, loud[0] - keep) : loud[-1] + 1 + keep]


def fade(samples: np.ndarray, rate: int, ms: float) -> np.ndarray:
    """Raised-cosine fade-in and fade-out, so a join starts and ends at zero (no click)."""
    n = min(int(rate * ms / 1000), len(samples) // 2)
    if n <= 0:
        return samples
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n + 2)[1:-1])
    out = samples.astype(np.float64)
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out.round().astype(np.int16)


def silence(rate: int, ms: float) -> np.ndarray:
    """A pause of the given length."""
    return np.zeros(int(rate * ms / 1000), dtype=np.int16)


def longest_silence_ms(samples: np.ndarray, rate: int) -> float:
    """The longest run of near-silent samples, in ms (what a listener hears as a gap)."""
    quiet = np.abs(samples.astype(np.int32)) <= SILENCE_LEVEL
    if not quiet.any():
        return 0.0
    # Run lengths of True: positions where quiet starts and ends.
    edges = np.diff(np.concatenate(([0], quiet.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return float((ends - starts).max()) * 1000 / rate
