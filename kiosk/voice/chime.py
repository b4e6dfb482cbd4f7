"""The ding-dong before an announcement, generated with the wave module (no shipped binary)."""

from __future__ import annotations

import math
from functools import lru_cache

from kiosk.voice.wav import pcm_to_wav

CHIME_RATE = 22050
# Two falling tones (E6 then C6), each with a soft attack and an exponential decay like a bell.
_TONES = ((1318.5, 0.45), (1046.5, 0.75))


@lru_cache(maxsize=1)
def chime_wav() -> bytes:
    """WAV bytes of the chime (about 1.2 s)."""
    samples: list[int] = []
    for freq, length in _TONES:
        n = int(length * CHIME_RATE)
        for i in range(n):
            t = i / CHIME_RATE
            env = min(1.0, t / 0.01) * math.exp(-3.5 * t)
            v = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(2 * math.pi * 2 * freq * t)
            samples.append(int(9000 * env * v))
    return pcm_to_wav(samples, CHIME_RATE)
